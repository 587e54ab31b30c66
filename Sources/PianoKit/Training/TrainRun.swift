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
        guard archive.count("train") > 0 else {
            throw FileError(archive.path, "the train split is empty: nothing to train on (re-run pack with more recordings or another --split)")
        }
        if archive.count("valid") == 0 { printError("note: \(archive.path): no valid examples: training runs without validation") }
        try AtomicWrite.probeFile(output)  // an unwritable output fails now, not after training
        for path in [output, logPath, plotPath, checkpointPath] { AtomicWrite.removeStale(for: path) }
        let trainer = try Trainer(archives: archive, options: options)
        var first = 1
        var rows: [TrainLogRow] = []
        if let resume {
            let restored = try restore(resume, into: trainer)
            first = restored.step + 1
            if restored.step > 0 {
                printError("train: drawing the data of steps 1-\(restored.step) again, so the resumed run sees what an uninterrupted one would")
                try trainer.replay(steps: restored.step)
            }
            let csv = (try? readLog()) ?? []
            if let embedded = restored.log {
                // The checkpoint's own log (this run's, up to its step); the CSV beside it may
                // be another run's or lag behind, so it only lends images/s to matching rows.
                rows = embedded.map { row in
                    var row = row
                    if let same = csv.first(where: { $0.step == row.step }), Self.sameRun(same, row) { row.imagesPerSecond = same.imagesPerSecond }
                    return row
                }
            } else {  // a checkpoint written before logs were embedded
                rows = csv.filter { $0.step < first }
            }
        }
        let frontEnd = archive.frontEnd
        let progress = Progress(total: max(0, options.steps - first + 1), label: "train", unit: "steps")
        var lastTime = Date(), lastStep = first - 1
        var lossSum = 0.0, accuracySum = 0.0, counted = 0, headSums: [Double] = []
        for step in stride(from: first, through: options.steps, by: 1) {
            let (loss, heads, accuracy) = try trainer.step(step)
            guard loss.isFinite else { throw StageFailure("training diverged at step \(step) (loss \(loss)); try a smaller --lr") }
            lossSum += loss; accuracySum += accuracy; counted += 1
            if headSums.isEmpty { headSums = heads } else { for h in heads.indices { headSums[h] += heads[h] } }
            progress.advance()
            let evaluate = step % options.evalEvery == 0 || step == options.steps
            if step % 50 == 0 || evaluate {
                let now = Date()
                let rate = Double((step - lastStep) * options.batch) / max(now.timeIntervalSince(lastTime), 1e-9)
                let validCount = archive.count("valid")
                let validation = evaluate && validCount > 0 ? try trainer.evaluate("valid") { progress.setPhase("valid \($0)/\(validCount) examples") } : nil
                progress.setPhase(nil)
                let valid = validation?.accuracy
                let crossEntropy = lossSum / Double(counted)
                rows.append(TrainLogRow(step: step, crossEntropy: crossEntropy,
                                        totalLoss: crossEntropy + trainer.network.weightDecayLoss(rate: Double(options.weightDecay)),
                                        learningRate: options.learningRate(at: step - 1), trainAccuracy: accuracySum / Double(counted),
                                        validAccuracy: valid, imagesPerSecond: rate, headLosses: headSums.map { $0 / Double(counted) }))
                lossSum = 0; accuracySum = 0; counted = 0; headSums = []
                if let validation, let valid {
                    // With several heads, each one's loss; for key heads the valid key F1 says more than exact sets.
                    let heads = options.network.heads.count > 1
                        ? zip(validation.heads, rows.last!.headLosses).map { String(format: "; %@ loss %.4f", $0.kind.rawValue, $1) }.joined() : ""
                    let keys = validation.heads.filter { $0.kind != .single }.map { String(format: ", valid %@ key F1 %.3f", $0.kind.rawValue, $0.keyScores.f1) }.joined()
                    progress.warn(String(format: "step %d: loss %.4f, train accuracy %.3f, valid accuracy %.3f%@, %.0f images/s%@", step, crossEntropy, rows.last!.trainAccuracy, valid, keys, rate, heads))
                }
                if evaluate {
                    // The checkpoint first, holding its own log: the CSV written after it is never
                    // ahead of it, and a resume takes the log from the checkpoint (never from a CSV
                    // another run may have left).
                    try AtomicWrite.write(try checkpoint(trainer, step: step, frontEnd: frontEnd, log: rows), to: checkpointPath)
                    try writeLog(rows)
                }
                lastTime = Date()
                lastStep = step
            }
        }
        progress.finish()
        // The model first, then its log and plot: neither is ever newer than the model beside it.
        try AtomicWrite.write(try ModelFile.encode(trainer.network, frontEnd: frontEnd, extra: metadata(steps: options.steps)), to: output)
        try writeLog(rows)
        let heads = options.network.heads.map(\.kind.rawValue).joined(separator: "+")
        try AtomicWrite.write(Data(LossPlot.svg(rows, title: "\(options.network.name) network, \(heads) heads").utf8), to: plotPath)
        let testProgress = Progress(total: archive.count("test"), label: "test", unit: "examples")
        let test = try trainer.evaluate("test") { testProgress.set(done: Double($0)) }
        testProgress.finish()
        printError(test.count > 0 ? "test: \(test.count) examples" + test.heads.map { "\n  " + $0.summary }.joined()
                                  : "test: no test examples (the archive's test split is empty): no test scores")
        return (test, rows)
    }

    func metadata(steps: Int) -> [String: String] {
        ["toolkitVersion": Toolkit.version, "steps": String(steps), "batch": String(options.batch), "seed": String(options.seed), "archive": archivePaths.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ","),
         "crop": String(options.crop ?? 0), "distort": String(options.distort), "flip": String(options.flip), "optimizer": options.optimizer.rawValue]
    }

    /// The model plus the optimiser's state, the step and the log up to it, so a run can resume.
    ///
    /// `log` (metadata key `log`) is the CSV log of the rows so far with the `images_per_second`
    /// column left empty, so that the checkpoint's bytes depend only on the training (it stays
    /// byte-identical across runs with `--threads 1`).
    func checkpoint(_ trainer: Trainer, step: Int, frontEnd: ArchiveManifest.FrontEndRecord, log: [TrainLogRow] = []) throws -> Data {
        let model = try ModelFile.encode(trainer.network, frontEnd: frontEnd, extra: metadata(steps: options.steps).merging(["step": String(step)]) { $1 })
        var (tensors, meta) = try SafeTensors.decode(model)
        let state = trainer.optimiser.state(of: trainer.network.parameters)
        tensors.merge(state.tensors) { a, _ in a }
        meta.merge(state.metadata) { _, b in b }
        meta["checkpoint"] = "true"
        meta["log"] = logText(log.map { var row = $0; row.imagesPerSecond = .nan; return row })
        return try SafeTensors.encode(tensors, metadata: meta)
    }

    /// Whether two log rows of one step say the same, but for images/s (the same run's row).
    static func sameRun(_ a: TrainLogRow, _ b: TrainLogRow) -> Bool {
        var a = a, b = b
        a.imagesPerSecond = 0
        b.imagesPerSecond = 0
        return a == b
    }

    /// Loads a checkpoint into `trainer`; returns its step and the log it holds (nil for a
    /// checkpoint from before logs were embedded). The checkpoint must hold the same network
    /// (spec and input shape) and optimiser.
    func restore(_ path: String, into trainer: Trainer) throws -> (step: Int, log: [TrainLogRow]?) {
        let data = Data(try Paths.readBytes(path, limit: 1 << 30))
        let (tensors, meta): ([String: Tensor], [String: String])
        do { (tensors, meta) = try SafeTensors.decode(data) } catch { throw FileError.wrap(error, path: path) }
        guard meta["checkpoint"] == "true", let step = meta["step"].flatMap(Int.init) else { throw FileError(path, "not a training checkpoint") }
        let network = trainer.network
        let (spec, input): (NetworkSpec, ActivationShape)
        do { (spec, input) = try ModelFile.network(in: meta) } catch let error as FormatError { throw FileError(path, error.message) }
        guard spec == network.spec, input == network.input else {
            throw FileError(path, "checkpoint is a \(spec.name) network for \(input.height)x\(input.width) inputs, not the \(network.spec.name) network for \(network.input.height)x\(network.input.width) this run trains (or the specs differ)")
        }
        guard (meta["optimizer"] ?? OptimizerKind.sgd.rawValue) == options.optimizer.rawValue else {
            throw FileError(path, "checkpoint was trained with --optimizer \(meta["optimizer"] ?? "sgd"), not \(options.optimizer.rawValue)")
        }
        for p in network.parameters {
            guard let value = tensors[p.name], value.shape == p.shape else { throw FileError(path, "checkpoint lacks \(p.name) with shape \(p.shape)") }
            p.value = value.values
        }
        do { try trainer.optimiser.restore(network.parameters, tensors: tensors, metadata: meta) } catch let error as FormatError { throw FileError(path, error.message) }
        guard let text = meta["log"] else { return (step, nil) }
        let log = parseLog(text)
        guard log.allSatisfy({ $0.step <= step }), log.map(\.step) == log.map(\.step).sorted() else {
            throw FileError(path, "the checkpoint's log does not end at or before its step \(step)")
        }
        return (step, log)
    }

    static let header = "step,cross_entropy,total_loss,learning_rate,train_accuracy,valid_accuracy,images_per_second"

    /// The log's columns: the fixed ones, then `loss_<kind>` per head when the network has several.
    var logHeader: String {
        let heads = options.network.heads
        return Self.header + (heads.count > 1 ? heads.map { ",loss_\($0.kind.rawValue)" }.joined() : "")
    }

    /// The CSV text of `rows`; an images/s that is not finite (not measured) is left empty.
    func logText(_ rows: [TrainLogRow]) -> String {
        var text = logHeader + "\n"
        let perHead = options.network.heads.count > 1
        for r in rows {
            let rate = r.imagesPerSecond.isFinite ? String(format: "%.1f", r.imagesPerSecond) : ""
            text += "\(r.step),\(String(format: "%.6f", r.crossEntropy)),\(String(format: "%.6f", r.totalLoss)),\(r.learningRate),\(String(format: "%.4f", r.trainAccuracy)),\(r.validAccuracy.map { String(format: "%.4f", $0) } ?? ""),\(rate)"
            if perHead { text += r.headLosses.map { String(format: ",%.6f", $0) }.joined() }
            text += "\n"
        }
        return text
    }

    func writeLog(_ rows: [TrainLogRow]) throws {
        try AtomicWrite.write(Data(logText(rows).utf8), to: logPath)
    }

    func readLog() throws -> [TrainLogRow] {
        parseLog(try String(contentsOfFile: logPath, encoding: .utf8))
    }

    /// The rows of a CSV log (an empty images/s is read as NaN); lines that do not parse are skipped.
    func parseLog(_ text: String) -> [TrainLogRow] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7, let step = Int(f[0]), let ce = Double(f[1]), let total = Double(f[2]), let lr = Float(f[3]),
                  let train = Double(f[4]) else { return nil }
            return TrainLogRow(step: step, crossEntropy: ce, totalLoss: total, learningRate: lr, trainAccuracy: train, validAccuracy: Double(f[5]),
                               imagesPerSecond: Double(f[6]) ?? .nan, headLosses: f.dropFirst(7).compactMap(Double.init))
        }
    }
}
