import ArgumentParser
import Foundation
import PianoKit
import StageOptions

/// Times training steps and inference of a network (named or a spec file) on random batches, for
/// bench/train.sh to set beside PyTorch: prints "train IMAGES_PER_SECOND infer IMAGES_PER_SECOND".
@main
struct BenchTrain: ParsableCommand {
    static func main() { stageMain(usesBLAS: true) }

    static let configuration = CommandConfiguration(commandName: "bench-train", abstract: "Images/s of training steps and inference on random data.", version: toolkitVersion)

    @Option(help: "simple, original, or a network spec file.") var arch = "simple"
    @Option(help: "Input rows.") var rows = 32
    @Option(help: "Input columns (default: --rows).") var columns: Int?
    @Option var batch = 128
    @Option var steps = 10
    @Option var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print the network's forward FLOPs per image, the sgemm peak (GFLOP/s) at --threads, and the FLOPs per step of sliding evaluation (0 where the network cannot slide) instead.")
    var peak = false
    @Flag(help: "Time inference only (prints train 0): a profile of the forward pass alone.")
    var inferOnly = false
    @Option(help: ArgumentHelp("Also write the network's initial weights as a model file (for a peer to start from the same weights).", valueName: "path"))
    var modelOut: String?

    func run() throws {
        let input = ActivationShape(channels: 1, height: rows, width: columns ?? rows)
        let network = try Network(try NetworkSpec.resolve(arch, heads: nil), input: input, seed: 1)
        if let modelOut {
            let frontEnd = ArchiveManifest.FrontEndRecord(transform: .pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 36), decibels: DecibelScale(),
                                                          geometry: ThumbnailGeometry(rows: input.height, columns: input.width, context: input.width), quality: 90, every: 1)
            try AtomicWrite.write(ModelFile.encode(network, frontEnd: frontEnd), to: modelOut)
        }
        if peak {
            // The third figure: per step when infer slides the network over a recording (0 if it cannot).
            let sliding = SlidingEvaluator.refusal(network) == nil ? try SlidingEvaluator(network).flopsPerWindow : 0
            print(String(format: "flops %d sgemm_gflops %.2f sliding_flops %d", network.forwardFLOPs, sgemmPeakGFLOPS(threads: threads), sliding))
            return
        }
        setBLASThreads(threads)
        let optimiser = MomentumSGD()
        var rng = SeededGenerator(seed: 2)
        let images = (0 ..< batch * input.count).map { _ in Float.random(in: -1 ... 1, using: &rng) }
        var targets = TargetBatch()
        for _ in 0 ..< batch {
            let keys = (0 ..< 88).map { _ in UInt8(Int.random(in: 0 ..< 10, using: &rng) == 0 ? 1 : 0) }
            targets.append(label: Int.random(in: 0 ..< 128, using: &rng), notes: keys[...], onsets: keys[...])
        }
        func trainStep() {
            network.zeroGradients()
            network.backward(network.loss(network.forward(images, batch: batch), targets: targets).gradients)
            optimiser.step(network.parameters, learningRate: 0.001)
        }
        var train = 0.0, start = Date()
        if !inferOnly {
            trainStep()
            start = Date()
            for _ in 0 ..< steps { trainStep() }
            train = Double(steps * batch) / Date().timeIntervalSince(start)
        }
        _ = network.infer(images, batch: batch)
        start = Date()
        for _ in 0 ..< steps { _ = network.infer(images, batch: batch) }
        let infer = Double(steps * batch) / Date().timeIntervalSince(start)
        print(String(format: "train %.1f infer %.1f", train, infer))
    }
}

