import Foundation

/// The parameters a corpus was rendered with, kept in `<root>/corpus.json` so that a re-run can
/// tell whether the files there are its own. Documented in `Schemas/corpus.md`.
public struct CorpusManifest: Codable, Sendable, Equatable {
    /// The value of `format`.
    public static let formatName = "piano-corpus"
    /// The file name at the corpus root.
    public static let fileName = "corpus.json"

    /// Always `piano-corpus`.
    public var format = formatName
    /// Format version: 2 adds each instrument's `voice`, `source` and `family` and `augment`; 3 adds `bassCut`.
    public var version = 3
    /// demo or full.
    public var size: CorpusSize
    /// The composer's seed.
    public var seed: UInt64
    /// The instruments rendered.
    public var instruments: [Instrument]
    /// The MAPS categories rendered.
    public var categories: [String]
    /// The FluidR3 SoundFont's file name (its path may differ between machines).
    public var soundFont: String
    /// The FluidR3 SoundFont's size in bytes.
    public var soundFontBytes: Int
    /// The renderers' version lines, `; `-separated.
    public var renderer: String
    /// Whether each recording was rendered under its seeded `Augmentation` (absent in version 1: false).
    public var augment: Bool
    /// The share of augmented recordings rendered with a bass cut (`Augmentation.bassCut`), 0...1 (absent before version 3: 0).
    public var bassCut: Double
    /// Output sample rate.
    public var sampleRate: Int
    /// Number of recordings, once the corpus is complete.
    public var recordings: Int?
    /// Whether every recording has been rendered.
    public var complete = false

    /// Creates a manifest.
    public init(size: CorpusSize, seed: UInt64, instruments: [Instrument], categories: [String], soundFont: String, soundFontBytes: Int,
                renderer: String, sampleRate: Int, augment: Bool, bassCut: Double = 0) {
        self.size = size
        self.seed = seed
        self.instruments = instruments
        self.categories = categories
        self.soundFont = soundFont
        self.soundFontBytes = soundFontBytes
        self.renderer = renderer
        self.sampleRate = sampleRate
        self.augment = augment
        self.bassCut = bassCut
    }

    enum CodingKeys: String, CodingKey {
        case format, version, size, seed, instruments, categories, soundFont, soundFontBytes, renderer, sampleRate, augment, bassCut, recordings, complete
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(String.self, forKey: .format)
        version = try container.decode(Int.self, forKey: .version)
        size = try container.decode(CorpusSize.self, forKey: .size)
        seed = try container.decode(UInt64.self, forKey: .seed)
        instruments = try container.decode([Instrument].self, forKey: .instruments)
        categories = try container.decode([String].self, forKey: .categories)
        soundFont = try container.decode(String.self, forKey: .soundFont)
        soundFontBytes = try container.decode(Int.self, forKey: .soundFontBytes)
        renderer = try container.decode(String.self, forKey: .renderer)
        sampleRate = try container.decode(Int.self, forKey: .sampleRate)
        augment = try container.decodeIfPresent(Bool.self, forKey: .augment) ?? false
        bassCut = try container.decodeIfPresent(Double.self, forKey: .bassCut) ?? 0
        recordings = try container.decodeIfPresent(Int.self, forKey: .recordings)
        complete = try container.decode(Bool.self, forKey: .complete)
    }

    /// Whether `other` describes the same corpus content (ignoring progress, versions, and the
    /// instruments' names, sources and families, which version 1 did not record).
    func sameContent(as other: CorpusManifest) -> Bool {
        func key(_ m: CorpusManifest) -> [String] {
            [m.size.rawValue, String(m.seed), m.categories.joined(separator: ","), m.soundFont, String(m.soundFontBytes), String(m.sampleRate), String(m.augment), String(m.bassCut)]
                + m.instruments.map { "\($0.code) \($0.program) \($0.voice.rawValue)" }
        }
        return key(self) == key(other)
    }
}

/// One run of the corpus renderer: compose, skip what is already there, render the rest, write the MAPS triples.
public struct CorpusRun: Sendable {
    /// The corpus root.
    public var root: String
    /// The corpus size.
    public var size: CorpusSize
    /// The composer's seed.
    public var seed: UInt64
    /// The instruments.
    public var instruments: [Instrument]
    /// The MAPS categories.
    public var categories: [String]
    /// The FluidR3 SoundFont for the instruments whose source is FluidR3's (a `--soundfont` given by the user).
    public var soundFont: String?
    /// Whether to render each recording under its seeded `Augmentation`.
    public var augment: Bool
    /// The share of augmented recordings given a bass cut, 0...1.
    public var bassCut: Double
    /// Renderer runs in parallel.
    public var jobs: Int
    /// Whether to re-render existing files.
    public var force: Bool

    /// Creates a run.
    public init(root: String, size: CorpusSize, seed: UInt64, instruments: [Instrument], categories: [String], soundFont: String? = nil,
                augment: Bool = false, bassCut: Double = 0, jobs: Int, force: Bool) {
        self.root = root
        self.size = size
        self.seed = seed
        self.instruments = instruments
        self.categories = categories
        self.soundFont = soundFont
        self.augment = augment
        self.bassCut = bassCut
        self.jobs = jobs
        self.force = force
    }

    /// Pieces rendered in one fluidsynth run, at most.
    static let piecesPerSheet = 48

    /// The renderer of each instrument, by code (FluidR3's instruments from `soundFont` when one
    /// is given); fails before any work if one cannot be made.
    func renderers() throws -> [String: any PieceRenderer] {
        var result: [String: any PieceRenderer] = [:]
        for var instrument in instruments {
            if let soundFont, instrument.source == Instrument.fluidR3File { instrument.source = soundFont }
            result[instrument.code] = instrument.voice == .synth ? SynthPiano(variant: instrument.program) : try SheetRenderer(instrument: instrument)
        }
        return result
    }

    /// Renders the corpus; returns the batch summary (items are recordings).
    public func run() throws -> BatchSummary {
        let renderers = try renderers()
        let sampleRate = 44100
        var pieces = CorpusPlan.pieces(size: size, seed: seed, instruments: instruments, categories: Set(categories))
        var augmentations: [String: Augmentation] = [:]
        if augment {
            for i in pieces.indices {
                let drawn = Augmentation(seed: seed, stem: pieces[i].stem, sampleRate: Double(sampleRate), bassCutShare: bassCut)
                pieces[i].tuningCents = drawn.tuningCents
                augmentations[pieces[i].stem] = drawn
            }
        }
        let fluidR3 = soundFont ?? ((try? Instrument.fluidR3[0].sourcePath()) ?? Instrument.fluidR3File)
        let soundFontBytes = ((try? FileManager.default.attributesOfItem(atPath: fluidR3))?[.size] as? Int) ?? 0
        var versions: [String] = []
        for instrument in instruments {
            let line = renderers[instrument.code]!.version()
            if !versions.contains(line) { versions.append(line) }
        }
        var manifest = CorpusManifest(size: size, seed: seed, instruments: instruments, categories: categories,
                                      soundFont: URL(fileURLWithPath: fluidR3).lastPathComponent, soundFontBytes: soundFontBytes,
                                      renderer: versions.joined(separator: "; "), sampleRate: sampleRate, augment: augment,
                                      bassCut: augment ? bassCut : 0)
        let manifestPath = root + "/" + CorpusManifest.fileName
        try AtomicWrite.prepareOutputDirectory(root)  // an unwritable root fails now, before any rendering
        if !force, let data = FileManager.default.contents(atPath: manifestPath) {
            guard let existing = try? JSONDecoder().decode(CorpusManifest.self, from: data) else {
                throw FileError(manifestPath, "not a corpus manifest; remove it or pass --force")
            }
            guard existing.sameContent(as: manifest) else {
                throw FileError(manifestPath, "this folder holds a corpus made with other settings (size \(existing.size.rawValue), seed \(existing.seed)); use another folder or --force")
            }
        }
        try writeManifest(manifest, to: manifestPath)
        removeStaleTemporaries()

        let work = root + "/.render"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let pending = pieces.filter { force || !isComplete($0) }
        // Sheets of one instrument each, in the corpus's order.
        var sheets: [(instrument: String, pieces: [Piece])] = []
        for instrument in instruments {
            let own = pending.filter { $0.folder.hasPrefix(instrument.code + "/") }
            for start in stride(from: 0, to: own.count, by: Self.piecesPerSheet) {
                sheets.append((instrument.code, Array(own[start ..< min(start + Self.piecesPerSheet, own.count)])))
            }
        }
        let root = self.root, drawn = augmentations
        let sheetSummary = BatchRunner.run(sheets, jobs: jobs, label: "corpus", name: { "\(root) (sheet of \($0.pieces.count) from \($0.pieces[0].stem))" }) { sheet, _ in
            let renderer = renderers[sheet.instrument]!
            let audio = try renderer.render(sheet.pieces, workDirectory: work)
            for (piece, rendered) in zip(sheet.pieces, audio) {
                var samples = rendered
                drawn[piece.stem]?.apply(to: &samples, sampleRate: renderer.sampleRate)
                let base = root + "/" + piece.folder + "/" + piece.stem
                try AtomicWrite.write(Data(MIDIWriter.encode(piece.midiFile, runningStatus: piece.style.runningStatus)), to: base + ".mid")
                try AtomicWrite.write(Data(MAPSNoteList.format(piece.notes).utf8), to: base + ".txt")
                try WavWriter.write(samples: WavWriter.quantize(samples), channels: 2, sampleRate: renderer.sampleRate, to: base + ".wav")
            }
            return .made
        }
        let failedPieces = sheetSummary.failures.isEmpty ? 0 : pieces.filter { !isComplete($0) }.count
        let summary = BatchSummary(total: pieces.count, made: pending.count - failedPieces, upToDate: pieces.count - pending.count,
                                   failures: sheetSummary.failures)
        if sheetSummary.failures.isEmpty {
            manifest.recordings = pieces.count
            manifest.complete = true
            try writeManifest(manifest, to: manifestPath)
        }
        printError(summary.line)
        return summary
    }

    /// Whether a piece's three files are all there (each is written whole, under a temporary name first).
    func isComplete(_ piece: Piece) -> Bool {
        let base = root + "/" + piece.folder + "/" + piece.stem
        return [".wav", ".mid", ".txt"].allSatisfy { FileManager.default.fileExists(atPath: base + $0) }
    }

    func writeManifest(_ manifest: CorpusManifest, to path: String) throws {
        try AtomicWrite.write(try manifest.prettyJSON(), to: path)
    }

    /// Removes temporary files killed runs left anywhere under the root.
    func removeStaleTemporaries() {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return }
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(AtomicWrite.temporaryPrefix), AtomicWrite.isStale(name, in: root + "/" + (relative as NSString).deletingLastPathComponent) {
                unlink(root + "/" + relative)
            }
        }
    }
}
