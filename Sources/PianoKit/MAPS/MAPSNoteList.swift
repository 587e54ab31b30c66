import Foundation

/// MAPS's note-list text format: a header `OnsetTime\tOffsetTime\tMidiPitch`, then one note a line.
///
/// The reader tolerates what real MAPS files contain: CR/LF line ends, blank lines and trailing
/// spaces. Any other malformed line is an error naming its line number.
public enum MAPSNoteList {
    /// The header line.
    public static let header = "OnsetTime\tOffsetTime\tMidiPitch"
    /// The latest time a note list may give, in seconds (about 11.6 days).
    public static let maximumTime = 1e6

    /// Parses the text of a note list. Errors carry the 1-based line number.
    public static func parse(_ text: String, path: String) throws -> [Note] {
        var notes: [Note] = []
        var sawHeader = false
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {  // "\r\n" is one Character in Swift
            lineNumber += 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            if !sawHeader {
                sawHeader = true
                let names = line.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
                if names == ["onsettime", "offsettime", "midipitch"] { continue }
                if Double(names.first ?? "") == nil {
                    throw FileError(path, line: lineNumber, "expected the header 'OnsetTime<TAB>OffsetTime<TAB>MidiPitch', found '\(line.prefix(60))'")
                }
            }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count == 3 else {
                throw FileError(path, line: lineNumber, "expected 3 tab-separated fields (onset, offset, pitch), found \(fields.count)")
            }
            guard let onset = Double(fields[0]), onset.isFinite, onset >= 0 else {
                throw FileError(path, line: lineNumber, "onset '\(fields[0])' is not a non-negative number of seconds")
            }
            guard let offset = Double(fields[1]), offset.isFinite else {
                throw FileError(path, line: lineNumber, "offset '\(fields[1])' is not a number of seconds")
            }
            guard offset >= onset else {
                throw FileError(path, line: lineNumber, "offset \(fields[1]) is before onset \(fields[0])")
            }
            guard offset <= maximumTime else {  // and so is the onset; later stages turn times into step numbers
                throw FileError(path, line: lineNumber, "offset \(fields[1]) is more than \(Int(maximumTime)) seconds, longer than any recording")
            }
            guard let pitch = Int(fields[2]), (0 ... 127).contains(pitch) else {
                throw FileError(path, line: lineNumber, "pitch '\(fields[2])' is not a MIDI note number 0-127")
            }
            notes.append(Note(onset: onset, offset: offset, pitch: pitch))
        }
        guard sawHeader else { throw FileError(path, "empty note list (not even a header)") }
        return notes.sorted(by: Note.byOnset)
    }

    /// Reads and parses a note-list file, refusing one larger than `limit` bytes before reading it.
    public static func read(path: String, limit: Int = 64 << 20) throws -> [Note] {
        let data = Data(try Paths.readBytes(path, limit: limit))
        guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
            throw FileError(path, "not text")
        }
        return try parse(text, path: path)
    }

    /// Formats notes as a MAPS note list, times with 6 decimals, sorted by onset.
    public static func format(_ notes: [Note]) -> String {
        var text = header + "\n"
        for note in notes.sorted(by: Note.byOnset) {
            text += String(format: "%.6f\t%.6f\t%d\n", note.onset, note.offset, note.pitch)
        }
        return text
    }
}
