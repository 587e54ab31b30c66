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
    /// Format version.
    public var version = 1
    /// demo or full.
    public var size: CorpusSize
    /// The composer's seed.
    public var seed: UInt64
    /// The instruments rendered.
    public var instruments: [Instrument]
    /// The MAPS categories rendered.
    public var categories: [String]
    /// The SoundFont's file name and size in bytes (its path may differ between machines).
    public var soundFont: String
    /// The SoundFont's size in bytes.
    public var soundFontBytes: Int
    /// fluidsynth's version line.
    public var renderer: String
    /// Output sample rate.
    public var sampleRate: Int
    /// Number of recordings, once the corpus is complete.
    public var recordings: Int?
    /// Whether every recording has been rendered.
    public var complete = false

    /// Whether `other` describes the same corpus content (ignoring progress).
    func sameContent(as other: CorpusManifest) -> Bool {
        var a = self, b = other
        a.recordings = nil; b.recordings = nil
        a.complete = false; b.complete = false
        a.renderer = ""; b.renderer = ""
        return a == b
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
    /// The renderer.
    public var renderer: FluidSynthRenderer
    /// fluidsynth runs in parallel.
    public var jobs: Int
    /// Whether to re-render existing files.
    public var force: Bool

    /// Creates a run.
    public init(root: String, size: CorpusSize, seed: UInt64, instruments: [Instrument], categories: [String], renderer: FluidSynthRenderer, jobs: Int, force: Bool) {
        self.root = root
        self.size = size
        self.seed = seed
        self.instruments = instruments
        self.categories = categories
        self.renderer = renderer
        self.jobs = jobs
        self.force = force
    }

    /// Pieces rendered in one fluidsynth run, at most.
    static let piecesPerSheet = 48

    /// Renders the corpus; returns the batch summary (items are recordings).
    public func run() throws -> BatchSummary {
        let pieces = CorpusPlan.pieces(size: size, seed: seed, instruments: instruments, categories: Set(categories))
        let soundFontBytes = ((try? FileManager.default.attributesOfItem(atPath: renderer.soundFont))?[.size] as? Int) ?? 0
        var manifest = CorpusManifest(size: size, seed: seed, instruments: instruments, categories: categories,
                                      soundFont: URL(fileURLWithPath: renderer.soundFont).lastPathComponent, soundFontBytes: soundFontBytes,
                                      renderer: renderer.version(), sampleRate: renderer.sampleRate)
        let manifestPath = root + "/" + CorpusManifest.fileName
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
        var sheets: [[Piece]] = []
        for start in stride(from: 0, to: pending.count, by: Self.piecesPerSheet) {
            sheets.append(Array(pending[start ..< min(start + Self.piecesPerSheet, pending.count)]))
        }
        let root = self.root, renderer = self.renderer
        let sheetSummary = BatchRunner.run(sheets, jobs: jobs, label: "corpus", name: { "\(root) (sheet of \($0.count) from \($0[0].stem))" }) { sheet, _ in
            let audio = try renderer.render(sheet, workDirectory: work)
            for (piece, samples) in zip(sheet, audio) {
                let base = root + "/" + piece.folder + "/" + piece.stem
                try AtomicWrite.write(Data(MIDIWriter.encode(piece.midiFile, runningStatus: piece.style.runningStatus)), to: base + ".mid")
                try AtomicWrite.write(Data(MAPSNoteList.format(piece.notes).utf8), to: base + ".txt")
                try WavWriter.write(samples: samples, channels: 2, sampleRate: renderer.sampleRate, to: base + ".wav")
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
