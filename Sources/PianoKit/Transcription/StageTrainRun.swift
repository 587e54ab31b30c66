import Foundation

/// One `train-stage` run: a model's temporal stage (`TemporalStage`) trained on recordings with
/// references, its threshold chosen on other recordings, written with the model's network into a
/// new model file.
public struct StageTrainRun: Sendable {
    /// The stage's shape (its threshold is chosen by the run).
    public var settings = TemporalStage.Settings()
    /// How it is trained.
    public var training = TemporalStage.Training()
    /// Recordings worked on at once while the network runs over them.
    public var threads = 1

    /// A run with default settings.
    public init() {}

    /// What `train-stage` records in the model's `temporalStageTraining` metadata.
    public struct Record: Codable, Sendable {
        public var trainingRecordings: Int, developmentRecordings: Int, rows: Int, positiveShare: Double
        public var epochs: Int, batch: Int, learningRate: Float, seed: UInt64
        public var epochLosses: [Double]
        /// Development step accuracy at each threshold tried.
        public var development: [TemporalStage.ThresholdAccuracy]
    }

    /// The metadata key of the `Record`.
    public static let recordKey = "temporalStageTraining"

    /// Trains a stage for the model at `model` on the recordings found in `train` (files or
    /// folders, as `infer` finds them, each with its reference beside it), chooses its threshold on
    /// those in `development`, and writes the model with the stage to `output` (atomically).
    /// Recordings without a reference, or that fail, are reported through `warn` and skipped.
    public func run(model: String, train: [String], development: [String], output: String, say: (String) -> Void = { printError($0) }) throws -> Record {
        let transcriber = try Transcriber(modelPath: model)
        if let refusal = TemporalStage.refusal(transcriber.record) { throw FileError(model, refusal) }
        guard transcriber.network.heads.map(\.kind).contains(.frame), transcriber.network.heads.map(\.kind).contains(.onset) else {
            throw FileError(model, "a temporal stage reads a frame and an onset head; this network has \(transcriber.network.heads.map(\.kind.rawValue))")
        }
        let trainExamples = try examples(train, transcriber: transcriber, label: "train-stage: training recordings")
        let devExamples = try examples(development, transcriber: transcriber, label: "train-stage: development recordings")
        say("train-stage: \(trainExamples.count) training and \(devExamples.count) development recordings")
        let (stage, report) = try TemporalStage.train(settings, on: trainExamples, development: devExamples, training: training) { epoch, loss in
            say(String(format: "train-stage: epoch %d of %d: mean loss %.5f", epoch, training.epochs, loss))
        }
        for entry in report.development {
            say(String(format: "train-stage: development single-label step accuracy at threshold %.2f: %.4f", entry.threshold, entry.accuracy))
        }
        say(String(format: "train-stage: threshold %.2f chosen on the development recordings", stage.settings.threshold))
        let record = Record(trainingRecordings: trainExamples.count, developmentRecordings: devExamples.count, rows: report.rows,
                            positiveShare: report.positiveShare, epochs: training.epochs, batch: training.batch,
                            learningRate: training.learningRate, seed: training.seed, epochLosses: report.epochLosses,
                            development: report.development)
        var metadata = transcriber.metadata
        metadata[Self.recordKey] = try SafeTensors.jsonString(record)
        metadata["toolkitVersion"] = Toolkit.version
        try AtomicWrite.write(try ModelFile.encode(transcriber.network, frontEnd: transcriber.record, extra: metadata, stage: stage), to: output)
        return record
    }

    /// Every recording among `inputs` with a reference, as the stage reads it, sorted by audio
    /// path (the training order does not depend on the threads); throws when none is left.
    func examples(_ inputs: [String], transcriber: Transcriber, label: String) throws -> [TemporalStage.Example] {
        let found = InferRun.items(inputs, reference: nil, findReferences: true)
        var problems = found.problems
        for warning in found.warnings { printError(warning) }
        let items = found.items.filter { item in
            guard item.reference == nil else { return true }
            problems.append(FileError(item.audio, "no reference (<stem>.txt or <stem>.mid beside it); skipped"))
            return false
        }
        for problem in problems { printError("error: \(problem)") }
        let pool = try TranscriberPool(transcriber, count: max(1, min(threads, items.count)))
        let collected = Collected()
        let summary = BatchRunner.run(items, jobs: pool.count, label: label, unit: .audioSeconds, weight: InferRun.duration, name: \.audio) { item, _ in
            let example = try pool.with { try Self.example(item, transcriber: $0) }
            collected.add(example)
            return .made
        }
        .including(problems)
        printError(summary.line)
        let examples = collected.examples.sorted { $0.name < $1.name }
        guard !examples.isEmpty else { throw StageFailure("\(label): no recording with a reference among \(inputs.joined(separator: " "))") }
        return examples
    }

    /// One recording through the network (sliding where allowed, as `infer` does by default) and
    /// its reference's single labels.
    static func example(_ item: InferItem, transcriber: Transcriber) throws -> TemporalStage.Example {
        let notes = try NoteFiles.read(path: item.reference!)
        let reader = try SoundFileReader(path: item.audio)
        try transcriber.check(reader.info, path: item.audio)
        let image = transcriber.levels(of: try reader.readMono(resampledTo: transcriber.record.transform.sampleRate), threads: 1)
        let (outputs, _) = try transcriber.outputs(of: image, evaluation: .auto, batch: 256, threads: 1, keepPixels: false)
        let inputs = transcriber.stageInputs(outputs, of: image)!  // `run` checked the front end and the heads
        let labels = StepLabels(notes: notes, grid: transcriber.grid, steps: image.frames).single
        return TemporalStage.Example(inputs: inputs, labels: labels, name: item.audio)
    }

    /// Examples gathered from the batch workers.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var gathered: [TemporalStage.Example] = []

        func add(_ example: TemporalStage.Example) {
            lock.lock(); defer { lock.unlock() }
            gathered.append(example)
        }

        var examples: [TemporalStage.Example] {
            lock.lock(); defer { lock.unlock() }
            return gathered
        }
    }
}
