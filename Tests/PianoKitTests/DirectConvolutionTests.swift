import Foundation
import Testing
@testable import PianoKit

/// The direct convolution path (`Convolution+Direct.swift`, AVX-512 kernels) against finite
/// differences and the definition, and against the unrolled path on the bundled model's and the
/// paper's layer shapes. Skipped on a CPU without AVX-512F, where the layers never take it.
@Suite(.enabled(if: Convolution.directKernelsAvailable)) struct DirectConvolutionTests {
    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] { GradientCheckTests.random(count, seed: seed, scale: scale) }

    /// Forward values against the definition in double, and every gradient coordinate against
    /// central differences: over 16 channels (so the input gradient is direct too), kernels with
    /// "same", "valid" and mixed padding, odd and even, and 1 x 1 (these two read in place, no padded copy);
    /// 16 filters (tiles of 12 pixels x 16 filters), 32 (12 x 32), 48 (three 12 x 16 blocks) and
    /// 64 (6 x 64); 30 pixels, so every tile size leaves a short last tile.
    @Test(arguments: [(Padding2D(.same), 3, 3, 16), (Padding2D(.valid), 3, 2, 16), (Padding2D(rows: .same, columns: .valid), 2, 4, 16),
                      (Padding2D(.same), 3, 3, 64), (Padding2D(.valid), 1, 1, 64), (Padding2D(rows: .same, columns: .valid), 5, 1, 32),
                      (Padding2D(.same), 1, 3, 48)])
    func againstDefinitionAndDifferences(padding: Padding2D, kh: Int, kw: Int, filters: Int) {
        let shape = ActivationShape(channels: 16, height: 5, width: 6)
        let layer = Convolution(name: "c", input: shape, filters: filters, kernel: (kh, kw), padding: padding) { count, _ in Self.random(count, seed: 31, scale: 0.3) }
        layer.bias.value = Self.random(filters, seed: 32)
        #expect(layer.needsPadding == ((kh > 1 && padding.rows == .same) || (kw > 1 && padding.columns == .same)))
        #expect(layer.usesDirect)
        let x = Self.random(2 * shape.count, seed: 33)
        let (_, padY) = padding.rows.axis(input: 5, window: kh, stride: 1)!, (_, padX) = padding.columns.axis(input: 6, window: kw, stride: 1)!
        let reference = GradientCheckTests.convolutionByDefinition(layer, x, batch: 2, pad: (padY, padX))
        #expect(GradientCheckTests.worstDifference(layer.forward(x, batch: 2), reference) < 1e-5)
        // The layer is linear in its input and in its weights, so a large step is exact and keeps
        // float32 rounding of the loss (up to 3,840 outputs) small beside the difference.
        GradientCheckTests().check(layer, input: x, batch: 2, step: 0.1)
    }

    /// The same outputs and gradients as the unrolled path (within float rounding) on the layers
    /// the direct path is for: the bundled model's (the first without an input gradient, 8
    /// channels; its 25 x 1 at 32 and 64 filters; its 1 x 1, read in place) and the paper's two
    /// 5x5x64 (the first without an input gradient), at 1 and 2 threads.
    @Test func matchesUnrolled() {
        let cases: [(ActivationShape, Int, (Int, Int), Padding2D, Bool)] = [
            (ActivationShape(channels: 8, height: 88, width: 16), 16, (3, 3), Padding2D(rows: .same, columns: .valid), false),
            (ActivationShape(channels: 16, height: 88, width: 7), 16, (3, 4), Padding2D(rows: .same, columns: .valid), true),
            (ActivationShape(channels: 16, height: 88, width: 2), 32, (25, 1), Padding2D(.same), true),
            (ActivationShape(channels: 16, height: 88, width: 2), 64, (25, 1), Padding2D(.same), true),
            (ActivationShape(channels: 64, height: 88, width: 2), 64, (1, 1), Padding2D(.same), true),
            (ActivationShape(channels: 1, height: 24, width: 24), 64, (5, 5), Padding2D(.same), false),
            (ActivationShape(channels: 64, height: 12, width: 12), 64, (5, 5), Padding2D(.same), true),
        ]
        for (index, (shape, filters, kernel, padding, inputGradient)) in cases.enumerated() {
            for threads in [1, 2] {
                setBLASThreads(threads)
                defer { setBLASThreads(1) }
                func run(direct: Bool) -> (out: [Float], dx: [Float], dw: [Float], db: [Float]) {
                    let layer = Convolution(name: "c", input: shape, filters: filters, kernel: kernel, padding: padding) { count, fanIn in
                        Self.random(count, seed: 40 + UInt64(index), scale: 1 / Float(fanIn).squareRoot())
                    }
                    layer.bias.value = Self.random(filters, seed: 50)
                    layer.computesInputGradient = inputGradient
                    layer.usesDirect = direct
                    layer.unrollsWide = false
                    let out = layer.forward(Self.random(3 * shape.count, seed: 51), batch: 3)
                    layer.weight.gradient = [Float](repeating: 0, count: layer.weight.value.count)
                    layer.bias.gradient = [Float](repeating: 0, count: filters)
                    let dx = layer.backward(Self.random(out.count, seed: 52))
                    return (out, dx, layer.weight.gradient, layer.bias.gradient)
                }
                let direct = run(direct: true), unrolled = run(direct: false)
                func close(_ a: [Float], _ b: [Float]) -> Bool {
                    let scale = b.reduce(Float(0)) { max($0, abs($1)) }
                    return a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, scale) }
                }
                #expect(close(direct.out, unrolled.out), "case \(index) threads \(threads): outputs")
                #expect(close(direct.dw, unrolled.dw) && close(direct.db, unrolled.db), "case \(index) threads \(threads): parameter gradients")
                #expect(direct.dx.count == (inputGradient ? 3 * shape.count : 0) && close(direct.dx, unrolled.dx), "case \(index) threads \(threads): input gradient")
            }
        }
    }

    /// The direct path's outputs and gradients are the same bit for bit run after run (at one
    /// thread count), and the path is taken only where it applies.
    @Test func deterministicAndChosen() {
        let shape = ActivationShape(channels: 16, height: 20, width: 7)
        func layer(filters: Int, stride: Int = 1) -> Convolution {
            Convolution(name: "c", input: shape, filters: filters, kernel: (3, 3), stride: (stride, stride)) { count, _ in Self.random(count, seed: 60, scale: 0.2) }
        }
        #expect(layer(filters: 32).usesDirect && !layer(filters: 24).usesDirect && !layer(filters: 16, stride: 2).usesDirect)
        let x = Self.random(4 * shape.count, seed: 61)
        func pass() -> [Float] {
            let l = layer(filters: 16)
            let out = l.forward(x, batch: 4)
            l.weight.gradient = [Float](repeating: 0, count: l.weight.value.count)
            l.bias.gradient = [Float](repeating: 0, count: 16)
            return out + l.backward(out) + l.weight.gradient
        }
        setBLASThreads(2)
        defer { setBLASThreads(1) }
        let a = pass(), b = pass()
        #expect(a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern })
    }

    /// Denormal weights (a trained model's dead filters decay into them) are read as zero by the
    /// kernels, which set MXCSR's DAZ and FTZ only while they run: the outputs stay those of the
    /// definition, and after a forward and a backward pass (both kernels) the thread's own
    /// arithmetic still makes denormals.
    @Test func denormalsFlushedInsideTheKernelsOnly() {
        let shape = ActivationShape(channels: 16, height: 6, width: 5)
        let layer = Convolution(name: "c", input: shape, filters: 64, kernel: (3, 3)) { count, _ in Self.random(count, seed: 70, scale: 0.3) }
        for k in Swift.stride(from: 0, to: layer.weight.value.count, by: 7) { layer.weight.value[k] = Float.leastNormalMagnitude / 64 }
        #expect(layer.weight.value.contains { $0.isSubnormal } && layer.usesDirect)
        let x = Self.random(2 * shape.count, seed: 71)
        let reference = GradientCheckTests.convolutionByDefinition(layer, x, batch: 2, pad: (1, 1))
        let out = layer.forward(x, batch: 2)
        #expect(GradientCheckTests.worstDifference(out, reference) < 1e-5)
        _ = layer.backward(Self.random(out.count, seed: 72))
        // Runtime values, so that the compiler cannot fold the products: halving the smallest
        // normal float gives a denormal unless FTZ leaked out of the kernels into this thread.
        let halves = Self.random(8, seed: 73).map { (abs($0) + 1) * Float.leastNormalMagnitude / 4 }
        #expect(halves.allSatisfy { $0.isSubnormal })
    }
}
