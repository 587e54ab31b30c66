import Foundation
import Testing
@testable import PianoKit

/// The vectorised layers against their definitions: max pooling against a plain scan of every
/// window (values, and the winner `backward` routes the gradient to: the first maximum in
/// row-major order), local response normalisation against its formula in double precision, the
/// SIMD helpers against scalar loops, and inference (`Network.infer`, which keeps nothing and
/// runs a ReLU after the max pool that follows it) against `forward`.
@Suite struct PoolingTests {
    /// Values from a few levels, so that windows hold ties, negatives and zeros.
    static func levels(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0 ..< count).map { _ in Float(Int.random(in: -3 ... 3, using: &rng)) * 0.5 }
    }

    /// The outputs and winners of a plain scan of each window, row by row, strict comparison.
    static func scan(_ x: [Float], batch: Int, _ pool: MaxPool) -> (values: [Float], winners: [Int]) {
        let i = pool.input, o = pool.outputShape
        var values: [Float] = [], winners: [Int] = []
        for plane in 0 ..< batch * i.channels {
            for oy in 0 ..< o.height {
                for ox in 0 ..< o.width {
                    var best = -Float.infinity, at = -1
                    for dy in 0 ..< pool.window.height {
                        for dx in 0 ..< pool.window.width {
                            let y = oy * pool.stride.height - pool.padBefore.height + dy
                            let xx = ox * pool.stride.width - pool.padBefore.width + dx
                            guard (0 ..< i.height).contains(y), (0 ..< i.width).contains(xx) else { continue }
                            let k = (plane * i.height + y) * i.width + xx
                            if x[k] > best { best = x[k]; at = k }
                        }
                    }
                    values.append(best)
                    winners.append(at)
                }
            }
        }
        return (values, winners)
    }

    @Test(arguments: [
        ((3, 3), (2, 2), Padding.same, 9, 13),  // the paper's pools; SAME pads after
        ((3, 3), (2, 2), .valid, 9, 13),
        ((3, 3), (1, 1), .same, 6, 21),  // pads one cell before and after
        ((2, 2), (2, 2), .same, 7, 7),
        ((1, 2), (1, 2), .valid, 5, 40),  // the per-key networks' pools (MaxPool.pairs)
        ((1, 2), (1, 2), .valid, 3, 10),  // pairs, 90 outputs: a tail after whole vectors
        ((1, 2), (1, 2), .valid, 5, 41),  // an odd width: the general path
        ((3, 1), (2, 1), .same, 11, 3),
        ((4, 5), (3, 2), .same, 10, 19),
    ] as [((Int, Int), (Int, Int), Padding, Int, Int)])
    func maxPoolMatchesAScan(window: (Int, Int), stride: (Int, Int), padding: Padding, height: Int, width: Int) {
        let shape = ActivationShape(channels: 3, height: height, width: width), batch = 2
        let pool = MaxPool(shape, window: window, stride: stride, padding: Padding2D(padding))
        for threads in [1, 2] {
            setBLASThreads(threads)
            defer { setBLASThreads(1) }
            let x = Self.levels(batch * shape.count, seed: UInt64(height * 100 + width))
            let expected = Self.scan(x, batch: batch, pool)
            #expect(pool.infer(x, batch: batch) == expected.values)
            #expect(pool.forward(x, batch: batch) == expected.values)
            // A gradient of 1 + k at output k lands on output k's winner.
            let dy = (0 ..< expected.values.count).map { Float($0 + 1) }
            var routed = [Float](repeating: 0, count: x.count)
            for (k, at) in expected.winners.enumerated() { routed[at] += dy[k] }
            #expect(pool.backward(dy) == routed)
        }
    }

    @Test func localResponseNormMatchesItsFormula() {
        // 15 values per plane: whole vectors and a tail; 11 channels: windows cut at both ends.
        let shape = ActivationShape(channels: 11, height: 3, width: 5), batch = 2
        for (alpha, beta) in [(Float(0.3), Float(0.75)), (0.001 / 9, 0.75), (0.2, 0.6)] {
            let layer = LocalResponseNorm(shape, radius: 4, bias: 1, alpha: alpha, beta: beta)
            let x = GradientCheckTests.random(batch * shape.count, seed: 31, scale: 2)
            let y = layer.forward(x, batch: batch)
            #expect(layer.infer(x, batch: batch) == y)
            let plane = shape.height * shape.width
            for n in 0 ..< batch {
                for c in 0 ..< shape.channels {
                    for p in 0 ..< plane {
                        var sum = 0.0
                        for j in max(0, c - 4) ... min(shape.channels - 1, c + 4) {
                            let v = Double(x[(n * shape.channels + j) * plane + p])
                            sum += v * v
                        }
                        let k = (n * shape.channels + c) * plane + p
                        let expected = Double(x[k]) / pow(1 + Double(alpha) * sum, Double(beta))
                        #expect(abs(Double(y[k]) - expected) <= 1e-6 * max(1, abs(expected)), "n \(n) c \(c) p \(p)")
                    }
                }
            }
        }
        GradientCheckTests().check(LocalResponseNorm(shape, radius: 4, bias: 1, alpha: 0.3, beta: 0.75),
                                   input: GradientCheckTests.random(shape.count, seed: 32, scale: 2), batch: 1)
    }

    @Test func simdHelpersMatchScalarLoops() {
        for n in 0 ... 21 {
            let a = Self.levels(n, seed: UInt64(n)), b = Self.levels(n, seed: UInt64(n + 50))
            let index = (0 ..< n).map { Int32($0 * 3) }
            var best = a, at = [Int32](repeating: -1, count: n)
            var expected = a, expectedAt = at
            for k in 0 ..< n where b[k] > a[k] { expected[k] = b[k]; expectedAt[k] = index[k] + 7 }
            best.withUnsafeMutableBufferPointer { bp in
                at.withUnsafeMutableBufferPointer { ap in
                    b.withUnsafeBufferPointer { vp in
                        index.withUnsafeBufferPointer { ip in
                            guard n > 0 else { return }
                            FloatRows.maximum(bp.baseAddress!, ap.baseAddress!, vp.baseAddress!, index: ip.baseAddress!, offset: 7, n)
                        }
                    }
                }
            }
            #expect(best == expected && at == expectedAt, "n \(n)")
            var plain = a
            plain.withUnsafeMutableBufferPointer { bp in b.withUnsafeBufferPointer { vp in if n > 0 { FloatRows.maximum(bp.baseAddress!, vp.baseAddress!, n) } } }
            #expect(plain == expected, "n \(n)")
            var masked = a
            masked.withUnsafeMutableBufferPointer { g in b.withUnsafeBufferPointer { y in if n > 0 { FloatRows.mask(g.baseAddress!, where: y.baseAddress!, n) } } }
            #expect(masked == zip(a, b).map { $1 > 0 ? $0 : 0 }, "n \(n)")
        }
    }

    @Test(arguments: ["simple", "original", "slide"])
    func inferIsForward(name: String) throws {
        let network: Network
        switch name {
        case "simple": network = Network(.simple, size: 16, seed: 5)
        case "original": network = Network(.original, size: 16, seed: 6)
        default:
            let spec = try NetworkSpec.read(path: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("networks/piano88-slide.json").path)
            network = try Network(spec, input: ActivationShape(channels: 1, height: 88, width: 16), seed: 7)
        }
        #expect(Network.inferenceOrder(network.trunk).map { ObjectIdentifier($0) } != network.trunk.map { ObjectIdentifier($0) })
        let batch = 3, images = GradientCheckTests.random(batch * network.input.count, seed: 33, scale: 2)
        // Within float rounding only: other tests running at the same time may change the layers'
        // thread count between the two calls, which reorders the matrix products' sums.
        for (a, b) in zip(network.infer(images, batch: batch), network.forward(images, batch: batch)) {
            #expect(a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
        }
    }

    /// A ReLU after the max pool gives the ReLU-then-pool values bit for bit (`Network.inferenceOrder`).
    @Test func reluAndPoolCommute() {
        let shape = ActivationShape(channels: 4, height: 9, width: 14)
        let x = Self.levels(2 * shape.count, seed: 41) + GradientCheckTests.random(2 * shape.count, seed: 42)
        for (window, stride) in [((3, 3), (2, 2)), ((1, 2), (1, 2))] {
            let pool = MaxPool(shape, window: window, stride: stride, padding: Padding2D(.same)), relu = ReLU(shape), batch = 4
            let after = ReLU(pool.outputShape)
            #expect(after.infer(pool.infer(x, batch: batch), batch: batch) == pool.infer(relu.infer(x, batch: batch), batch: batch))
        }
    }
}
