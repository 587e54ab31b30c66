import Foundation
import Testing
@testable import PianoKit

/// Finite-difference gradient checks: for L = sum(r * layer(x)) with a fixed random r, the
/// analytic gradients from `backward` must match central differences. The layers compute in
/// float32, so the documented tolerance is a relative error below 1e-2 (with a step of 1e-2 and
/// an absolute floor of 1e-3), checked on every input and parameter coordinate.
@Suite struct GradientCheckTests {
    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0 ..< count).map { _ in Float.random(in: -scale ... scale, using: &rng) }
    }

    /// Distinct values at least 0.05 apart, shuffled: no ties for max pooling, no kinks near zero for ReLU.
    static func spaced(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0 ..< count).map { Float($0 - count / 2) * 0.05 + 0.025 }.shuffled(using: &rng)
    }

    func check(_ layer: Layer, input: [Float], batch: Int, step: Float = 1e-2, tolerance: Double = 1e-2) {
        let r = Self.random(batch * layer.outputShape.count, seed: 99)
        func loss(_ x: [Float]) -> Double { zip(layer.forward(x, batch: batch), r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        for p in layer.parameters { p.gradient = [Float](repeating: 0, count: p.value.count) }
        _ = layer.forward(input, batch: batch)
        let dx = layer.backward(r)
        func compare(_ analytic: Float, _ plus: Double, _ minus: Double, _ what: String) {
            let numeric = (plus - minus) / (2 * Double(step))
            let error = abs(numeric - Double(analytic)) / max(abs(numeric), abs(Double(analytic)), 1e-3)
            #expect(error < tolerance, "\(what): numeric \(numeric), analytic \(analytic)")
        }
        for i in input.indices {
            var x = input
            x[i] += step; let plus = loss(x)
            x[i] -= 2 * step; let minus = loss(x)
            compare(dx[i], plus, minus, "input \(i)")
        }
        for p in layer.parameters {
            let analytic = p.gradient
            for i in p.value.indices {
                let saved = p.value[i]
                p.value[i] = saved + step; let plus = loss(input)
                p.value[i] = saved - step; let minus = loss(input)
                p.value[i] = saved
                compare(analytic[i], plus, minus, "\(p.name)[\(i)]")
            }
        }
    }

    /// The parameter count the spec's plan works out without building a network equals a built
    /// network's, for odd and even sizes, and the paper's formula (pools halve each side, rounding up).
    @Test func parameterCountWithoutBuilding() throws {
        for architecture in NetworkSpec.Named.allCases {
            for heads in [[HeadKind.single], [.frame], [.frame, .onset]] {
                for size in [8, 9, 24, 25, 32, 33] {
                    let spec = NetworkSpec.named(architecture, heads: heads), input = ActivationShape(channels: 1, height: size, width: size)
                    let built = try Network(spec, input: input, seed: 1).parameters.reduce(0) { $0 + $1.value.count }
                    #expect(try spec.plan(input: input).parameters == built, "\(architecture) \(heads) \(size)")
                    let outputs = heads.reduce(0) { $0 + $1.outputs }, conv = 5 * 5 * 64 + 64, half = (size + 1) / 2, quarter = (half + 1) / 2
                    let paper = architecture == .simple ? conv + half * half * 64 * outputs + outputs
                        : conv + (5 * 5 * 64 * 64 + 64) + (quarter * quarter * 64 * 384 + 384) + (384 * 192 + 192) + (192 * outputs + outputs)
                    #expect(built == paper, "\(architecture) \(heads) \(size)")
                }
            }
        }
    }

    @Test func convolution() {
        let shape = ActivationShape(channels: 2, height: 5, width: 4)
        let layer = Convolution(name: "conv", input: shape, filters: 3, kernel: 3) { count, _ in Self.random(count, seed: 1, scale: 0.5) }
        layer.bias.value = [0.1, -0.2, 0.3]
        check(layer, input: Self.random(2 * shape.count, seed: 2), batch: 2)
    }

    @Test func convolutionFiveByFive() {
        let shape = ActivationShape(channels: 1, height: 6, width: 6)
        let layer = Convolution(name: "conv", input: shape, filters: 2, kernel: 5) { count, _ in Self.random(count, seed: 3, scale: 0.3) }
        check(layer, input: Self.random(shape.count, seed: 4), batch: 1)
    }

    @Test func dense() {
        let layer = Dense(name: "fc", inputs: 7, outputs: 4) { count, _ in Self.random(count, seed: 5) }
        layer.bias.value = [0.5, 0, -0.5, 1]
        check(layer, input: Self.random(3 * 7, seed: 6), batch: 3)
    }

    @Test func relu() {
        let shape = ActivationShape(channels: 2, height: 3, width: 3)
        check(ReLU(shape), input: Self.spaced(2 * shape.count, seed: 7), batch: 2)
    }

    @Test func maxPool() {
        let shape = ActivationShape(channels: 2, height: 5, width: 6)
        let pool = MaxPool(shape)
        #expect(pool.outputShape == ActivationShape(channels: 2, height: 3, width: 3))
        check(pool, input: Self.spaced(2 * shape.count, seed: 8), batch: 2)
    }

    @Test func localResponseNorm() {
        let shape = ActivationShape(channels: 11, height: 2, width: 2)
        // A large alpha makes the normalisation matter in the check.
        check(LocalResponseNorm(shape, radius: 4, bias: 1, alpha: 0.3, beta: 0.75), input: Self.random(2 * shape.count, seed: 9, scale: 2), batch: 2)
        check(LocalResponseNorm(shape), input: Self.random(shape.count, seed: 10, scale: 3), batch: 1)
    }

    @Test func lossGradients() {
        let logits = Self.random(3 * 5, seed: 11, scale: 3)
        let labels = [0, 4, 2]
        let (_, gradient) = Loss.softmaxCrossEntropy(logits, labels: labels, classes: 5)
        let targets = Self.random(15, seed: 12).map { $0 > 0 ? Float(1) : 0 }
        let (_, sigmoidGradient) = Loss.sigmoidCrossEntropy(logits, targets: targets, batch: 3)
        for i in logits.indices {
            var plus = logits, minus = logits
            plus[i] += 1e-2; minus[i] -= 1e-2
            let numeric = (Loss.softmaxCrossEntropy(plus, labels: labels, classes: 5).loss - Loss.softmaxCrossEntropy(minus, labels: labels, classes: 5).loss) / 2e-2
            #expect(abs(numeric - Double(gradient[i])) < 1e-3)
            let numericSigmoid = (Loss.sigmoidCrossEntropy(plus, targets: targets, batch: 3).loss - Loss.sigmoidCrossEntropy(minus, targets: targets, batch: 3).loss) / 2e-2
            #expect(abs(numericSigmoid - Double(sigmoidGradient[i])) < 1e-3)
        }
        // Known values: uniform logits give log(classes); a confident right answer gives ~0.
        #expect(abs(Loss.softmaxCrossEntropy([0, 0, 0, 0], labels: [1], classes: 4).loss - log(4)) < 1e-9)
        #expect(Loss.sigmoidCrossEntropy([30], targets: [1], batch: 1).loss < 1e-9)
    }

    /// The TF-style SAME pooling window matches a direct computation on a small image.
    @Test func maxPoolValues() {
        let pool = MaxPool(ActivationShape(channels: 1, height: 4, width: 4))
        let x = (0 ..< 16).map(Float.init)  // row-major 0...15
        // Output 2x2; padding total max(0, (2 - 1) * 2 + 3 - 4) = 1, split 0 before and 1 after.
        #expect(pool.forward(x, batch: 1) == [10, 11, 14, 15])
    }
}

@Suite struct SafeTensorsTests {
    @Test func roundTripAndLayout() throws {
        let tensors = ["b": Tensor(shape: [2], values: [1, -2]), "a": Tensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5.5])]
        let data = try SafeTensors.encode(tensors, metadata: ["arch": "simple", "hop": "512"])
        let headerLength = Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16
        #expect((8 + headerLength) % 8 == 0)
        #expect(data.count == 8 + headerLength + 8 * 4)
        let decoded = try SafeTensors.decode(data)
        #expect(decoded.tensors == tensors && decoded.metadata == ["arch": "simple", "hop": "512"])
    }

    @Test(arguments: [
        ("short", Data([1, 2, 3])),
        ("huge header", Data([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]) + Data("{}".utf8)),
        ("not json", Data([4, 0, 0, 0, 0, 0, 0, 0]) + Data("abcd".utf8)),
        ("offsets outside", Data([64, 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   "#.utf8)),
        ("shape disagrees", Data([64, 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}   "#.utf8) + Data(count: 8)),
        ("wrong dtype", Data([64, 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}   "#.utf8) + Data(count: 8)),
        ("trailing bytes", Data([64, 0, 0, 0, 0, 0, 0, 0]) + Data(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   "#.utf8) + Data(count: 12)),
    ] as [(String, Data)])
    func badFilesAreRefused(name: String, data: Data) {
        #expect(throws: FormatError.self, "\(name)") { try SafeTensors.decode(data) }
    }
}
