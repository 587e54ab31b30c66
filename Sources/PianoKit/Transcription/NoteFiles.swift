import Foundation

/// Note lists on disk: MAPS txt or Standard MIDI, read as references and written as results.
public enum NoteFiles {
    /// Largest note file read.
    public static let sizeLimit = 64 << 20

    /// Reads the notes of a MAPS txt (`.txt`) or a Standard MIDI File (`.mid`, `.midi`; sustain pedal applied).
    public static func read(path: String) throws -> [Note] {
        switch (path as NSString).pathExtension.lowercased() {
        case "txt":
            return try MAPSNoteList.read(path: path, limit: sizeLimit)
        case "mid", "midi":
            return try readMIDI(path: path, sustain: true)
        default:
            throw FileError(path, "not a note list: expected a .txt (MAPS) or .mid file")
        }
    }

    /// The sounding notes of a Standard MIDI File; with `sustain`, pedal-held notes last until the pedal lifts.
    ///
    /// `warn` hears `path: ...` lines about what the reader tolerated (system messages inside a
    /// track, running status across a meta event); with `strict` those are errors.
    public static func readMIDI(path: String, sustain: Bool, strict: Bool = false, warn: (String) -> Void = { _ in }) throws -> [Note] {
        let bytes = try Paths.readBytes(path, limit: sizeLimit)
        do {
            return MIDIPerformance(try MIDIReader.parse(bytes, strict: strict) { warn("\(path): \($0)") }).notes(sustain: sustain)
        } catch {
            throw FileError.wrap(error, path: path)
        }
    }

    /// Ticks per quarter note of written MIDI files; at 120 beats per minute one tick is 1/1920 s.
    public static let ticksPerQuarter = 960
    /// Tempo of written MIDI files, microseconds per quarter note.
    public static let tempo = 500_000
    /// Velocity of notes that carry none.
    public static let defaultVelocity = 80

    /// A format-0 Standard MIDI File of `notes` on channel 1 (acoustic grand piano), times rounded to ticks.
    public static func midiFile(_ notes: [Note], name: String) -> MIDIFile {
        let ticksPerSecond = Double(ticksPerQuarter) * 1e6 / Double(tempo)
        func tick(_ seconds: Double) -> Int { Int((seconds * ticksPerSecond).rounded()) }
        var events: [(tick: Int, order: Int, event: MIDIEvent)] = [
            (0, 0, .meta(type: 0x03, data: Array(name.utf8.prefix(127)))),
            (0, 0, .tempo(microsecondsPerQuarter: tempo)),
            (0, 0, .programChange(channel: 0, program: 0)),
        ]
        for note in notes where (0 ... 127).contains(note.pitch) {
            let on = tick(note.onset), off = max(on + 1, tick(note.offset))
            let velocity = UInt8(clamping: note.velocity ?? defaultVelocity)
            // At one tick note-offs go first, so a repeated key is released before it is struck again.
            events.append((off, 1, .noteOff(channel: 0, key: UInt8(note.pitch), velocity: 64)))
            events.append((on, 2, .noteOn(channel: 0, key: UInt8(note.pitch), velocity: max(1, velocity))))
        }
        let ordered = events.enumerated().sorted { ($0.element.tick, $0.element.order, $0.offset) < ($1.element.tick, $1.element.order, $1.offset) }
        let track = MIDITrack(events: ordered.map { TimedEvent(tick: $0.element.tick, $0.element.event) })
        return MIDIFile(format: 0, division: .ticksPerQuarter(ticksPerQuarter), tracks: [track])
    }
}
