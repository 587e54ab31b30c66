import Foundation

/// Which note source a note map takes its notes from.
public enum NotesSource: String, Sendable, CaseIterable, Codable {
    /// The MIDI file when there is one (it has velocities), else the txt.
    case auto
    /// The MIDI file; a recording without one fails.
    case mid
    /// The MAPS txt; a recording without one fails.
    case txt
}

/// The settings of an `ingest` run.
public struct IngestOptions: Sendable, Equatable {
    /// The time grid's rate in Hz (the front end's): the note map records it beside the audio's own
    /// rate, and `spectro` resamples the audio to it before the transform.
    public var sampleRate = 44100
    /// Samples between steps of the time grid, at `sampleRate`.
    public var hop = 512
    /// Whether CC64 sustain lengthens MIDI notes (MAPS's txt always includes it).
    public var sustainPedal = true
    /// Where the notes come from.
    public var notesFrom = NotesSource.auto
    /// Cross-check onset tolerance in seconds.
    public var onsetTolerance = 0.01
    /// Cross-check offset tolerance in seconds.
    public var offsetTolerance = 0.01
    /// Whether a txt/MIDI disagreement, or a MIDI file the reader only accepts with a warning
    /// (system messages inside a track, running status across a meta event), fails the recording.
    public var strict = false

    /// Default settings.
    public init() {}
}

/// Builds a recording's note map: reads the audio file's header, the note sources and the MAPS name,
/// cross-checks txt against MIDI, and labels every step.
public enum NoteMapBuilder {
    /// Note lists larger than this are refused before they are read.
    public static let textSizeLimit = 64 << 20

    /// The path of `recording`'s note map in `directory`.
    public static func outputPath(for recording: Recording, in directory: String) -> String {
        directory + "/" + recording.stem + NoteMap.fileSuffix
    }

    /// Builds the note map; `warn` hears about txt/MIDI disagreements and tolerated MIDI oddities.
    public static func build(_ recording: Recording, options: IngestOptions, outputDirectory: String, warn: (String) -> Void = { _ in }) throws -> NoteMap {
        let audio = try SoundFileReader(path: recording.wav).info
        guard audio.frames > 0 else { throw FileError(recording.wav, "zero-length audio: no sample frames to label") }
        do { try Resampler.check(audio.sampleRate) } catch { throw FileError.wrap(error, path: recording.wav) }
        // Only the header is read here, and the labels are sized by its frame count: a damaged one
        // (a FLAC's total-samples field) can claim billions. Even lossless coding of silence needs
        // a byte per few hundred frames, so more than 4096 frames a byte is a lie.
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: recording.wav))?[.size] as? Int) ?? 0
        guard audio.frames / 4096 <= bytes else {
            throw FileError(recording.wav, "the header declares \(audio.frames) frames, more than a \(bytes)-byte file can hold")
        }
        let midNotes = try recording.mid.map {
            try NoteFiles.readMIDI(path: $0, sustain: options.sustainPedal, strict: options.strict) { warn("warning: " + $0) }
        }
        let txtNotes = try recording.txt.map { try MAPSNoteList.read(path: $0, limit: textSizeLimit) }
        let notes: [Note], source: String
        switch (options.notesFrom, midNotes, txtNotes) {
        case (.auto, let mid?, _), (.mid, let mid?, _): (notes, source) = (mid, "mid")
        case (.auto, nil, let txt?), (.txt, _, let txt?): (notes, source) = (txt, "txt")
        case (.mid, nil, _): throw FileError(recording.wav, "--notes-from mid, but there is no .mid beside it")
        default: throw FileError(recording.wav, "--notes-from txt, but there is no .txt beside it")
        }
        var crossCheck: CrossCheck?
        if let mid = midNotes, let txt = txtNotes {
            let check = CrossCheck(txt: txt, mid: mid, onsetTolerance: options.onsetTolerance, offsetTolerance: options.offsetTolerance)
            if !check.agree {
                let message = "\(recording.mid!): \(check.summary)"
                if options.strict { throw FileError(recording.mid!, check.summary) }
                warn("warning: " + message)
            }
            crossCheck = check
        }
        // The grid is the front end's: `spectro` resamples the audio to `options.sampleRate` (into
        // `Resampler.outputLength` samples) before the transform, so steps are counted on that length.
        let grid = TimeGrid(sampleRate: options.sampleRate, hop: options.hop)
        let steps = grid.stepCount(frames: Resampler.outputLength(frames: audio.frames, from: audio.sampleRate, to: options.sampleRate))
        let relative = { (path: String) in Paths.relative(path, from: outputDirectory) }
        return NoteMap(
            format: NoteMap.formatName, version: NoteMap.currentVersion, stem: recording.stem,
            maps: MAPSName(stem: recording.stem),
            sources: .init(wav: relative(recording.wav), mid: recording.mid.map(relative), txt: recording.txt.map(relative)),
            audio: audio, sampleRate: options.sampleRate, hop: options.hop, steps: steps, notesFrom: source, sustainPedal: options.sustainPedal,
            notes: notes, crossCheck: crossCheck, labels: StepLabels(notes: notes, grid: grid, steps: steps))
    }

    /// The settings of `existing` that differ from `options`, in words (`hop 256 → 512`).
    public static func settingsDifferences(_ existing: NoteMap, options: IngestOptions) -> [String] {
        var differences: [String] = []
        func compare<T: Equatable>(_ name: String, _ old: T, _ new: T) { if old != new { differences.append("\(name) \(old) → \(new)") } }
        compare("sampleRate", existing.sampleRate, options.sampleRate)
        compare("hop", existing.hop, options.hop)
        compare("sustainPedal", existing.sustainPedal, options.sustainPedal)
        if let check = existing.crossCheck {
            compare("onsetTolerance", check.onsetTolerance, options.onsetTolerance)
            compare("offsetTolerance", check.offsetTolerance, options.offsetTolerance)
        }
        return differences
    }

    /// Whether the note map at `path` is newer than the recording's files and was made with the same settings.
    public static func isUpToDate(_ path: String, recording: Recording, options: IngestOptions) -> Bool {
        guard Paths.isNewer(path, than: recording.files), let existing = try? NoteMap.read(path: path) else { return false }
        let expectedSource: String? = switch options.notesFrom {
        case .auto: recording.mid != nil ? "mid" : "txt"
        case .mid: "mid"
        case .txt: "txt"
        }
        // The same files: a note map of `piece.flac` is not one of `piece.mp3` made later beside it.
        let relative = { (file: String) in Paths.relative(file, from: (path as NSString).deletingLastPathComponent) }
        let sources = NoteMap.Sources(wav: relative(recording.wav), mid: recording.mid.map(relative), txt: recording.txt.map(relative))
        return existing.version == NoteMap.currentVersion && existing.sampleRate == options.sampleRate && existing.sources == sources
            && existing.hop == options.hop && existing.sustainPedal == options.sustainPedal
            && existing.notesFrom == expectedSource && existing.stem == recording.stem
            && (existing.crossCheck.map { $0.onsetTolerance == options.onsetTolerance && $0.offsetTolerance == options.offsetTolerance } ?? true)
    }
}
