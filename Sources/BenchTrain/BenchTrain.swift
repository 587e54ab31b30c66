import ArgumentParser
import Foundation
import PianoKit

/// Times training steps and inference of the paper's networks on random batches, for bench/train.sh
/// to set beside PyTorch: prints "train IMAGES_PER_SECOND infer IMAGES_PER_SECOND".
@main
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-train", abstract: "Images/s of training steps and inference on random data.")

    @Option var arch: Architecture = .simple
    @Option var size = 32
    @Option var batch = 128
    @Option var steps = 10
    @Option var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print the network's forward FLOPs per image and the sgemm peak (GFLOP/s) at --threads instead.")
    var peak = false

    func run() throws {
        if peak {
            let flops = Network(arch, labels: .single, size: size, seed: 1).forwardFLOPs
            print(String(format: "flops %d sgemm_gflops %.2f", flops, sgemmPeakGFLOPS(threads: threads)))
            return
        }
        setBLASThreads(threads)
        let network = Network(arch, labels: .single, size: size, seed: 1)
        let optimiser = MomentumSGD()
        var rng = SeededGenerator(seed: 2)
        let images = (0 ..< batch * size * size).map { _ in Float.random(in: -1 ... 1, using: &rng) }
        let labels = (0 ..< batch).map { _ in Int.random(in: 0 ..< 128, using: &rng) }
        func trainStep() {
            network.zeroGradients()
            let (_, gradient) = network.loss(network.forward(images, batch: batch), labels: labels, targets: [], batch: batch)
            network.backward(gradient)
            optimiser.step(network.parameters, learningRate: 0.001)
        }
        trainStep()
        var start = Date()
        for _ in 0 ..< steps { trainStep() }
        let train = Double(steps * batch) / Date().timeIntervalSince(start)
        _ = network.forward(images, batch: batch)
        start = Date()
        for _ in 0 ..< steps { _ = network.forward(images, batch: batch) }
        let infer = Double(steps * batch) / Date().timeIntervalSince(start)
        print(String(format: "train %.1f infer %.1f", train, infer))
    }
}
extension Architecture: ExpressibleByArgument {}
