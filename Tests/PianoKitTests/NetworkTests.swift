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

    /// A convolution by its definition, in double: out[n, f, y, x] = bias[f] + the sum over c, i, j
    /// of w[f, c, i, j] x[n, c, y sy + i - pad.rows, x sx + j - pad.columns], zero outside the
    /// input; NCHW, the layer's output shape. The padding is the caller's, not the layer's.
    static func convolutionByDefinition(_ layer: Convolution, _ x: [Float], batch: Int, pad: (rows: Int, columns: Int)) -> [Double] {
        let input = layer.input, o = layer.outputShape, (kh, kw) = layer.kernel, (sh, sw) = layer.stride
        var out = [Double](repeating: 0, count: batch * o.count)
        for n in 0 ..< batch {
            for f in 0 ..< o.channels {
                for y in 0 ..< o.height {
                    for xx in 0 ..< o.width {
                        var sum = Double(layer.bias.value[f])
                        for c in 0 ..< input.channels {
                            for i in 0 ..< kh {
                                for j in 0 ..< kw {
                                    let sy = y * sh + i - pad.rows, sx = xx * sw + j - pad.columns
                                    guard (0 ..< input.height).contains(sy), (0 ..< input.width).contains(sx) else { continue }
                                    sum += Double(layer.weight.value[((f * input.channels + c) * kh + i) * kw + j])
                                        * Double(x[n * input.count + (c * input.height + sy) * input.width + sx])
                                }
                            }
                        }
                        out[n * o.count + (f * o.height + y) * o.width + xx] = sum
                    }
                }
            }
        }
        return out
    }

    /// The largest |out - reference| over all values (infinite when the counts differ).
    static func worstDifference(_ out: [Float], _ reference: [Double]) -> Double {
        guard out.count == reference.count else { return .infinity }
        return zip(out, reference).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
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

    /// Row shifts: the gradient by finite differences, and the forward pass against its definition
    /// (out[c S + i][r] = in[c][r + s_i], zero outside), shifts past the height included.
    @Test func rowShifts() {
        let shape = ActivationShape(channels: 2, height: 5, width: 3), shifts = [0, 2, -1, 7]
        let layer = RowShifts(shape, shifts: shifts)
        let input = Self.random(2 * shape.count, seed: 8)
        check(layer, input: input, batch: 2)
        let out = layer.forward(input, batch: 2)
        for n in 0 ..< 2 {
            for c in 0 ..< 2 {
                for (i, shift) in shifts.enumerated() {
                    for r in 0 ..< 5 {
                        for w in 0 ..< 3 {
                            let source = r + shift
                            let expected = (0 ..< 5).contains(source) ? input[((n * 2 + c) * 5 + source) * 3 + w] : 0
                            #expect(out[(((n * 2 + c) * 4 + i) * 5 + r) * 3 + w] == expected)
                        }
                    }
                }
            }
        }
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
        // Weighted positives (PyTorch's pos_weight): finite differences, and the closed form
        // w t log(1 + e^-z) + (1 - t) log(1 + e^z) per output.
        let (weightedLoss, weightedGradient) = Loss.sigmoidCrossEntropy(logits, targets: targets, batch: 3, positiveWeight: 7)
        var closedForm = 0.0
        for i in logits.indices {
            let z = Double(logits[i]), t = Double(targets[i])
            closedForm += 7 * t * log(1 + exp(-z)) + (1 - t) * log(1 + exp(z))
            var plus = logits, minus = logits
            plus[i] += 1e-2; minus[i] -= 1e-2
            let numeric = (Loss.sigmoidCrossEntropy(plus, targets: targets, batch: 3, positiveWeight: 7).loss
                - Loss.sigmoidCrossEntropy(minus, targets: targets, batch: 3, positiveWeight: 7).loss) / 2e-2
            #expect(abs(numeric - Double(weightedGradient[i])) < 1e-3)
        }
        #expect(abs(weightedLoss - closedForm / 3) < 1e-9)
        // Known values: uniform logits give log(classes); a confident right answer gives ~0.
        #expect(abs(Loss.softmaxCrossEntropy([0, 0, 0, 0], labels: [1], classes: 4).loss - log(4)) < 1e-9)
        #expect(Loss.sigmoidCrossEntropy([30], targets: [1], batch: 1).loss < 1e-9)
    }

    /// Rectangular kernels with strides, "valid" and "same" padding (odd and even lengths).
    @Test(arguments: [Padding.same, .valid], [(1, 1), (2, 1), (2, 3)])
    func convolutionStridedRectangular(padding: Padding, stride: (Int, Int)) {
        let shape = ActivationShape(channels: 2, height: 7, width: 6)
        let layer = Convolution(name: "conv", input: shape, filters: 3, kernel: (3, 2), stride: stride, padding: Padding2D(padding)) { count, _ in Self.random(count, seed: 13, scale: 0.5) }
        layer.bias.value = [0.1, -0.2, 0.3]
        let rows = padding.axis(input: 7, window: 3, stride: stride.0)!.output, cols = padding.axis(input: 6, window: 2, stride: stride.1)!.output
        #expect(layer.outputShape == ActivationShape(channels: 3, height: rows, width: cols))
        // Unrolled whole and one output row at a time (as a wide input is); at stride 1 also over
        // the padded width (Convolution+Wide) and not.
        for wide in stride == (1, 1) ? [false, true] : [false] {
            for tileFloats in [1 << 19, 1] {
                layer.unrollsWide = wide
                layer.tileFloats = tileFloats
                #expect(tileFloats > 1 || (wide ? layer.wideRowsPerTile : layer.rowsPerTile) == 1)
                check(layer, input: Self.random(2 * shape.count, seed: 14), batch: 2)
            }
        }
    }

    /// Tall kernels whose columns need no padding unroll whole runs of rows at once (the bundled
    /// model's 25 x 1 layer), whole or one row per tile, with "same" rows padding longer than a
    /// tile, through either path, against finite differences and the definition.
    @Test(arguments: [1, 1 << 19], [false, true])
    func convolutionTallKernel(tileFloats: Int, wide: Bool) {
        let shape = ActivationShape(channels: 2, height: 9, width: 3)
        let layer = Convolution(name: "conv", input: shape, filters: 2, kernel: (7, 1)) { count, _ in Self.random(count, seed: 18, scale: 0.5) }
        layer.bias.value = [0.2, -0.1]
        layer.tileFloats = tileFloats
        layer.unrollsWide = wide
        check(layer, input: Self.random(3 * shape.count, seed: 19), batch: 3)
        // Against the definition (stride 1, three rows of zeros above and below).
        let x = Self.random(shape.count, seed: 20)
        #expect(Self.worstDifference(layer.forward(x, batch: 1), Self.convolutionByDefinition(layer, x, batch: 1, pad: (3, 0))) < 1e-5)
    }

    /// "same" rows and "valid" columns (the bundled model's 3x3 and 3x4 layers): through the wide
    /// path the runs are read from the input itself (`padsRowsOnly`), discarded columns reading
    /// into the next row; whole or one row per tile, against finite differences and the definition.
    @Test(arguments: [1, 1 << 19], [false, true])
    func convolutionSameRowsValidColumns(tileFloats: Int, wide: Bool) {
        let shape = ActivationShape(channels: 3, height: 7, width: 9)
        let layer = Convolution(name: "conv", input: shape, filters: 2, kernel: (3, 4), padding: Padding2D(rows: .same, columns: .valid)) { count, _ in
            Self.random(count, seed: 21, scale: 0.5)
        }
        layer.bias.value = [0.3, -0.4]
        layer.tileFloats = tileFloats
        layer.unrollsWide = wide
        #expect(layer.outputShape == ActivationShape(channels: 2, height: 7, width: 6) && layer.padsRowsOnly)
        check(layer, input: Self.random(2 * shape.count, seed: 22), batch: 2)
        let x = Self.random(shape.count, seed: 23)
        #expect(Self.worstDifference(layer.forward(x, batch: 1), Self.convolutionByDefinition(layer, x, batch: 1, pad: (1, 0))) < 1e-5)
    }

    /// Strided and stride-1 convolutions (through both unrolling paths) against the definition,
    /// written as loops, with "same" and "valid" padding (an even kernel: uneven "same" padding).
    @Test(arguments: [(2, false), (1, false), (1, true)])
    func convolutionValuesAgainstLoops(stride s: Int, wide: Bool) {
        let shape = ActivationShape(channels: 2, height: 6, width: 7)
        for padding in Padding.allCases {
            let layer = Convolution(name: "c", input: shape, filters: 2, kernel: (2, 3), stride: (s, s), padding: Padding2D(padding)) { count, _ in Self.random(count, seed: 15) }
            layer.bias.value = [0.25, -1]
            layer.unrollsWide = wide
            let x = Self.random(shape.count, seed: 16)
            let (_, padY) = padding.axis(input: 6, window: 2, stride: s)!, (_, padX) = padding.axis(input: 7, window: 3, stride: s)!
            let worst = Self.worstDifference(layer.forward(x, batch: 1), Self.convolutionByDefinition(layer, x, batch: 1, pad: (padY, padX)))
            #expect(worst < 1e-5, "\(padding): off by \(worst)")
        }
    }

    @Test(arguments: [Padding.same, .valid])
    func maxPoolRectangular(padding: Padding) {
        let shape = ActivationShape(channels: 2, height: 5, width: 8)
        let pool = MaxPool(shape, window: (1, 3), stride: (1, 2), padding: Padding2D(padding))
        #expect(pool.outputShape == ActivationShape(channels: 2, height: 5, width: padding == .same ? 4 : 3))
        check(pool, input: Self.spaced(2 * shape.count, seed: 17), batch: 2)
    }

    @Test func flipRows() {
        let shape = ActivationShape(channels: 2, height: 3, width: 2)
        let layer = FlipRows(shape)
        #expect(layer.forward([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], batch: 1) == [5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8])
        check(layer, input: Self.random(2 * shape.count, seed: 19), batch: 2)
    }

    @Test func flatten() {
        let shape = ActivationShape(channels: 2, height: 3, width: 2)
        let layer = Flatten(shape)
        #expect(layer.outputShape == ActivationShape(channels: 12, height: 1, width: 1))
        check(layer, input: Self.random(2 * shape.count, seed: 18), batch: 2)
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

@Suite struct NetworkSpecTests {
    /// The named specs and a spec with every layer type survive JSON; one number means both sides.
    @Test func jsonRoundTrip() throws {
        for named in NetworkSpec.Named.allCases {
            let spec = NetworkSpec.named(named, heads: [.frame, .onset])
            #expect(try NetworkSpec.decode(Data(try spec.json().utf8)) == spec)
        }
        let text = """
        {"format": "piano-network", "version": 1, "name": "t",
         "layers": [{"type": "convolution", "filters": 4, "kernel": 3}, {"type": "relu"}, {"type": "maxPool", "window": [1, 2]},
                    {"type": "lrn", "radius": 2}, {"type": "flatten"}, {"type": "dense", "units": 16, "name": "fc"}],
         "heads": [{"kind": "frame"}, {"kind": "onset", "weight": 2, "positiveWeight": 5, "layers": [{"type": "dense", "units": 88}]}]}
        """
        let spec = try NetworkSpec.decode(Data(text.utf8))
        #expect(spec.heads[1].positiveWeight == 5 && spec.heads[0].positiveWeight == nil)
        #expect((spec.heads[1].rule as? KeySetRule)?.positiveWeight == 5 && (spec.heads[0].rule as? KeySetRule)?.positiveWeight == 1)
        #expect(!(try spec.json()).contains("\"positiveWeight\" : 1"))
        #expect(spec.layers[0] == .convolution(filters: 4, kernel: (3, 3), stride: (1, 1), padding: .same, name: nil))
        #expect(spec.layers[2] == .maxPool(window: (1, 2), stride: (1, 2), padding: .same))
        var lrn = LRNSettings()
        lrn.radius = 2
        #expect(spec.layers[3] == .localResponseNorm(lrn))
        #expect(try NetworkSpec.decode(Data(try spec.json().utf8)) == spec)
        // Shapes: 8x6 -> conv same 4x8x6 -> pool 1x2 -> 4x8x3 -> flatten 96 -> fc 16; heads 16 -> 88 each.
        let plan = try spec.plan(input: ActivationShape(channels: 1, height: 8, width: 6))
        #expect(plan.trunkOutput == ActivationShape(channels: 16, height: 1, width: 1))
        #expect(plan.parameters == (4 * 9 + 4) + (96 * 16 + 16) + 2 * (16 * 88 + 88))
        let network = try Network(spec, input: ActivationShape(channels: 1, height: 8, width: 6), seed: 1)
        #expect(network.parameters.map(\.name) == ["conv1.weight", "conv1.bias", "fc.weight", "fc.bias", "output_frame.weight", "output_frame.bias",
                                                    "output_onset.dense4.weight", "output_onset.dense4.bias"])
        #expect(network.parameters.reduce(0) { $0 + $1.value.count } == plan.parameters)
    }

    /// Bad specs are refused with a message that says what is wrong, before anything is built.
    @Test(arguments: [
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [{"type": "gru"}], "heads": [{"kind": "frame"}]}"#, "unknown layer type 'gru'"),
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [{"type": "relu", "size": 2}], "heads": [{"kind": "frame"}]}"#, "no setting 'size'"),
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [], "heads": [{"kind": "velocity"}]}"#, "unknown head kind 'velocity'"),
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [], "heads": []}"#, "no output heads"),
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [], "heads": [{"kind": "frame", "weight": -1}]}"#, "weight -1.0 must be positive"),
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [{"type": "convolution", "filters": 2, "kernel": [1, 2, 3]}], "heads": [{"kind": "frame"}]}"#, "[rows, columns]"),
        (#"{"format": "piano-network", "version": 2, "name": "t", "layers": [], "heads": [{"kind": "frame"}]}"#, "version 2"),
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [], "heads": [{"kind": "onset", "positiveWeight": 0}]}"#, "positiveWeight 0.0 is not in (0, 1000]"),
        (#"{"format": "piano-network", "version": 1, "name": "t", "layers": [], "heads": [{"kind": "single", "positiveWeight": 2}]}"#, "key heads only"),
        (#"{"format": "piano-model", "version": 1, "name": "t", "layers": [], "heads": [{"kind": "frame"}]}"#, "format is 'piano-model'"),
    ])
    func refusesBadSpecs(json: String, problem: String) {
        #expect { try NetworkSpec.decode(Data(json.utf8)) } throws: { "\($0)".contains(problem) }
    }

    /// Shapes a spec cannot have for an input, and sizes past the limits, are refused by `plan`.
    @Test func planRefusesImpossibleAndEnormous() {
        let input = ActivationShape(channels: 1, height: 8, width: 8)
        func plan(_ layers: [LayerSpec], heads: [HeadSpec] = [HeadSpec(kind: .frame)]) -> String {
            do { _ = try NetworkSpec(name: "t", layers: layers, heads: heads).plan(input: input); return "" } catch { return "\(error)" }
        }
        #expect(plan([.convolution(filters: 2, kernel: (9, 1), stride: (1, 1), padding: .valid, name: nil)]).contains("a 9x1 kernel does not fit a 8x8 input"))
        #expect(plan([.maxPool(window: (0, 2), stride: (1, 1), padding: .same)]).contains("must be in 1...1024"))
        #expect(plan([.rowShifts([])]).contains("1...64 shifts"))
        #expect(plan([.rowShifts([0, 5000])]).contains("1...64 shifts"))
        #expect(plan([.dense(units: 1_000_000, name: nil), .dense(units: 1000, name: nil)]).contains("more than 100000000"))
        #expect(plan([.convolution(filters: 65536, kernel: (1, 1), stride: (1, 1), padding: .same, name: nil)]).contains("activations exceed"))
        // A head's own layers must end with its output count.
        #expect(plan([], heads: [HeadSpec(kind: .onset, layers: [.dense(units: 87, name: nil)])]).contains("87 values, not its 88 outputs"))
        #expect(plan([.flatten], heads: [HeadSpec(kind: .onset, layers: [.dense(units: 88, name: nil)])]) == "")
    }
}

@Suite struct OptimizerTests {
    /// Adam against its definition computed in double for three steps, with weight decay on weights only.
    @Test func adamFollowsItsDefinition() {
        let weight = Parameter(name: "w", shape: [3], value: [0.5, -1, 2], decays: true)
        let bias = Parameter(name: "b", shape: [1], value: [0.1], decays: false)
        let adam = Adam(weightDecay: 0.01)
        var w = weight.value.map(Double.init) + bias.value.map(Double.init), m = [Double](repeating: 0, count: 4), v = m
        let gradients: [[Float]] = [[0.3, -0.2, 0.0, 1.0], [-0.1, 0.4, 0.2, -0.5], [0.05, 0.05, -0.3, 0.2]]
        for (t, g) in gradients.enumerated() {
            weight.gradient = Array(g[0 ..< 3]); bias.gradient = [g[3]]
            adam.step([weight, bias], learningRate: 0.01)
            for i in 0 ..< 4 {
                let gi = Double(g[i]) + (i < 3 ? 0.01 * w[i] : 0)
                m[i] = 0.9 * m[i] + 0.1 * gi
                v[i] = 0.999 * v[i] + 0.001 * gi * gi
                let mHat = m[i] / (1 - pow(0.9, Double(t + 1))), vHat = v[i] / (1 - pow(0.999, Double(t + 1)))
                w[i] -= 0.01 * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        for (got, expected) in zip(weight.value + bias.value, w) { #expect(abs(Double(got) - expected) < 1e-6, "\(got) vs \(expected)") }
        // The first step moves each weight by about the learning rate against its gradient's sign.
        #expect(adam.steps == 3)
    }

    /// The state survives a checkpoint round trip: a restored optimiser takes the same next step.
    @Test(arguments: [OptimizerKind.sgd, .adam])
    func stateRoundTrips(kind: OptimizerKind) throws {
        func make() -> any Optimizer { kind == .sgd ? MomentumSGD() : Adam() }
        let p = Parameter(name: "w", shape: [2], value: [1, 2], decays: true), q = Parameter(name: "w", shape: [2], value: [1, 2], decays: true)
        let a = make(), b = make()
        p.gradient = [0.5, -0.5]
        a.step([p], learningRate: 0.1)
        a.step([p], learningRate: 0.1)
        let state = a.state(of: [p])
        q.value = p.value
        try b.restore([q], tensors: state.tensors, metadata: state.metadata)
        q.gradient = [0.2, 0.1]; p.gradient = [0.2, 0.1]
        a.step([p], learningRate: 0.1)
        b.step([q], learningRate: 0.1)
        #expect(p.value == q.value)
        #expect(throws: FormatError.self) { try make().restore([q], tensors: [:], metadata: state.metadata) }
    }
}
