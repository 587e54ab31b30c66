import Foundation

/// The settings of a `train` run.
public struct TrainOptions: Sendable, Equatable {
    /// Architecture.
    public var architecture = Architecture.simple
    /// Label kind.
    public var labels = LabelKind.single
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
    /// Momentum.
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
    /// Mean data loss of the step's batch.
    public var crossEntropy: Double
    /// Data loss plus weight decay.
    public var totalLoss: Double
    /// Learning rate used.
    public var learningRate: Float
    /// Accuracy on the step's batch.
    public var trainAccuracy: Double
    /// Accuracy on the valid split, on evaluation steps.
    public var validAccuracy: Double?
    /// Training throughput since the previous row.
    public var imagesPerSecond: Double
}

/// Accuracy and error summary on one split.
public struct Evaluation: Sendable, Equatable {
    /// Examples evaluated.
    public var count: Int
    /// Step accuracy: argmax equals the label (single), or the predicted key set equals the true one (multi).
    public var accuracy: Double
    /// Single labels: wrong by one semitone.
    public var semitoneErrors: Int
    /// Single labels: wrong by a whole number of octaves.
    public var octaveErrors: Int
    /// Single labels: a note predicted where there is none, or none where there is one.
    public var silenceErrors: Int
    /// Multi labels: (example, key) pairs predicted and sounding, predicted only, sounding only.
    public var keyCounts = (truePositives: 0, falsePositives: 0, falseNegatives: 0)

    /// Multi labels: precision, recall and F1 over (example, key) pairs, the frame-level measure of polyphonic transcription.
    public var keyScores: (precision: Double, recall: Double, f1: Double) {
        let k = keyCounts
        let precision = k.truePositives == 0 ? 0 : Double(k.truePositives) / Double(k.truePositives + k.falsePositives)
        let recall = k.truePositives == 0 ? 0 : Double(k.truePositives) / Double(k.truePositives + k.falseNegatives)
        return (precision, recall, harmonicMean(precision, recall))
    }

    public static func == (a: Evaluation, b: Evaluation) -> Bool {
        (a.count, a.accuracy, a.semitoneErrors, a.octaveErrors, a.silenceErrors) == (b.count, b.accuracy, b.semitoneErrors, b.octaveErrors, b.silenceErrors)
            && a.keyCounts == b.keyCounts
    }
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
    let optimiser: MomentumSGD
    var rng: SeededGenerator
    private var stream: ArchiveSet.Stream?
    private var buffer: [(pixels: ArraySlice<UInt8>, label: Int, notes: ArraySlice<UInt8>)] = []

    /// Prepares training on one archive.
    public convenience init(archive: ArchiveReader, options: TrainOptions) throws {
        try self.init(archives: ArchiveSet(archive), options: options)
    }

    /// Prepares training: checks the archives have train examples and the crop fits.
    public init(archives: ArchiveSet, options: TrainOptions) throws {
        self.archive = archives
        self.options = options
        let size = archives.frontEnd.geometry.size
        if let crop = options.crop, crop > size || crop < 8 {
            throw StageFailure("--crop \(crop) does not fit \(size)x\(size) thumbnails")
        }
        guard archives.count("train") > 0 else { throw FileError(archives.path, "the train split is empty") }
        pipeline = InputPipeline(size: size, crop: options.crop, distort: options.distort, flip: options.flip)
        network = Network(options.architecture, labels: options.labels, size: pipeline.crop, seed: options.seed)
        optimiser = MomentumSGD(momentum: options.momentum, weightDecay: options.weightDecay)
        rng = SeededGenerator(seed: options.seed ^ 0x5EED)
        setBLASThreads(options.threads)
    }

    /// Draws the next training example: refills the shuffle buffer from the stream (restarting it
    /// at the end of each epoch) and takes a random element out.
    func nextExample() throws -> (pixels: ArraySlice<UInt8>, label: Int, notes: ArraySlice<UInt8>) {
        let size = pipeline.size * pipeline.size
        while buffer.count < options.shuffleBuffer {
            if stream == nil { stream = try archive.examples("train", chunk: 1024) }
            guard let chunk = try stream!.next() else {
                stream = nil
                if buffer.isEmpty { continue }
                break
            }
            for i in 0 ..< chunk.count {
                buffer.append((chunk.images[i * size ..< (i + 1) * size], Int(chunk.labels[i]), chunk.notes[i * 88 ..< (i + 1) * 88]))
            }
        }
        let index = Int.random(in: 0 ..< buffer.count, using: &rng)
        buffer.swapAt(index, buffer.count - 1)
        return buffer.removeLast()
    }

    /// Runs one optimisation step; returns the batch's data loss and accuracy.
    public func step(_ number: Int) throws -> (loss: Double, accuracy: Double) {
        let batch = options.batch, inputs = pipeline.crop * pipeline.crop
        var images = [Float](), labels = [Int](), targets = [Float]()
        images.reserveCapacity(batch * inputs)
        for _ in 0 ..< batch {
            let example = try nextExample()
            images += pipeline.prepare(example.pixels, training: true, rng: &rng)
            labels.append(example.label)
            targets += example.notes.map(Float.init)
        }
        network.zeroGradients()
        let logits = network.forward(images, batch: batch)
        let (loss, gradient) = network.loss(logits, labels: labels, targets: targets, batch: batch)
        network.backward(gradient)
        optimiser.step(network.parameters, learningRate: options.learningRate(at: number - 1))
        let correct = zip(predictions(logits, batch: batch), zip(labels, targets.chunked(88))).filter { isCorrect($0, $1.0, $1.1) }.count
        return (loss, Double(correct) / Double(batch))
    }

    /// The network's prediction per example: the class (single) or the set of keys above 0.5 (multi).
    func predictions(_ logits: [Float], batch: Int) -> [[Int]] {
        let outputs = options.labels.outputs
        return (0 ..< batch).map { n in
            let row = logits[n * outputs ..< (n + 1) * outputs]
            switch options.labels {
            case .single: return [row.indices.max { row[$0] < row[$1] }! - n * outputs]
            case .multi: return row.indices.filter { row[$0] > 0 }.map { $0 - n * outputs }  // sigmoid > 0.5
            }
        }
    }

    func isCorrect(_ predicted: [Int], _ label: Int, _ notes: ArraySlice<Float>) -> Bool {
        switch options.labels {
        case .single: return predicted == [label]
        case .multi: return predicted == notes.indices.filter { notes[$0] > 0.5 }.map { $0 - notes.startIndex }
        }
    }

    /// Accuracy (and, for single labels, the error kinds) on a whole split, streamed.
    public func evaluate(_ split: String, limit: Int? = nil) throws -> Evaluation {
        let stream = try archive.examples(split, chunk: 256)
        let size = pipeline.size * pipeline.size
        var result = Evaluation(count: 0, accuracy: 0, semitoneErrors: 0, octaveErrors: 0, silenceErrors: 0)
        var correct = 0
        var noRandom = SeededGenerator(seed: 0)
        while let chunk = try stream.next(), result.count < (limit ?? .max) {
            var images = [Float]()
            for i in 0 ..< chunk.count { images += pipeline.prepare(chunk.images[i * size ..< (i + 1) * size], training: false, rng: &noRandom) }
            let logits = network.forward(images, batch: chunk.count)
            for (i, predicted) in predictions(logits, batch: chunk.count).enumerated() {
                let label = Int(chunk.labels[i])
                let notes = chunk.notes[i * 88 ..< (i + 1) * 88].map(Float.init)
                if options.labels == .multi {
                    let truth = Set(notes.indices.filter { notes[$0] > 0.5 }), guessed = Set(predicted)
                    result.keyCounts.truePositives += truth.intersection(guessed).count
                    result.keyCounts.falsePositives += guessed.subtracting(truth).count
                    result.keyCounts.falseNegatives += truth.subtracting(guessed).count
                }
                if isCorrect(predicted, label, notes[...]) {
                    correct += 1
                } else if options.labels == .single, let guess = predicted.first {
                    if guess == 0 || label == 0 { result.silenceErrors += 1 }
                    else if abs(guess - label) == 1 { result.semitoneErrors += 1 }
                    else if abs(guess - label) % 12 == 0 { result.octaveErrors += 1 }
                }
            }
            result.count += chunk.count
        }
        result.accuracy = result.count == 0 ? 0 : Double(correct) / Double(result.count)
        return result
    }
}

extension Array {
    /// Consecutive slices of `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0 ..< Swift.min(count, $0 + size)] }
    }
}
