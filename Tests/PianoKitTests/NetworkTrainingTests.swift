import COpenBLAS
import Foundation
import Testing
@testable import PianoKit

@Suite struct NetworkTests {
    /// The whole network's parameter gradients, checked by central differences on a sample of
    /// coordinates of every tensor. Float32 tolerance: relative error below 5e-2, measured against
    /// at least 1e-2 (so gradients under 1e-2 must agree to 5e-4, about the float32 noise of a
    /// difference quotient with step 1e-3 on a loss near 5). First-layer biases of the deep
    /// network move hundreds of activations across ReLU and max-pool kinks within one step, which
    /// costs a few percent; the per-layer checks above hold every layer to 1e-2.
    @Test(arguments: [NetworkSpec.Named.simple, .original], [[HeadKind.single], [.frame], [.single, .frame, .onset]])
    func wholeNetworkGradients(architecture: NetworkSpec.Named, heads: [HeadKind]) throws {
        var spec = NetworkSpec.named(architecture, heads: heads)
        if heads.count == 3 { spec.heads[1].weight = 0.5 }  // weighted heads sum their gradients at the trunk
        let network = try Network(spec, input: ActivationShape(channels: 1, height: 8, width: 8), seed: 4)
        let batch = 2
        let images = GradientCheckTests.random(batch * 64, seed: 5)
        let targets = NetworkTests.targets()
        let labels = heads
        func loss() -> Double { network.loss(network.forward(images, batch: batch), targets: targets).total }
        network.zeroGradients()
        network.backward(network.loss(network.forward(images, batch: batch), targets: targets).gradients)
        var rng = SeededGenerator(seed: 6)
        for p in network.parameters {
            let analytic = p.gradient
            for _ in 0 ..< 6 {
                let i = Int.random(in: 0 ..< p.value.count, using: &rng)
                func check(step: Float) -> (error: Double, numeric: Double) {
                    let saved = p.value[i]
                    p.value[i] = saved + step; let plus = loss()
                    p.value[i] = saved - step; let minus = loss()
                    p.value[i] = saved
                    let numeric = (plus - minus) / (2 * Double(step))
                    return (abs(numeric - Double(analytic[i])) / max(abs(numeric), abs(Double(analytic[i])), 1e-2), numeric)
                }
                // A second, larger step where the first misses: a loss near 6 in float32 moves by
                // about 5e-7 from rounding alone, 2.5e-4 of a difference quotient at step 1e-3 (seen:
                // original's conv2.weight[52444], analytic -0.003596, numeric -0.003088 at 1e-3 and
                // -0.003589 at 4e-3, on a CPU whose OpenBLAS kernel rounds differently).
                var (error, numeric) = check(step: 1e-3)
                if error >= 5e-2 { (error, numeric) = check(step: 4e-3) }
                #expect(error < 5e-2, "\(architecture) \(labels.map(\.rawValue)) \(p.name)[\(i)]: numeric \(numeric), analytic \(analytic[i])")
            }
        }
    }

    /// A convolution that rectifies its own output (the ReLU after it fused, as `Network` builds
    /// it) gives the same logits, inference outputs and parameter gradients bit for bit as the
    /// convolution and the ReLU run apart, on the direct path and on the unrolled ones (which a
    /// CPU without AVX-512 takes).
    @Test(arguments: [NetworkSpec.Named.original, .simple], [true, false])
    func fusedReLUsChangeNothing(architecture: NetworkSpec.Named, direct: Bool) throws {
        let spec = NetworkSpec.named(architecture, heads: [.single, .frame])
        let images = GradientCheckTests.random(2 * 24 * 24, seed: 7)
        func run(fused: Bool) throws -> (logits: [[Float]], inferred: [[Float]], gradients: [[Float]]) {
            let network = try Network(spec, input: ActivationShape(channels: 1, height: 24, width: 24), seed: 8)
            let convolutions = network.layers.compactMap { $0 as? Convolution }, relus = network.layers.compactMap { $0 as? ReLU }
            #expect(convolutions.contains(where: \.rectifies) && relus.contains(where: \.fused))  // not those after dense layers
            for conv in convolutions {
                if !fused { conv.rectifies = false }
                if !direct { conv.usesDirect = false }
            }
            if !fused { for relu in relus { relu.fused = false } }
            network.zeroGradients()
            let logits = network.forward(images, batch: 2)
            network.backward(network.loss(logits, targets: Self.targets()).gradients)
            return (logits, network.infer(images, batch: 2), network.parameters.map(\.gradient))
        }
        let fused = try run(fused: true), apart = try run(fused: false)
        #expect(fused.logits == apart.logits && fused.inferred == apart.inferred)
        #expect(fused.gradients == apart.gradients)
    }

    /// Two examples' targets: classes 3 and 77, a few sounding and starting keys.
    static func targets() -> TargetBatch {
        var targets = TargetBatch()
        var keys = [UInt8](repeating: 0, count: 88), starts = keys
        keys[10] = 1; starts[10] = 1
        targets.append(label: 3, notes: keys[...], onsets: starts[...])
        keys = [UInt8](repeating: 0, count: 88); starts = keys
        keys[40] = 1; keys[41] = 1; starts[41] = 1
        targets.append(label: 77, notes: keys[...], onsets: starts[...])
        return targets
    }

    /// A tiny data set is learnt perfectly: the layers, losses and optimiser work together.
    @Test func overfitsATinySet() {
        let network = Network(.simple, size: 8, seed: 1)
        let optimiser = MomentumSGD(momentum: 0.9, weightDecay: 0)
        var rng = SeededGenerator(seed: 2)
        let batch = 16
        let images = (0 ..< batch * 64).map { _ in Float.random(in: 0 ... 1, using: &rng) }
        let labels = (0 ..< batch).map { 21 + $0 % 8 }
        var targets = TargetBatch()
        for label in labels { targets.append(label: label, notes: [UInt8](repeating: 0, count: 88)[...], onsets: []) }
        for _ in 0 ..< 150 {
            network.zeroGradients()
            network.backward(network.loss(network.forward(images, batch: batch), targets: targets).gradients)
            optimiser.step(network.parameters, learningRate: 0.05)
        }
        let logits = network.forward(images, batch: batch)[0]
        let predicted = (0 ..< batch).map { n in (0 ..< 128).max { logits[n * 128 + $0] < logits[n * 128 + $1] }! }
        #expect(predicted == labels)
    }

    @Test func weightDecayCountsWeightsOnly() {
        let network = Network(.simple, heads: [.frame], size: 8, seed: 3)
        let weights = network.parameters.filter(\.decays).flatMap(\.value).reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(network.weightDecayLoss(rate: 0.0005) - weights * 0.00025) < 1e-9)
        #expect(network.parameters.filter { !$0.decays }.allSatisfy { $0.name.hasSuffix(".bias") })
    }

    @Test func modelFileRoundTripsAndRefusesMismatches() throws {
        let scratch = try Scratch()
        let network = Network(.original, size: 16, seed: 9)
        let frontEnd = ArchiveManifest.FrontEndRecord(transform: .pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 36),
                                                      decibels: DecibelScale(), geometry: ThumbnailGeometry(size: 16, context: 32), quality: 90, every: 1)
        let path = scratch.path + "/m.safetensors"
        try ModelFile.encode(network, frontEnd: frontEnd).write(to: URL(fileURLWithPath: path))
        let (loaded, loadedFrontEnd, metadata) = try ModelFile.read(path: path)
        #expect(loadedFrontEnd == frontEnd && loaded.spec == network.spec && metadata["version"] == "2")
        #expect(zip(loaded.parameters, network.parameters).allSatisfy { $0.name == $1.name && $0.value == $1.value })
        let input = GradientCheckTests.random(256, seed: 1)
        #expect(loaded.forward(input, batch: 1) == network.forward(input, batch: 1))
        // A simple network's tensors under an original network's metadata are refused.
        var (tensors, wrong) = try SafeTensors.decode(ModelFile.encode(Network(.simple, size: 16, seed: 9), frontEnd: frontEnd))
        wrong["network"] = try NetworkSpec.named(.original).json()
        try SafeTensors.encode(tensors, metadata: wrong).write(to: URL(fileURLWithPath: path))
        #expect { try ModelFile.read(path: path) } throws: { "\($0)".contains("m.safetensors") }
        // An input size the tensors cannot hold is refused before the network is built (at 1024 an
        // original network would allocate 6 GB of weights).
        wrong["network"] = try NetworkSpec.named(.simple).json()
        wrong["input"] = "[1,1024,1024]"
        try SafeTensors.encode(tensors, metadata: wrong).write(to: URL(fileURLWithPath: path))
        #expect { try ModelFile.read(path: path) } throws: { "\($0)".contains("activations exceed 4000000 values per example") }
        wrong["input"] = "[1,64,64]"
        try SafeTensors.encode(tensors, metadata: wrong).write(to: URL(fileURLWithPath: path))
        #expect { try ModelFile.read(path: path) } throws: { "\($0)".contains("do not match the simple network for 64x64") }
    }
}

@Suite(.serialized) struct LayerThreadTests {
    /// The layers split their per-example loops over threads; the results must not change.
    @Test func threadsGiveTheSameForwardAndBackward() {
        defer { setBLASThreads(1) }
        var results: [([Float], [Float])] = []
        for threads in [1, 2] {
            setBLASThreads(threads)
            let network = Network(.original, size: 16, seed: 8)
            let images = GradientCheckTests.random(5 * 256, seed: 9)
            network.zeroGradients()
            let logits = network.forward(images, batch: 5)
            var targets = TargetBatch()
            for label in 1 ... 5 { targets.append(label: label, notes: [UInt8](repeating: 0, count: 88)[...], onsets: []) }
            network.backward(network.loss(logits, targets: targets).gradients)
            let outputs = logits[0]
            results.append((outputs, network.parameters.flatMap(\.gradient)))
        }
        #expect(zip(results[0].0, results[1].0).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) })
        #expect(zip(results[0].1, results[1].1).allSatisfy { abs($0 - $1) <= 1e-4 * max(1e-2, abs($0)) })
    }

    /// The count is per thread: another thread setting its own (as a second training run in the
    /// same process does) leaves this one's alone, and the workers of `forEachPart` and
    /// `parallelMap` see their caller's count while they work, and their own afterwards.
    @Test func countIsPerThreadAndInherited() {
        defer { setBLASThreads(1) }
        setBLASThreads(3)
        let other = Thread { setBLASThreads(7) }
        other.start()
        while !other.isFinished { usleep(1000) }
        #expect(LayerThreads.count == 3)
        let seen = LockedValues()
        forEachPart(of: 4, threads: 2) { _ in seen.append(LayerThreads.count) }
        _ = [1, 2, 3, 4].parallelMap(jobs: 2) { _ in seen.append(LayerThreads.count) }
        #expect(seen.values == [Int](repeating: 3, count: 6))
        setBLASThreads(5)
        #expect(LayerThreads.count == 5)
        LayerThreads.with(2) { #expect(LayerThreads.count == 2) }
        #expect(LayerThreads.count == 5)
    }

    /// After every stage's start has stopped OpenBLAS's idle threads, its products are still
    /// right, on one thread and when OpenBLAS is asked for two (it starts its threads again):
    /// a 200 x 150 x 300 product against the sum in double.
    @Test func productsAfterTheBLASThreadsStop() {
        defer { setBLASThreads(1) }
        let m = 200, n = 150, k = 300
        let a = GradientCheckTests.random(m * k, seed: 3), b = GradientCheckTests.random(k * n, seed: 4)
        var reference = [Double](repeating: 0, count: m * n)
        for i in 0 ..< m { for j in 0 ..< n { for p in 0 ..< k { reference[i * n + j] += Double(a[i * k + p]) * Double(b[p * n + j]) } } }
        for threads: Int32 in [1, 2] {
            stopIdleBLASThreads()
            openblas_set_num_threads(threads)
            var c = [Float](repeating: 0, count: m * n)
            gemm(false, false, m, n, k, 1, a, k, b, n, 0, &c, n)
            #expect(zip(c, reference).allSatisfy { abs(Double($0) - $1) <= 1e-4 * max(1, abs($1)) }, "OpenBLAS threads \(threads)")
        }
    }
}

/// Integers appended from several threads.
private final class LockedValues: @unchecked Sendable {
    private var stored: [Int] = []
    private let lock = NSLock()
    func append(_ value: Int) { lock.lock(); stored.append(value); lock.unlock() }
    var values: [Int] { lock.lock(); defer { lock.unlock() }; return stored }
}
