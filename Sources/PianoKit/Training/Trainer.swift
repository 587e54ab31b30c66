import Foundation

/// The settings of a `train` run.
public struct TrainOptions: Sendable, Equatable {
    /// The network: a named paper spec or a spec file's (its heads say what it learns).
    public var network = NetworkSpec.named(.simple)
    /// The spec file `network` came from, named in errors (nil for a named network).
    public var networkPath: String?
    /// The optimiser.
    public var optimizer = OptimizerKind.sgd
    /// Optimisation steps.
    public var steps = 5000
    /// Examples per step.
    public var batch = 128
    /// Initial learning rate.
    public var learningRate: Float = 0.01
    /// Steps per learning-rate decay (staircase).
    public var decaySteps = 2000
    /// Factor per decay.
    public var decayRate: Float = 0.1
    /// Momentum (SGD).
    public var momentum: Float = 0.9
    /// Weight decay.
    public var weightDecay: Float = 0.0005
    /// Random crop size (nil: the whole thumbnail).
    public var crop: Int?
    /// Random distortions while training (off by default: see `train --help`).
    public var distort = false
    /// Random left-right flips while training.
    public var flip = false
    /// Examples held for shuffling the streamed train split.
    public var shuffleBuffer = 20_000
    /// Steps between validation passes and checkpoints.
    public var evalEvery = 500
    /// Seed for initialisation, shuffling and distortion.
    public var seed: UInt64 = 1
    /// BLAS threads.
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    /// Default settings.
    public init() {}

    /// The learning rate at `step`: lr x rate^floor(step / decaySteps).
    public func learningRate(at step: Int) -> Float {
        learningRate * pow(decayRate, Float(step / max(1, decaySteps)))
    }
}

/// One row of the training log.
public struct TrainLogRow: Sendable, Equatable {
    /// Step number (1-based).
    public var step: Int
    /// Mean data loss of the step's batch (the heads' weighted sum).
    public var crossEntropy: Double
    /// Data loss plus weight decay.
    public var totalLoss: Double
    /// Learning rate used.
    public var learningRate: Float
    /// The primary (first) head's accuracy on the step's batch.
    public var trainAccuracy: Double
    /// The primary head's accuracy on the valid split, on evaluation steps.
    public var validAccuracy: Double?
    /// Training throughput since the previous row.
    public var imagesPerSecond: Double
    /// Each head's mean data loss, in the network's head order (written as `loss_<kind>` columns when there are several).
    public var headLosses: [Double] = []
}

/// Each head's scores on one split.
public struct Evaluation: Sendable, Equatable {
    /// Examples evaluated.
    public var count: Int
    /// Per head, in the network's head order.
    public var heads: [HeadScore]

    /// The primary (first) head's exact accuracy.
    public var accuracy: Double { heads.first?.accuracy ?? 0 }
    /// The primary head's key precision, recall and F1 (key heads).
    public var keyScores: (precision: Double, recall: Double, f1: Double) { heads.first?.keyScores ?? (0, 0, 0) }
    /// The score of the head of `kind`.
    public func head(_ kind: HeadKind) -> HeadScore? { heads.first { $0.kind == kind } }
}

/// Trains a network on a packed archive, streaming the train split through a shuffle buffer.
public final class Trainer {
    /// The archive (or shards) trained on.
    public let archive: ArchiveSet
    /// The settings.
    public let options: TrainOptions
    /// The network being trained.
    public let network: Network
    /// The input pipeline.
    public let pipeline: InputPipeline
    let optimiser: any Optimizer
    var rng: SeededGenerator
    private var stream: ArchiveSet.Stream?
    private var buffer: [Example] = []

    /// One buffered training example: its pixels and targets.
    struct Example {
        var pixels: ArraySlice<UInt8>
        var label: Int
        var notes: ArraySlice<UInt8>
        var onsets: ArraySlice<UInt8>
        var offsets: ArraySlice<UInt8>
    }

    /// Prepares training on one archive.
    public convenience init(archive: ArchiveReader, options: TrainOptions) throws {
        try self.init(archives: ArchiveSet(archive), options: options)
    }

    /// Prepares training: checks the archives have train examples, carry every head's target,
    /// the crop fits, and the spec builds for the thumbnails (before allocating it).
    public init(archives: ArchiveSet, options: TrainOptions) throws {
        self.archive = archives
        self.options = options
        let geometry = archives.frontEnd.geometry
        if let crop = options.crop, crop > min(geometry.rows, geometry.columns) || crop < 8 {
            throw StageFailure("--crop \(crop) does not fit \(geometry) thumbnails")
        }
        guard archives.count("train") > 0 else { throw FileError(archives.path, "the train split is empty") }
        for head in options.network.heads where !Self.carries(archives, head.kind) {
            throw FileError(archives.path, "the archive has no \(head.kind.rawValue) targets for the network's \(head.kind.rawValue) head; re-run spectro and pack with this version\(head.kind == .offset ? " and --offsets" : "")")
        }
        if options.network.normalization != nil, options.distort {
            throw StageFailure("network \(options.network.name) has a fixed input normalization: train it without --distort")
        }
        pipeline = InputPipeline(geometry: geometry, crop: options.crop, distort: options.distort, flip: options.flip, normalization: options.network.normalization)
        let input = pipeline.inputShape
        do {
            network = try Network(options.network, input: input, seed: options.seed)
        } catch let error as FormatError {
            let message = "network \(options.network.name) for \(input.height)x\(input.width) thumbnails: \(error.message)"
            if let path = options.networkPath { throw FileError(path, message) }
            throw StageFailure(message)
        }
        switch options.optimizer {
        case .sgd: optimiser = MomentumSGD(momentum: options.momentum, weightDecay: options.weightDecay)
        case .adam: optimiser = Adam(weightDecay: options.weightDecay)
        }
        rng = SeededGenerator(seed: options.seed ^ 0x5EED)
        setBLASThreads(options.threads)
    }

    /// Whether every archive of `set` carries the target a head of `kind` trains on.
    static func carries(_ set: ArchiveSet, _ kind: HeadKind) -> Bool {
        set.archives.allSatisfy { $0.manifest.labels.targets.contains(kind.rawValue) }
    }

    /// Draws the next training example: refills the shuffle buffer from the stream (restarting it
    /// at the end of each epoch) and takes a random element out.
    func nextExample() throws -> Example {
        let size = pipeline.geometry.pixels, keys = pianoKeys.count
        while buffer.count < options.shuffleBuffer {
            if stream == nil { stream = try archive.examples("train", chunk: 1024) }
            guard let chunk = try stream!.next() else {
                stream = nil
                if buffer.isEmpty { continue }
                break
            }
            let onsets = chunk.onsets.isEmpty ? nil : chunk.onsets, offsets = chunk.offsets.isEmpty ? nil : chunk.offsets
            for i in 0 ..< chunk.count {
                let keyRange = i * keys ..< (i + 1) * keys
                buffer.append(Example(pixels: chunk.images[i * size ..< (i + 1) * size], label: Int(chunk.labels[i]),
                                      notes: chunk.notes[keyRange], onsets: onsets?[keyRange] ?? [], offsets: offsets?[keyRange] ?? []))
            }
        }
        let index = Int.random(in: 0 ..< buffer.count, using: &rng)
        buffer.swapAt(index, buffer.count - 1)
        return buffer.removeLast()
    }

    /// The next training batch: `batch` examples drawn from the shuffle buffer, each prepared
    /// (standardised, and distorted when asked) with the trainer's random numbers.
    func nextBatch() throws -> (images: [Float], targets: TargetBatch) {
        var images = [Float](), targets = TargetBatch()
        images.reserveCapacity(options.batch * network.input.count)
        for _ in 0 ..< options.batch {
            let example = try nextExample()
            images += pipeline.prepare(example.pixels, training: true, rng: &rng)
            targets.append(label: example.label, notes: example.notes, onsets: example.onsets, offsets: example.offsets)
        }
        return (images, targets)
    }

    /// Draws the batches of `steps` training steps without training on them, so that a run
    /// resumed after step `steps` goes on with the batches (shuffle and distortions) an
    /// uninterrupted run would have drawn: the checkpoint holds the weights and the optimiser,
    /// this rebuilds the data pipeline's state. Costs reading and preparing the examples only.
    public func replay(steps: Int) throws {
        for _ in 0 ..< steps { _ = try nextBatch() }
    }

    /// Runs one optimisation step; returns the batch's weighted data loss, each head's loss, and
    /// the primary head's accuracy.
    public func step(_ number: Int) throws -> (loss: Double, heads: [Double], accuracy: Double) {
        let batch = options.batch
        let (images, targets) = try nextBatch()
        network.zeroGradients()
        let logits = network.forward(images, batch: batch)
        let (loss, heads, gradients) = network.loss(logits, targets: targets)
        network.backward(gradients)
        optimiser.step(network.parameters, learningRate: options.learningRate(at: number - 1))
        var primary = HeadScore(kind: network.heads[0].kind)
        network.heads[0].rule.score(logits[0], targets: targets, into: &primary)
        return (loss, heads, primary.accuracy)
    }

    /// Every head's scores on a whole split, streamed (at most about `limit` examples);
    /// `progress` hears the examples done after each chunk.
    public func evaluate(_ split: String, limit: Int? = nil, progress: (Int) -> Void = { _ in }) throws -> Evaluation {
        let stream = try archive.examples(split, chunk: 256)
        let size = pipeline.geometry.pixels, keys = pianoKeys.count
        var result = Evaluation(count: 0, heads: network.heads.map { HeadScore(kind: $0.kind) })
        var noRandom = SeededGenerator(seed: 0)
        while let chunk = try stream.next(), result.count < (limit ?? .max) {
            var images = [Float](), targets = TargetBatch()
            for i in 0 ..< chunk.count {
                images += pipeline.prepare(chunk.images[i * size ..< (i + 1) * size], training: false, rng: &noRandom)
                let keyRange = i * keys ..< (i + 1) * keys
                targets.append(label: Int(chunk.labels[i]), notes: chunk.notes[keyRange],
                               onsets: chunk.onsets.isEmpty ? [] : chunk.onsets[keyRange], offsets: chunk.offsets.isEmpty ? [] : chunk.offsets[keyRange])
            }
            let logits = network.infer(images, batch: chunk.count)
            for (h, head) in network.heads.enumerated() { head.rule.score(logits[h], targets: targets, into: &result.heads[h]) }
            result.count += chunk.count
            progress(result.count)
        }
        return result
    }
}
