import Foundation

/// The settings of a `spectro` run.
public struct SpectroOptions: Sendable, Equatable {
    /// `cqt` or `stft`.
    public var transform = "cqt"
    /// CQT bins per octave.
    public var binsPerOctave = 36
    /// Thumbnail geometry.
    public var geometry = ThumbnailGeometry()
    /// JPEG quality.
    public var quality = 90
    /// Write a thumbnail every this many steps.
    public var every = 1
    /// Also write the raw magnitudes as `spectrogram.npy`.
    public var saveSpectrogram = false

    /// Default settings.
    public init() {}
}

/// One `spectro` run: for each note map, compute the spectrogram of its audio (mixed to mono and
/// resampled to the note map's `sampleRate`) and write the recording's folder of thumbnails,
/// labels, preview and sidecar.
public struct SpectroRun: Sendable {
    /// Where the per-recording folders go.
    public var outputDirectory: String
    /// The settings.
    public var options: SpectroOptions
    /// Whether to remake up-to-date folders.
    public var force: Bool
    /// Recordings processed in parallel (and threads inside one when there are fewer recordings).
    public var jobs: Int

    /// Creates a run.
    public init(outputDirectory: String, options: SpectroOptions, force: Bool, jobs: Int) {
        self.outputDirectory = outputDirectory
        self.options = options
        self.force = force
        self.jobs = jobs
    }

    /// Finds note maps among `inputs`: files as given, folders searched recursively for `*.notemap.json`.
    public static func noteMaps(in inputs: [String]) -> (files: [String], problems: [FileError]) {
        InputFiles.expand(inputs, wanted: "*\(NoteMap.fileSuffix) files") { $0.hasSuffix(NoteMap.fileSuffix) }
    }

    /// Runs over `inputs`, printing errors and the summary on stderr.
    public func run(_ inputs: [String]) throws -> BatchSummary {
        let found = Self.noteMaps(in: inputs)
        for problem in found.problems { printError("error: \(problem)") }
        let created = try AtomicWrite.prepareOutputDirectory(outputDirectory)
        let threads = max(1, jobs / max(1, found.files.count))
        let frontEnds = FrontEndCache(options: options)
        let run = self, otherSettings = OnceFlag()
        let summary = BatchRunner.run(found.files, jobs: jobs, label: "spectro", name: { $0 }) { path, warn in
            try run.process(noteMap: path, frontEnds: frontEnds, threads: threads, note: warn, otherSettings: otherSettings)
        }
        .including(found.problems)
        if created, summary.made == 0 { AtomicWrite.removeIfEmpty(outputDirectory) }
        printError(summary.line)
        return summary
    }

    /// Makes (or skips) one recording's folder; `note` hears that the audio was resampled.
    ///
    /// A folder there made with other settings is remade, and the first such folder of the run is
    /// named in one warning (through `note`) with the settings that differ.
    func process(noteMap path: String, frontEnds: FrontEndCache, threads: Int, note: (String) -> Void = { _ in },
                 otherSettings: OnceFlag = OnceFlag()) throws -> ItemStatus {
        let map = try NoteMap.read(path: path)
        let mapDirectory = (Paths.absolute(path) as NSString).deletingLastPathComponent
        let wavPath = Paths.resolve(map.sources.wav, against: mapDirectory)
        let folder = outputDirectory + "/" + map.stem
        let frontEnd = try frontEnds.get(sampleRate: map.sampleRate, hop: map.hop)
        let digits = max(6, String(max(0, map.steps - 1)).count)
        let folderAbsolute = Paths.absolute(folder)
        let set = ThumbnailSet(stem: map.stem, maps: map.maps, noteMap: Paths.relative(path, from: folderAbsolute),
                               wav: Paths.relative(wavPath, from: folderAbsolute), transform: frontEnd.transform,
                               decibels: frontEnd.decibels, geometry: frontEnd.geometry, quality: options.quality,
                               every: options.every, steps: map.steps, images: (map.steps + options.every - 1) / options.every,
                               digits: digits, spectrogram: options.saveSpectrogram)
        let sidecar = folder + "/" + ThumbnailSet.fileName
        if !force, Paths.isNewer(sidecar, than: [path, wavPath]), let existing = try? ThumbnailSet.read(path: sidecar), existing.sameSettings(as: set), existing.steps == set.steps,
           existing.noteMap == set.noteMap, existing.wav == set.wav {
            return .upToDate
        }
        if !force, let data = FileManager.default.contents(atPath: sidecar), let existing = try? ThumbnailSet.read(path: sidecar),
           !existing.sameSettings(as: set), otherSettings.first() {
            let perRecording: Set<String> = ["stem", "maps", "noteMap", "wav", "steps", "images", "digits"]
            note(SettingsDifference.warning(folder: outputDirectory, differences: SettingsDifference.describe(old: data, new: try set.encoded(), ignoring: perRecording)))
        }

        let reader = try SoundFileReader(path: wavPath)
        guard reader.info.frames > 0 else { throw FileError(wavPath, "zero-length audio: nothing to transform") }
        guard reader.info.sampleRate == map.audio.sampleRate else {
            throw FileError(wavPath, "sample rate \(reader.info.sampleRate) Hz differs from the note map's \(map.audio.sampleRate) Hz (\(path)); re-run ingest")
        }
        guard reader.info.frames == map.audio.frames else {
            throw FileError(wavPath, "\(reader.info.frames) frames, but the note map says \(map.audio.frames) (\(path)); re-run ingest")
        }
        if map.audio.sampleRate != map.sampleRate {
            note("note: \(wavPath): \(map.audio.sampleRate) Hz audio resampled to the note map's \(map.sampleRate) Hz (libsoxr, high quality)")
        }
        let spectrogram = frontEnd.spectrogram(of: try reader.readMono(resampledTo: map.sampleRate), threads: threads)
        guard spectrogram.frames == map.steps else {
            throw FileError(path, "spectrogram has \(spectrogram.frames) frames but the note map has \(map.steps) steps")
        }
        let image = frontEnd.levels(of: spectrogram)
        let thumbnailer = Thumbnailer(image, geometry: frontEnd.geometry)
        let encoder = try JPEGEncoder(quality: options.quality)
        let geometry = frontEnd.geometry
        try AtomicWrite.writeDirectory(folder) { directory in
            for k in stride(from: 0, to: map.steps, by: options.every) {
                let jpeg = try encoder.encode(gray: thumbnailer.thumbnail(step: k), width: geometry.columns, height: geometry.rows)
                try writeWhole(jpeg, to: directory + "/" + set.imageName(step: k))
            }
            try writeWhole(Data(set.labelsTSV(map).utf8), to: directory + "/" + ThumbnailSet.labelsFileName)
            let preview = image.preview()
            try writeWhole(try encoder.encode(gray: preview.pixels, width: preview.width, height: preview.height),
                           to: directory + "/" + ThumbnailSet.previewFileName)
            if options.saveSpectrogram {
                try writeWhole(NPY.encode(spectrogram.magnitudes, shape: [spectrogram.frames, spectrogram.bins]),
                               to: directory + "/" + ThumbnailSet.spectrogramFileName)
            }
            try writeWhole(try set.encoded(), to: directory + "/" + ThumbnailSet.fileName)
        }
        return .made
    }
}

/// Front ends planned once per (sample rate, hop) and shared by all workers.
final class FrontEndCache: @unchecked Sendable {
    private let options: SpectroOptions
    private let lock = NSLock()
    private var planned: [[Int]: FrontEnd] = [:]

    init(options: SpectroOptions) { self.options = options }

    func get(sampleRate: Int, hop: Int) throws -> FrontEnd {
        lock.lock()
        defer { lock.unlock() }
        if let frontEnd = planned[[sampleRate, hop]] { return frontEnd }
        let frontEnd = try FrontEnd(transform: options.transform, sampleRate: sampleRate, hop: hop,
                                    binsPerOctave: options.binsPerOctave, geometry: options.geometry)
        planned[[sampleRate, hop]] = frontEnd
        return frontEnd
    }
}
