import Foundation

/// One `train` run: steps, periodic validation and checkpoints, a CSV log, a loss plot, the final
/// model and a test evaluation. Outputs sit beside the model: `<model>.log.csv`,
/// `<model>.loss.svg`, `<model>.checkpoint.safetensors`.
public struct TrainRun {
    /// The archive paths (shards or several archives are read as one dataset, in order).
    public var archivePaths: [String]
    /// The model path.
    public var output: String
    /// The settings.
    public var options: TrainOptions
    /// A checkpoint to resume from.
    public var resume: String?

    /// Creates a run on one archive.
    public init(archivePath: String, output: String, options: TrainOptions, resume: String? = nil) {
        self.init(archivePaths: [archivePath], output: output, options: options, resume: resume)
    }

    /// Creates a run on several archives (e.g. the shards of one `pack --shard-size` run).
    public init(archivePaths: [String], output: String, options: TrainOptions, resume: String? = nil) {
        self.archivePaths = archivePaths
        self.output = output
        self.options = options
        self.resume = resume
    }

    var stem: String { output.hasSuffix(".safetensors") ? String(output.dropLast(".safetensors".count)) : output }
    /// The CSV log's path.
    public var logPath: String { stem + ".log.csv" }
    /// The plot's path.
    public var plotPath: String { stem + ".loss.svg" }
    /// The checkpoint's path.
    public var checkpointPath: String { stem + ".checkpoint.safetensors" }

    /// Trains; prints progress and the final evaluation on stderr; returns the test evaluation.
    @discardableResult
    public func run() throws -> (test: Evaluation, log: [TrainLogRow]) {
        let archive = try ArchiveSet(paths: archivePaths)
        try AtomicWrite.createParent(of: output)  // an unwritable output fails now, not after training
        for path in [output, logPath, plotPath, checkpointPath] { AtomicWrite.removeStale(for: path) }
        let trainer = try Trainer(archives: archive, options: options)
        var first = 1
        var rows: [TrainLogRow] = []
        if let resume {
            first = try restore(resume, into: trainer) + 1
            rows = (try? readLog()) ?? []
            rows.removeAll { $0.step >= first }
        }
        let frontEnd = archive.frontEnd
        let progress = Progress(total: max(0, options.steps - first + 1), label: "train")
        var lastTime = Date(), lastStep = first - 1
        var lossSum = 0.0, accuracySum = 0.0, counted = 0
        for step in stride(from: first, through: options.steps, by: 1) {
            let (loss, accuracy) = try trainer.step(step)
            guard loss.isFinite else { throw StageFailure("training diverged at step \(step) (loss \(loss)); try a smaller --lr") }
            lossSum += loss; accuracySum += accuracy; counted += 1
            progress.advance()
            let evaluate = step % options.evalEvery == 0 || step == options.steps
            if step % 50 == 0 || evaluate {
                let now = Date()
                let rate = Double((step - lastStep) * options.batch) / max(now.timeIntervalSince(lastTime), 1e-9)
                let valid = evaluate && archive.count("valid") > 0 ? try trainer.evaluate("valid").accuracy : nil
                let crossEntropy = lossSum / Double(counted)
                rows.append(TrainLogRow(step: step, crossEntropy: crossEntropy,
                                        totalLoss: crossEntropy + trainer.network.weightDecayLoss(rate: Double(options.weightDecay)),
                                        learningRate: options.learningRate(at: step - 1), trainAccuracy: accuracySum / Double(counted),
                                        validAccuracy: valid, imagesPerSecond: rate))
                lossSum = 0; accuracySum = 0; counted = 0
                if let valid { progress.warn(String(format: "step %d: loss %.4f, train accuracy %.3f, valid accuracy %.3f, %.0f images/s", step, crossEntropy, rows.last!.trainAccuracy, valid, rate)) }
                if evaluate {
                    try writeLog(rows)
                    try AtomicWrite.write(try checkpoint(trainer, step: step, frontEnd: frontEnd), to: checkpointPath)
                }
                lastTime = Date()
                lastStep = step
            }
        }
        progress.finish()
        try writeLog(rows)
        try AtomicWrite.write(Data(LossPlot.svg(rows, title: "\(options.architecture.rawValue) network, \(options.labels.rawValue) labels").utf8), to: plotPath)
        try AtomicWrite.write(try ModelFile.encode(trainer.network, frontEnd: frontEnd, extra: metadata(steps: options.steps)), to: output)
        let test = try trainer.evaluate("test")
        var summary = String(format: "test: %d examples, accuracy %.4f", test.count, test.accuracy)
        if options.labels == .single && test.count > 0 {
            let wrong = test.count - Int((test.accuracy * Double(test.count)).rounded())
            summary += "; of \(wrong) errors: \(test.semitoneErrors) off by a semitone, \(test.octaveErrors) by octaves, \(test.silenceErrors) note/silence confusions"
        }
        if options.labels == .multi && test.count > 0 {
            let keys = test.keyScores
            summary += String(format: " (exact key sets); keys: precision %.4f, recall %.4f, F1 %.4f", keys.precision, keys.recall, keys.f1)
        }
        printError(summary)
        return (test, rows)
    }

    func metadata(steps: Int) -> [String: String] {
        ["steps": String(steps), "batch": String(options.batch), "seed": String(options.seed), "archive": archivePaths.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ","),
         "crop": String(options.crop ?? 0), "distort": String(options.distort), "flip": String(options.flip)]
    }

    /// The model plus momentum buffers and the step, so a run can resume.
    func checkpoint(_ trainer: Trainer, step: Int, frontEnd: ArchiveManifest.FrontEndRecord) throws -> Data {
        let model = try ModelFile.encode(trainer.network, frontEnd: frontEnd, extra: metadata(steps: options.steps).merging(["step": String(step)]) { $1 })
        var (tensors, meta) = try SafeTensors.decode(model)
        for p in trainer.network.parameters {
            tensors["momentum." + p.name] = Tensor(shape: p.shape, values: trainer.optimiser.velocity(of: p))
        }
        meta["checkpoint"] = "true"
        return try SafeTensors.encode(tensors, metadata: meta)
    }

    /// Loads a checkpoint into `trainer`; returns its step.
    func restore(_ path: String, into trainer: Trainer) throws -> Int {
        let data = Data(try Paths.readBytes(path, limit: 1 << 30))
        let (tensors, meta): ([String: Tensor], [String: String])
        do { (tensors, meta) = try SafeTensors.decode(data) } catch { throw FileError.wrap(error, path: path) }
        guard meta["checkpoint"] == "true", let step = meta["step"].flatMap(Int.init) else { throw FileError(path, "not a training checkpoint") }
        guard meta["architecture"] == options.architecture.rawValue, meta["labels"] == options.labels.rawValue,
              meta["inputSize"] == String(trainer.pipeline.crop) else {
            throw FileError(path, "checkpoint is a \(meta["architecture"] ?? "?") / \(meta["labels"] ?? "?") / \(meta["inputSize"] ?? "?") network, not \(options.architecture.rawValue) / \(options.labels.rawValue) / \(trainer.pipeline.crop)")
        }
        for p in trainer.network.parameters {
            guard let value = tensors[p.name], let velocity = tensors["momentum." + p.name], value.shape == p.shape, velocity.shape == p.shape else {
                throw FileError(path, "checkpoint lacks \(p.name) or its momentum with shape \(p.shape)")
            }
            p.value = value.values
            trainer.optimiser.setVelocity(velocity.values, of: p)
        }
        return step
    }

    static let header = "step,cross_entropy,total_loss,learning_rate,train_accuracy,valid_accuracy,images_per_second"

    func writeLog(_ rows: [TrainLogRow]) throws {
        var text = Self.header + "\n"
        for r in rows {
            text += "\(r.step),\(String(format: "%.6f", r.crossEntropy)),\(String(format: "%.6f", r.totalLoss)),\(r.learningRate),\(String(format: "%.4f", r.trainAccuracy)),\(r.validAccuracy.map { String(format: "%.4f", $0) } ?? ""),\(String(format: "%.1f", r.imagesPerSecond))\n"
        }
        try AtomicWrite.write(Data(text.utf8), to: logPath)
    }

    func readLog() throws -> [TrainLogRow] {
        let text = try String(contentsOfFile: logPath, encoding: .utf8)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 7, let step = Int(f[0]), let ce = Double(f[1]), let total = Double(f[2]), let lr = Float(f[3]),
                  let train = Double(f[4]), let rate = Double(f[6]) else { return nil }
            return TrainLogRow(step: step, crossEntropy: ce, totalLoss: total, learningRate: lr, trainAccuracy: train, validAccuracy: Double(f[5]), imagesPerSecond: rate)
        }
    }
}
