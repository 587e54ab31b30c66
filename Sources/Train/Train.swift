import ArgumentParser
import Foundation
import PianoKit
import StageOptions

@main
struct Train: ParsableCommand {
    static func main() { stageMain(usesBLAS: true) }

    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a CNN (the paper's or any network spec) on a packed archive and write a safetensors model.",
        usage: "train ARCHIVE... -o MODEL [--arch simple|original|SPEC.json] [--heads single|frame|frame,onset] [options]",
        discussion: """
        Streams the archive's train split through a shuffle buffer (memory stays flat), trains \
        with momentum SGD (the paper's; default for simple and original) or Adam (default for \
        spec files), weight decay added to the loss and a staircase learning-rate decay, \
        evaluates on the valid split every --eval-every steps, and writes beside the model: \
        <model>.log.csv (step, loss, total loss, learning rate, train and valid accuracy of the \
        first head, images/s, and each head's loss when there are several), <model>.loss.svg, \
        and <model>.checkpoint.safetensors (for --resume). A network is a trunk of layers and \
        output heads (single: the paper's 128-way softmax; frame: 88 sigmoids for the sounding \
        keys; onset: 88 sigmoids for the keys whose note starts), described by a JSON spec \
        (Schemas/network.md). At the end it reports each head's test scores. The model's \
        metadata holds the spec, the input shape and the archive's front end (Schemas/model.md).
        """,
        version: toolkitVersion)

    @Argument(help: "The archive written by pack, or several (e.g. its shards), read as one dataset.")
    var archives: [String]

    @OptionGroup var outputOption: OutputOption

    @Option(help: "The network: original (the paper's two conv layers, two dense), simple (one conv layer), or a network spec JSON file.")
    var arch = NetworkSpec.Named.simple.rawValue

    @Option(help: ArgumentHelp("The output heads, comma-separated: single, frame, onset (default: single for a named network, the spec's own for a file).", valueName: "kinds"),
            transform: Train.parseHeads)
    var heads: [HeadKind]?

    @Option(help: ArgumentHelp("Shorthand for --heads: single, or multi (= frame).", visibility: .hidden))
    var labels: String?

    @Option(help: "sgd (momentum 0.9) or adam; default sgd for simple and original, adam for spec files.")
    var optimizer: OptimizerKind?

    @Option(help: "Optimisation steps.")
    var steps = 5000

    @Option(help: "Examples per step.")
    var batch = 128

    @Option(help: "Initial learning rate (default 0.01 for sgd, 0.001 for adam).")
    var lr: Float?

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

    @OptionGroup var jobsOption: JobsOption

    @Option(help: ArgumentHelp("The older spelling of --jobs (BLAS threads).", visibility: .hidden))
    var threads: Int?

    @Option(help: "Resume from a checkpoint written by an earlier run.")
    var resume: String?

    func validate() throws {
        guard steps > 0, batch > 0, evalEvery > 0, shuffleBuffer > 0, threads ?? 1 > 0 else {
            throw ValidationError("--steps, --batch, --eval-every, --shuffle-buffer and --jobs must be positive")
        }
        guard lr ?? 1 > 0, lrDecaySteps > 0, lrDecayRate > 0, weightDecay >= 0 else { throw ValidationError("learning-rate settings must be positive") }
    }

    static func parseHeads(_ text: String) throws -> [HeadKind] {
        try text.split(separator: ",").map { name in
            guard let kind = HeadKind(rawValue: String(name)) else {
                throw ValidationError("unknown head '\(name)' (\(HeadKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return kind
        }
    }

    func run() throws {
        var options = TrainOptions()
        if heads != nil, labels != nil { throw ValidationError("--heads and --labels exclude each other") }
        let legacy: [HeadKind]? = try labels.map {
            guard let kind = ["single": HeadKind.single, "multi": .frame][$0] else { throw ValidationError("--labels is single or multi") }
            return [kind]
        }
        options.network = try NetworkSpec.resolve(arch, heads: heads ?? legacy)
        options.networkPath = NetworkSpec.Named(rawValue: arch) == nil ? arch : nil
        options.optimizer = optimizer ?? (NetworkSpec.Named(rawValue: arch) != nil ? .sgd : .adam)
        options.steps = steps
        options.batch = batch
        options.learningRate = lr ?? options.optimizer.defaultLearningRate
        options.decaySteps = fastDecay ? 500 : lrDecaySteps
        options.decayRate = fastDecay ? 0.1 : lrDecayRate
        options.weightDecay = weightDecay
        options.crop = crop
        options.distort = distort
        options.flip = flip
        options.evalEvery = evalEvery
        options.shuffleBuffer = shuffleBuffer
        options.seed = seed
        options.threads = threads ?? jobsOption.jobs
        try TrainRun(archivePaths: archives, output: outputOption.output, options: options, resume: resume).run()
    }
}

extension OptimizerKind: ExpressibleByArgument {}
