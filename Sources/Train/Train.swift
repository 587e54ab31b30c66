import ArgumentParser
import Foundation
import PianoKit

@main
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the paper's CNN on a packed archive and write a safetensors model.",
        discussion: """
        Streams the archive's train split through a shuffle buffer (memory stays flat), runs SGD \
        with momentum 0.9 and weight decay (added to the loss) with a staircase learning-rate \
        decay, evaluates on the valid split every --eval-every steps, and writes beside the \
        model: <model>.log.csv (step, cross-entropy, total loss, learning rate, train and valid \
        accuracy, images/s), <model>.loss.svg, and <model>.checkpoint.safetensors (for --resume). \
        At the end it reports test accuracy and, for single labels, how many errors are a \
        semitone or whole octaves off. The model's metadata holds the architecture, labels, \
        input size and the archive's front end (Schemas/model.md).
        """)

    @Argument(help: "The archive written by pack, or several (e.g. its shards), read as one dataset.")
    var archives: [String]

    @Option(name: .shortAndLong, help: "The model file to write.")
    var output: String

    @Option(help: "original (two conv layers, two dense) or simple (one conv layer).")
    var arch: Architecture = .simple

    @Option(help: "single (128-way softmax) or multi (88 sigmoids, polyphonic).")
    var labels: LabelKind = .single

    @Option(help: "Optimisation steps.")
    var steps = 5000

    @Option(help: "Examples per step.")
    var batch = 128

    @Option(help: "Initial learning rate.")
    var lr: Float = 0.01

    @Option(help: "Steps per learning-rate decay (staircase).")
    var lrDecaySteps = 2000

    @Option(help: "Learning-rate factor per decay.")
    var lrDecayRate: Float = 0.1

    @Flag(help: "Fast decay: the learning rate falls tenfold every 500 steps (overrides --lr-decay-*).")
    var fastDecay = false

    @Option(help: "Weight decay added to the loss.")
    var weightDecay: Float = 0.0005

    @Option(help: "Random crop size (the paper's 24); default: the whole thumbnail.")
    var crop: Int?

    @Flag(inversion: .prefixedNo, help: "Random crops (with --crop), brightness, contrast and flips (with --flip) while training, as the paper did. Off by default: they cost multi-label models a third of their frame F1 on an unseen piano.")
    var distort = false

    @Flag(help: "Random left-right (time) flips.")
    var flip = false

    @Option(help: "Steps between validation passes and checkpoints.")
    var evalEvery = 500

    @Option(help: "Examples in the shuffle buffer.")
    var shuffleBuffer = 20000

    @Option(help: "Seed for weights, shuffling and distortions.")
    var seed: UInt64 = 1

    @Option(help: "BLAS threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Resume from a checkpoint written by an earlier run.")
    var resume: String?

    func validate() throws {
        guard steps > 0, batch > 0, evalEvery > 0, shuffleBuffer > 0, threads > 0 else {
            throw ValidationError("--steps, --batch, --eval-every, --shuffle-buffer and --threads must be positive")
        }
        guard lr > 0, lrDecaySteps > 0, lrDecayRate > 0, weightDecay >= 0 else { throw ValidationError("learning-rate settings must be positive") }
    }

    func run() throws {
        var options = TrainOptions()
        options.architecture = arch
        options.labels = labels
        options.steps = steps
        options.batch = batch
        options.learningRate = lr
        options.decaySteps = fastDecay ? 500 : lrDecaySteps
        options.decayRate = fastDecay ? 0.1 : lrDecayRate
        options.weightDecay = weightDecay
        options.crop = crop
        options.distort = distort
        options.flip = flip
        options.evalEvery = evalEvery
        options.shuffleBuffer = shuffleBuffer
        options.seed = seed
        options.threads = threads
        try TrainRun(archivePaths: archives, output: output, options: options, resume: resume).run()
    }
}

extension Architecture: ExpressibleByArgument {}
extension LabelKind: ExpressibleByArgument {}
