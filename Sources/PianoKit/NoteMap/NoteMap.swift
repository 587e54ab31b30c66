import Foundation

/// One recording's notes and per-step labels on the pipeline's time grid: what `ingest` writes
/// and `spectro` reads. The format is documented in `Schemas/notemap.md`.
public struct NoteMap: Codable, Sendable, Equatable {
    /// The value of `format` in every note map.
    public static let formatName = "piano-notemap"
    /// The version this code writes. It reads version 1 too (no `sampleRate`: the grid ran at the
    /// audio's own rate, the only rate that version knew).
    public static let currentVersion = 2
    /// The versions this code reads.
    public static let readableVersions = 1 ... 2
    /// The file name suffix.
    public static let fileSuffix = ".notemap.json"

    /// Always `piano-notemap`.
    public var format: String
    /// Format version.
    public var version: Int
    /// The recording's stem.
    public var stem: String
    /// What the MAPS file name says.
    public var maps: MAPSName
    /// The input files, relative to the note map's folder where possible.
    public var sources: Sources
    /// The audio file's header: its own rate, channels and frames.
    public var audio: AudioInfo
    /// The time grid's rate in Hz: the front end's, to which `spectro` resamples the audio before
    /// the transform (`ingest --sample-rate`, default 44100). Version 1 files have none; their grid
    /// runs at `audio.sampleRate`.
    public var sampleRate: Int { gridRate ?? audio.sampleRate }
    private var gridRate: Int?
    /// Samples between steps, at `sampleRate`.
    public var hop: Int
    /// Number of steps: `resampledFrames / hop + 1`.
    public var steps: Int
    /// Where the notes came from: `mid` or `txt`.
    public var notesFrom: String
    /// Whether CC64 sustain was applied to MIDI note ends.
    public var sustainPedal: Bool
    /// The sounding notes, sorted by onset.
    public var notes: [Note]
    /// The comparison of txt and MIDI, when both exist.
    public var crossCheck: CrossCheck?
    /// Per-step labels.
    public var labels: StepLabels

    /// The files a note map was made from.
    public struct Sources: Codable, Sendable, Equatable {
        /// The audio.
        public var wav: String
        /// The MIDI file, if any.
        public var mid: String?
        /// The MAPS note list, if any.
        public var txt: String?
    }

    private enum CodingKeys: String, CodingKey {
        case format, version, stem, maps, sources, audio, gridRate = "sampleRate", hop, steps, notesFrom, sustainPedal, notes, crossCheck, labels
    }

    init(format: String, version: Int, stem: String, maps: MAPSName, sources: Sources, audio: AudioInfo, sampleRate: Int, hop: Int,
         steps: Int, notesFrom: String, sustainPedal: Bool, notes: [Note], crossCheck: CrossCheck?, labels: StepLabels) {
        (self.format, self.version, self.stem, self.maps, self.sources, self.audio) = (format, version, stem, maps, sources, audio)
        (gridRate, self.hop, self.steps, self.notesFrom, self.sustainPedal) = (sampleRate, hop, steps, notesFrom, sustainPedal)
        (self.notes, self.crossCheck, self.labels) = (notes, crossCheck, labels)
    }

    /// The time grid of this recording: step k at k · hop / sampleRate seconds.
    public var grid: TimeGrid { TimeGrid(sampleRate: sampleRate, hop: hop) }

    /// The audio's length in samples at `sampleRate`: what the resampler makes of `audio.frames`
    /// (`Resampler.outputLength`, frames · sampleRate / audio.sampleRate rounded); `audio.frames`
    /// when the rates are equal.
    public var resampledFrames: Int {
        Resampler.outputLength(frames: audio.frames, from: audio.sampleRate, to: sampleRate)
    }

    /// Checks what a reader relies on; the error names what is wrong.
    public func validate() throws {
        func fail(_ message: String) -> FormatError { FormatError("invalid note map: \(message)") }
        guard format == Self.formatName else { throw fail("format is '\(format)', expected '\(Self.formatName)'") }
        guard Self.readableVersions.contains(version) else {
            throw fail("version \(version) is not supported (this build reads versions \(Self.readableVersions.lowerBound) to \(Self.readableVersions.upperBound))")
        }
        guard audio.sampleRate > 0, audio.channels > 0, audio.frames >= 0 else { throw fail("audio header is invalid") }
        do { try Resampler.check(audio.sampleRate, "audio sample rate") } catch let error as FormatError { throw fail(error.message) }
        switch (version, gridRate) {
        case (1, nil): break
        case (1, _?): throw fail("sampleRate is a version 2 field")
        case (_, nil): throw fail("missing field 'sampleRate'")
        case (_, let rate?):
            do { try Resampler.check(rate, "sampleRate") } catch let error as FormatError { throw fail(error.message) }
        }
        guard hop > 0 else { throw fail("hop \(hop) must be positive") }
        let frames = resampledFrames
        guard frames < Int.max / 2 else { throw fail("audio.frames \(audio.frames) is absurd") }
        guard steps == grid.stepCount(frames: frames) else {
            let at = sampleRate == audio.sampleRate ? "" : " (\(audio.frames) at \(audio.sampleRate) Hz)"
            throw fail("steps is \(steps) but \(frames) frames\(at) at hop \(hop) give \(grid.stepCount(frames: frames))")
        }
        guard labels.single.count == steps, labels.multi.count == steps else {
            throw fail("labels have \(labels.single.count) single and \(labels.multi.count) multi entries for \(steps) steps")
        }
        guard ["mid", "txt"].contains(notesFrom) else { throw fail("notesFrom '\(notesFrom)' is not mid or txt") }
        for (i, note) in notes.enumerated() {
            guard note.onset.isFinite, note.offset.isFinite, note.onset >= 0, note.offset >= note.onset else {
                throw fail("note \(i) has onset \(note.onset) and offset \(note.offset)")
            }
            guard (0 ... 127).contains(note.pitch) else { throw fail("note \(i) has pitch \(note.pitch)") }
        }
        for k in 0 ..< steps {
            let keys = labels.multi[k]
            guard keys.allSatisfy(pianoKeys.contains), keys == keys.sorted(), labels.single[k] == (keys.last ?? 0) else {
                throw fail("labels at step \(k) are inconsistent")
            }
        }
    }

    /// Reads and validates a note map file.
    public static func read(path: String) throws -> NoteMap {
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError(path, "cannot read file") }
        let map: NoteMap
        do {
            map = try JSONDecoder().decode(NoteMap.self, from: data)
        } catch let error as DecodingError {
            throw FileError(path, "not a note map: \(error.shortDescription)")
        }
        do { try map.validate() } catch { throw FileError.wrap(error, path: path) }
        return map
    }

    /// The file's bytes: one JSON object with one field a line, one note a line, one label array a line.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        func list(_ items: [String], indent: String) -> String {
            items.isEmpty ? "[]" : "[\n" + items.map { indent + "  " + $0 }.joined(separator: ",\n") + "\n" + indent + "]"
        }
        let fields: [(String, String)] = [
            ("format", try json(format)), ("version", try json(version)), ("stem", try json(stem)),
            ("maps", try json(maps)), ("sources", try json(sources)), ("audio", try json(audio)),
        ] + (gridRate == nil ? [] : [("sampleRate", try json(sampleRate))]) + [
            ("hop", try json(hop)), ("steps", try json(steps)), ("notesFrom", try json(notesFrom)),
            ("sustainPedal", try json(sustainPedal)),
            ("notes", list(try notes.map(json), indent: "  ")),
            ("crossCheck", try crossCheck.map(json) ?? "null"),
            ("labels", "{\n    \"single\": \(try json(labels.single)),\n    \"multi\": \(try json(labels.multi))\n  }"),
        ]
        let body = fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n")
        return Data(("{\n" + body + "\n}\n").utf8)
    }
}

extension DecodingError {
    /// The coding path and message in one short line.
    var shortDescription: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch self {
        case let .keyNotFound(key, context): return "missing field '\(key.stringValue)'\(path(context))"
        case let .typeMismatch(_, context), let .valueNotFound(_, context): return "\(context.debugDescription)\(path(context))"
        case let .dataCorrupted(context): return "\(context.debugDescription)\(path(context))"
        @unknown default: return "\(self)"
        }
    }
}
