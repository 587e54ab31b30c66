import Foundation

/// What `infer` writes for one recording with a reference: `<stem>.metrics.json` (Schemas/metrics.md).
public struct RecordingMetrics: Codable, Sendable, Equatable {
    /// `piano-metrics`.
    public var format = RecordingMetrics.formatName
    /// Format version.
    public var version = RecordingMetrics.currentVersion
    /// The recording's stem.
    public var stem: String
    /// The audio file.
    public var audio: String
    /// The model file.
    public var model: String
    /// The reference note list.
    public var reference: String
    /// Steps (network outputs) in the recording.
    public var steps: Int
    /// Length of the audio in seconds.
    public var audioSeconds: Double
    /// The paper's measure: steps whose raw prediction equals the reference label.
    public var stepAccuracy: Double
    /// The paper's single-label measure read through the model's temporal stage (`infer
    /// --single-label`): steps whose stage label (`TemporalStage.labels`) equals the highest
    /// sounding key (0 for none); nil without it.
    public var singleLabelStepAccuracy: Double?
    /// Notes by onset and pitch.
    public var note: NoteScore
    /// Notes by onset, pitch and offset.
    public var noteWithOffset: NoteScore
    /// Frame multi-pitch scores.
    public var frame: FrameScore
    /// The tolerances.
    public var parameters: MetricParameters

    /// The value of `format`.
    public static let formatName = "piano-metrics"
    /// The version this code writes and reads.
    public static let currentVersion = 1

    /// Reads and checks a metrics file.
    public static func read(path: String) throws -> RecordingMetrics {
        let bytes = try Paths.readBytes(path, limit: 1 << 20)
        guard let metrics = try? JSONDecoder().decode(RecordingMetrics.self, from: Data(bytes)),
              metrics.format == formatName, metrics.version == currentVersion
        else { throw FileError(path, "not a \(formatName) v\(currentVersion) file") }
        return metrics
    }
}

/// The settings of an `infer` run.
public struct InferOptions: Codable, Sendable, Equatable {
    /// How outputs become notes.
    public var decoder: NoteDecoder
    /// Metric tolerances.
    public var metrics = MetricParameters()
    /// Thumbnails per network batch.
    public var batch = 256
    /// How the network meets each recording.
    public var evaluation = InferenceMode.auto
    /// Also write `<stem>.thumbnails.npy` (the network's input pixels) and `<stem>.outputs.npy` (its probabilities).
    public var saveArrays = false
    /// Read a single label per step through the model's temporal stage: `<stem>.steps.txt`, with
    /// `saveArrays` `<stem>.stage.npy`, and with a reference `singleLabelStepAccuracy`.
    public var singleLabel = false

    /// Defaults for a model with `heads`.
    public init(heads: [HeadKind]) { decoder = NoteDecoder(heads: heads) }
}

/// One recording to transcribe: its audio and, if known, its reference notes.
public struct InferItem: Sendable, Equatable {
    /// The stem, which names the outputs.
    public var stem: String
    /// The audio file.
    public var audio: String
    /// A MAPS txt or MIDI reference, or nil.
    public var reference: String?
}

/// One `infer` run: every recording transcribed with one model into one folder.
public struct InferRun: Sendable {
    /// Where the outputs go.
    public var outputDirectory: String
    /// The settings.
    public var options: InferOptions
    /// Whether to redo recordings whose outputs are up to date.
    public var force: Bool
    /// Threads for the transform, the thumbnails and the network.
    public var threads: Int

    /// Creates a run.
    public init(outputDirectory: String, options: InferOptions, force: Bool, threads: Int) {
        self.outputDirectory = outputDirectory
        self.options = options
        self.force = force
        self.threads = threads
    }

    static let settingsName = "settings.json"
    /// The summary file written when any recording has a reference.
    public static let summaryName = "summary.json"

    /// Finds audio among `inputs` (files as given, whatever their extension; folders searched for
    /// `AudioFiles.extensions`) and each one's reference: `reference` when given (one recording
    /// only), else `<stem>.txt` or `<stem>.mid` beside it. Of one stem in two formats in one folder
    /// the preferred is kept and the other named in `warnings` (`AudioFiles.onePerStem`).
    public static func items(_ inputs: [String], reference: String?, findReferences: Bool) -> (items: [InferItem], problems: [FileError], warnings: [String]) {
        let (all, found) = InputFiles.expand(inputs, wanted: "audio files (\(AudioFiles.listing))", accept: AudioFiles.isAudio)
        var (files, warnings) = AudioFiles.onePerStem(all)
        var problems = found
        if let reference, files.count > 1 {
            return ([], problems + [FileError(reference, "a reference goes with one recording, but the inputs hold \(files.count)")], warnings)
        }
        var items: [InferItem] = [], seen: [String: String] = [:]
        for file in files {
            let url = URL(fileURLWithPath: file)
            let stem = url.deletingPathExtension().lastPathComponent
            if let first = seen[stem] {
                problems.append(FileError(file, "same stem as \(first): outputs would collide; skipped"))
                continue
            }
            seen[stem] = file
            var found: String?
            if let reference {
                found = reference
            } else if findReferences {
                let base = url.deletingPathExtension().path
                found = ["txt", "mid", "midi"].map { base + "." + $0 }.first { FileManager.default.fileExists(atPath: $0) }
                // A file that merely shares the stem (notes of one's own, a lyric sheet) is no
                // reason to fail the transcription: it goes on without metrics.
                if let candidate = found {
                    do { _ = try NoteFiles.read(path: candidate) } catch {
                        warnings.append("warning: \(FileError.wrap(error, path: candidate)); not used as the reference: \(file) is transcribed without metrics")
                        found = nil
                    }
                }
            }
            items.append(InferItem(stem: stem, audio: file, reference: found))
        }
        return (items, problems, warnings)
    }

    /// The output paths of a recording.
    public func outputs(_ stem: String) -> (midi: String, notes: String, roll: String, metrics: String, thumbnails: String, probabilities: String,
                                            steps: String, stage: String) {
        let base = outputDirectory + "/" + stem
        return (base + ".mid", base + ".txt", base + ".roll.svg", base + ".metrics.json", base + ".thumbnails.npy", base + ".outputs.npy",
                base + ".steps.txt", base + ".stage.npy")
    }

    /// Transcribes every item, printing errors, `warnings` and the summary line on stderr; returns
    /// the batch outcome and the metrics of every recording that has a reference.
    public func run(_ items: [InferItem], transcriber: Transcriber, problems: [FileError] = [], warnings: [String] = []) throws -> (summary: BatchSummary, metrics: [RecordingMetrics]) {
        for problem in problems { printError("error: \(problem)") }
        for warning in warnings { printError(warning) }
        let created = try AtomicWrite.prepareOutputDirectory(outputDirectory)
        // Recordings in parallel, one transcriber (and its share of the threads) each: better use
        // of the cores than splitting every layer of one network between them.
        let pool = try TranscriberPool(transcriber, count: max(1, min(threads, items.count)))
        var run = self
        run.threads = max(1, threads / pool.count)
        setBLASThreads(run.threads)
        // Settings that differ from the last run's make every earlier output stale, and say so.
        let record = try SettingsRecord(path: outputDirectory + "/" + Self.settingsName,
                                        settings: Settings(model: Paths.absolute(transcriber.path), options: options))
        if let differences = record.differences { printError(SettingsDifference.warning(folder: outputDirectory, differences: differences)) }

        let collected = Collected()
        let started = Date()
        // The bar counts seconds of audio, so a long recording moves it too (Progress).
        let summary = BatchRunner.run(items, jobs: pool.count, label: "infer", unit: .audioSeconds, weight: Self.duration, name: \.audio) { [run] item, progress in
            let outputs = run.outputs(item.stem)
            let inputs = [transcriber.path, item.audio] + (item.reference.map { [$0] } ?? [])
            let made = [outputs.midi, outputs.notes, outputs.roll] + (item.reference == nil ? [] : [outputs.metrics])
                + (run.options.saveArrays ? [outputs.thumbnails, outputs.probabilities] : [])
                + (run.options.singleLabel ? [outputs.steps] + (run.options.saveArrays ? [outputs.stage] : []) : [])
            let identity = Settings.Input(item)
            // Up to date: same settings, made from this very audio and reference, and newer than them and the model.
            if !run.force, record.madeFrom(item.stem) == identity, made.allSatisfy({ Paths.isNewer($0, than: inputs) }) {
                let metrics = try item.reference.map { _ in try RecordingMetrics.read(path: outputs.metrics) }
                collected.add(metrics, seconds: 0)  // only transcribed audio counts towards the speed
                return .upToDate
            }
            let result = try pool.with { try run.transcribe(item, with: $0, note: progress.warn, say: progress.say, progress: progress.report) }
            try record.made(item.stem, from: identity)
            collected.add(result.metrics, seconds: result.seconds)
            return .made
        }
        .including(problems)
        if created, summary.made == 0 { AtomicWrite.removeIfEmpty(outputDirectory) }
        let elapsed = Date().timeIntervalSince(started)
        let audio = collected.seconds
        let speed = audio > 0 ? String(format: "; %.1f s of audio transcribed in %.1f s (%.1fx real time)", audio, elapsed, audio / max(elapsed, 1e-9)) : ""
        printError(summary.line + speed)
        let metrics = collected.metrics.sorted { $0.stem < $1.stem }
        if !metrics.isEmpty {
            try AtomicWrite.write(try InferSummary(model: transcriber.path, files: metrics).prettyJSON(), to: outputDirectory + "/" + Self.summaryName)
        }
        return (summary, metrics)
    }

    /// A recording's length in seconds from its header (0 if it cannot be read: the error comes when it is transcribed).
    static func duration(_ item: InferItem) -> Double {
        (try? SoundFileReader(path: item.audio).info.duration) ?? 0
    }

    /// Rough shares of a recording's time in each phase, for the progress bar: the spectrogram,
    /// the thumbnails, then (the rest) the network's batches, which report as they go.
    static let phaseShares = (spectrogram: 0.1, thumbnails: 0.1)

    /// The line `infer` prints for each recording it transcribed: what it found, how long the audio
    /// is and how fast it went, e.g. `song.mp3: 48 notes, A3-C6, 16.4 s of audio, 61.7x real time`.
    static func found(_ notes: [Note], in audio: String, seconds: Double, took: Double) -> String {
        let pitches = notes.map(\.pitch)
        let range = pitches.min().map { ", " + Note.name(ofPitch: $0) + "-" + Note.name(ofPitch: pitches.max()!) } ?? ""
        return String(format: "%@: %d note%@%@, %.1f s of audio, %.1fx real time", audio, notes.count, notes.count == 1 ? "" : "s", range,
                      seconds, seconds / max(took, 1e-9))
    }

    /// Transcribes one recording and writes its outputs; `note` hears that the audio was resampled, `say` the line of what was found (`found`),
    /// `progress` how far it is (0...1) and in which phase.
    func transcribe(_ item: InferItem, with transcriber: Transcriber, note: (String) -> Void = { _ in }, say: (String) -> Void = { _ in },
                    progress: (Double, String?) -> Void = { _, _ in }) throws -> (metrics: RecordingMetrics?, seconds: Double) {
        let started = Date()
        // Read the reference first: a bad one fails the recording before any output is written.
        let referenceNotes = try item.reference.map { try NoteFiles.read(path: $0) }
        let reader = try SoundFileReader(path: item.audio)
        try transcriber.check(reader.info, path: item.audio)
        // Audio at another rate is resampled to the model's before the transform, so the steps lie
        // on the model's grid (k · hop / its rate seconds) and keep the recording's clock.
        let rate = transcriber.record.transform.sampleRate
        if reader.info.sampleRate != rate {
            note("note: \(item.audio): \(reader.info.sampleRate) Hz audio resampled to the model's \(rate) Hz (libsoxr, high quality)")
        }
        let shares = Self.phaseShares, name = item.stem
        progress(0, "\(name): spectrogram")
        let image = transcriber.levels(of: try reader.readMono(resampledTo: rate), threads: threads)
        let start = shares.spectrogram + shares.thumbnails, steps = max(1, image.frames)
        progress(shares.spectrogram, "\(name): network")
        let (outputs, pixels) = try transcriber.outputs(of: image, evaluation: options.evaluation, batch: options.batch, threads: threads,
                                                        keepPixels: options.saveArrays) { done in
            progress(start + (1 - start) * Double(done) / Double(steps), "\(name): network \(done)/\(steps) steps")
        }
        let grid = transcriber.grid
        let notes = options.decoder.notes(outputs, grid: grid, levels: image,
                                          transform: transcriber.record.transform, decibelRange: transcriber.record.decibels.range)

        let paths = self.outputs(item.stem)
        if options.saveArrays {
            let geometry = transcriber.record.geometry, all = outputs.concatenated
            try AtomicWrite.write(NPY.header(dtype: .uint8, shape: [image.frames, geometry.rows, geometry.columns]) + Data(pixels ?? []), to: paths.thumbnails)
            try AtomicWrite.write(NPY.encode(all.values, shape: [image.frames, all.width]), to: paths.probabilities)
        }
        // The single-label reading through the temporal stage (`Infer` checks the model has one).
        var singleLabels: [Int]?
        if options.singleLabel, let stage = transcriber.stage, let held = transcriber.stageProbabilities(outputs, of: image) {
            let labels = stage.labels(held)
            if options.saveArrays { try AtomicWrite.write(NPY.encode(held, shape: [image.frames, pianoKeys.count]), to: paths.stage) }
            try AtomicWrite.write(Data(StepLabelList.format(labels, grid: grid).utf8), to: paths.steps)
            singleLabels = labels
        }
        try AtomicWrite.write(Data(MIDIWriter.encode(NoteFiles.midiFile(notes, name: item.stem))), to: paths.midi)
        try AtomicWrite.write(Data(MAPSNoteList.format(notes).utf8), to: paths.notes)
        let roll = PianoRoll().svg(estimate: notes, reference: referenceNotes, duration: reader.info.duration, title: item.stem,
                                   background: .init(image: image, transform: transcriber.record.transform))
        try AtomicWrite.write(Data(roll.utf8), to: paths.roll)
        say(Self.found(notes, in: item.audio, seconds: reader.info.duration, took: Date().timeIntervalSince(started)))
        guard let referenceNotes, let reference = item.reference else { return (nil, reader.info.duration) }

        let expected = StepLabels(notes: referenceNotes, grid: grid, steps: image.frames)
        // The paper's measure on the head the notes come from: the key set (frame) or the class (single).
        let stepAccuracy: Double = if let frames = outputs[.frame] {
            TranscriptionMetrics.stepAccuracy(options.decoder.stepKeys(frames), expected.multi)
        } else {
            TranscriptionMetrics.stepAccuracy(options.decoder.stepClasses(outputs[.single] ?? []), expected.single)
        }
        let score = TranscriptionMetrics.score(estimate: notes, reference: referenceNotes, parameters: options.metrics)
        let metrics = RecordingMetrics(stem: item.stem, audio: item.audio, model: transcriber.path, reference: reference,
                                       steps: image.frames, audioSeconds: reader.info.duration, stepAccuracy: stepAccuracy,
                                       singleLabelStepAccuracy: singleLabels.map { TranscriptionMetrics.stepAccuracy($0, expected.single) },
                                       note: score.note, noteWithOffset: score.noteWithOffset, frame: score.frame, parameters: options.metrics)
        try AtomicWrite.write(try metrics.prettyJSON(), to: paths.metrics)
        return (metrics, reader.info.duration)
    }

    /// `settings.json`: the settings of the run that made the folder's outputs, and for each stem
    /// the audio and reference they were made from.
    struct Settings: Codable, Equatable {
        var model: String
        var options: InferOptions
        var inputs: [String: Input]? = nil

        /// A recording's inputs: the audio's identity and the reference's (nil: none).
        struct Input: Codable, Equatable {
            var audio: InputIdentity?
            var reference: InputIdentity?

            init(_ item: InferItem) {
                audio = InputIdentity(of: item.audio)
                reference = item.reference.flatMap { InputIdentity(of: $0) }
            }
        }
    }

    /// The folder's `settings.json`, read at the start of a run and rewritten as each recording is
    /// made (so nothing is written by a run that makes nothing).
    final class SettingsRecord: @unchecked Sendable {
        let path: String
        private let lock = NSLock()
        private var current: Settings
        /// What differs from the settings the folder's outputs were made with (nil: the same, or none there).
        let differences: [String]?

        init(path: String, settings: Settings) throws {
            self.path = path
            current = settings
            let data = FileManager.default.contents(atPath: path)
            let old = data.flatMap { try? JSONDecoder().decode(Settings.self, from: $0) }
            if let old, old.model == settings.model, old.options == settings.options {
                current.inputs = old.inputs
                differences = nil
            } else if let data {
                let found = SettingsDifference.describe(old: data, new: try settings.prettyJSON(), ignoring: ["inputs"])
                differences = found.isEmpty ? ["settings.json unreadable"] : found
            } else {
                differences = nil
            }
        }

        /// The inputs the outputs of `stem` were made from with these settings, or nil.
        func madeFrom(_ stem: String) -> Settings.Input? {
            lock.lock(); defer { lock.unlock() }
            return current.inputs?[stem]
        }

        /// Records that the outputs of `stem` were made from `input`.
        func made(_ stem: String, from input: Settings.Input) throws {
            lock.lock(); defer { lock.unlock() }
            current.inputs = (current.inputs ?? [:]).merging([stem: input]) { $1 }
            try AtomicWrite.write(try current.prettyJSON(), to: path)
        }
    }

    /// Results gathered from the batch workers.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var metrics: [RecordingMetrics] = []
        private(set) var seconds = 0.0

        func add(_ metrics: RecordingMetrics?, seconds: Double) {
            lock.lock(); defer { lock.unlock() }
            if let metrics { self.metrics.append(metrics) }
            self.seconds += seconds
        }
    }
}

/// `summary.json`: every recording's metrics and their means (Schemas/metrics.md).
public struct InferSummary: Codable, Sendable, Equatable {
    /// `piano-infer-summary`.
    public var format = "piano-infer-summary"
    /// Format version.
    public var version = 1
    /// The model file.
    public var model: String
    /// Per recording, sorted by stem.
    public var files: [RecordingMetrics]
    /// Means over the recordings.
    public var mean: Means

    /// The means of the headline figures over recordings.
    public struct Means: Codable, Sendable, Equatable {
        /// Mean step accuracy.
        public var stepAccuracy: Double
        /// Mean single-label step accuracy through the temporal stage, when every recording has one.
        public var singleLabelStepAccuracy: Double?
        /// Mean note (onset) precision, recall, F1.
        public var note: [String: Double]
        /// Mean note-with-offset precision, recall, F1.
        public var noteWithOffset: [String: Double]
        /// Mean frame precision, recall, F1.
        public var frame: [String: Double]
    }

    /// Summarises `files`.
    public init(model: String, files: [RecordingMetrics]) {
        self.model = model
        self.files = files
        let n = Double(max(1, files.count))
        func average(_ value: (RecordingMetrics) -> Double) -> Double { files.map(value).reduce(0, +) / n }
        func prf(_ p: (RecordingMetrics) -> Double, _ r: (RecordingMetrics) -> Double, _ f: (RecordingMetrics) -> Double) -> [String: Double] {
            ["precision": average(p), "recall": average(r), "f1": average(f)]
        }
        let single = files.compactMap(\.singleLabelStepAccuracy)
        mean = Means(stepAccuracy: average(\.stepAccuracy),
                     singleLabelStepAccuracy: single.count == files.count && !files.isEmpty ? single.reduce(0, +) / n : nil,
                     note: prf(\.note.precision, \.note.recall, \.note.f1),
                     noteWithOffset: prf(\.noteWithOffset.precision, \.noteWithOffset.recall, \.noteWithOffset.f1),
                     frame: prf(\.frame.precision, \.frame.recall, \.frame.f1))
    }

    /// A plain-text table: one row per recording and a mean row.
    public var table: String {
        let width = max(24, files.map(\.stem.count).max() ?? 0)
        func pad(_ text: String, _ n: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - text.count))
            return left ? text + fill : fill + text
        }
        func row(_ cells: [String]) -> String {
            pad(cells[0], width, left: true) + zip(cells.dropFirst(), [7, 6, 6, 9, 9, 9, 9]).map { " " + pad($0, $1) }.joined() + "\n"
        }
        func figure(_ value: Double) -> String { String(format: "%.3f", value) }
        var text = row(["recording", "steps", "est", "ref", "step-acc", "note-F1", "+offset", "frame-F1"])
        for f in files {
            text += row([f.stem, String(f.steps), String(f.note.estimated), String(f.note.reference), figure(f.stepAccuracy),
                         figure(f.note.f1), figure(f.noteWithOffset.f1), figure(f.frame.f1)])
        }
        text += row(["mean of \(files.count)", "", "", "", figure(mean.stepAccuracy), figure(mean.note["f1"]!),
                     figure(mean.noteWithOffset["f1"]!), figure(mean.frame["f1"]!)])
        if let single = mean.singleLabelStepAccuracy { text += "single-label step accuracy through the temporal stage, mean: \(figure(single))\n" }
        return text
    }
}

/// Transcribers for concurrent workers (a `Transcriber` is not for concurrent use): a worker
/// takes a free one for each recording and gives it back. The extra ones are copies of the first
/// (`Transcriber.copy`: their own layers, the shared front end).
final class TranscriberPool: @unchecked Sendable {
    private var free: [Transcriber]
    private let lock = NSLock()
    /// How many there are.
    let count: Int

    init(_ first: Transcriber, count: Int) throws {
        free = [first]
        for _ in 1 ..< max(1, count) { free.append(try first.copy()) }
        self.count = free.count
    }

    /// Runs `body` with a transcriber no other worker holds.
    func with<T>(_ body: (Transcriber) throws -> T) rethrows -> T {
        lock.lock()
        let transcriber = free.removeLast()
        lock.unlock()
        defer {
            lock.lock()
            free.append(transcriber)
            lock.unlock()
        }
        return try body(transcriber)
    }
}
