import Foundation

/// One head of a built network: its spec, its rule and its layers (after the shared trunk).
public final class OutputHead {
    /// The head's spec.
    public let spec: HeadSpec
    /// What the head does.
    public let rule: any HeadRule
    /// Its layers, from the trunk's output to its logits.
    public let layers: [Layer]

    init(spec: HeadSpec, layers: [Layer]) {
        self.spec = spec
        rule = spec.rule
        self.layers = layers
    }

    /// The head's kind.
    public var kind: HeadKind { spec.kind }
}

/// A feed-forward network built from a `NetworkSpec` for one input shape: a trunk of layers and
/// output heads that share its output. Activations are NCHW, examples back to back.
public final class Network {
    /// The spec it was built from.
    public let spec: NetworkSpec
    /// Input shape (channels x rows x columns) of one example.
    public let input: ActivationShape
    /// The trunk's layers, first to last.
    public let trunk: [Layer]
    /// The heads, in the spec's order.
    public let heads: [OutputHead]

    /// Builds `spec` for `input`, weights drawn from a seeded generator in layer order (trunk, then
    /// each head): uniform on [-a, a] with a = sqrt(6 / fan-in), He scaling for ReLU nets; biases 0.
    /// Throws `FormatError` for a spec `plan` refuses, before allocating any weight.
    public convenience init(_ spec: NetworkSpec, input: ActivationShape, seed: UInt64) throws {
        try self.init(spec, input: input, seed: seed, columnsPerOutput: false)
    }

    /// As above; `columnsPerOutput` builds heads that give their outputs in every column (`NetworkSpec.plan`).
    init(_ spec: NetworkSpec, input: ActivationShape, seed: UInt64, columnsPerOutput: Bool) throws {
        _ = try spec.plan(input: input, columnsPerOutput: columnsPerOutput)
        self.spec = spec
        self.input = input
        var rng = SeededGenerator(seed: seed)
        func initialise(_ count: Int, _ fanIn: Int) -> [Float] {
            // Uniform on [-a, a] has standard deviation a / sqrt(3): a = sqrt(6 / fanIn) gives He scaling.
            let a = Float((6 / Double(fanIn)).squareRoot())
            return (0 ..< count).map { _ in Float.random(in: -a ... a, using: &rng) }
        }
        var learned = 0
        /// Builds `specs` from `start`; `name(given, type)` names each learnable layer, `learned` counting them 1-based.
        func build(_ specs: [LayerSpec], from start: ActivationShape, name: (String?, String) -> String) -> [Layer] {
            var shape = start, layers: [Layer] = []
            for layer in specs {
                if layer.learns { learned += 1 }
                let built: Layer
                switch layer {
                case let .convolution(filters, kernel, stride, padding, given):
                    built = Convolution(name: name(given, "conv"), input: shape, filters: filters, kernel: kernel, stride: stride, padding: padding, initialise: initialise)
                case .relu: built = ReLU(shape)
                case let .maxPool(window, stride, padding): built = MaxPool(shape, window: window, stride: stride, padding: padding)
                case let .localResponseNorm(s): built = LocalResponseNorm(shape, radius: s.radius, bias: s.bias, alpha: s.alpha, beta: s.beta)
                case let .dense(units, given): built = Dense(name: name(given, "dense"), inputs: shape.count, outputs: units, initialise: initialise)
                case .flatten: built = Flatten(shape)
                case .flipRows: built = FlipRows(shape)
                case let .rowShifts(shifts): built = RowShifts(shape, shifts: shifts)
                }
                layers.append(built)
                shape = built.outputShape
            }
            return layers
        }
        // Trunk layers: their `name`, else type and number (conv1, conv2, dense3...).
        trunk = build(spec.layers, from: input) { given, type in given ?? "\(type)\(learned)" }
        let trunkOutput = trunk.last?.outputShape ?? input
        heads = spec.heads.map { head in
            let prefix = spec.prefix(of: head)
            // A head's default dense layer is named by the prefix alone (`output.weight`, the paper's
            // name); its own layers are `<prefix>.<name or type and number>`.
            let layers = build(head.layersOrDefault, from: trunkOutput) { given, type in
                head.layers == nil ? prefix : "\(prefix).\(given ?? "\(type)\(learned)")"
            }
            return OutputHead(spec: head, layers: layers)
        }
        // Nothing learns below the image: the first layer's input gradient is never needed (nor
        // that of a convolution behind a row flip only).
        (trunk.first { !($0 is FlipRows || $0 is RowShifts) } as? Convolution)?.computesInputGradient = false
        Self.fuseReLUs(trunk)
        for head in heads { Self.fuseReLUs(head.layers) }
    }

    /// Each convolution directly followed by a ReLU rectifies its own output, and the ReLU passes
    /// values through (`Convolution.rectifies`, `ReLU.fused`): the same values and gradients bit
    /// for bit, without the ReLU's passes over the activations.
    static func fuseReLUs(_ layers: [Layer]) {
        for (layer, next) in zip(layers, layers.dropFirst()) {
            if let conv = layer as? Convolution, let relu = next as? ReLU {
                conv.rectifies = true
                relu.fused = true
            }
        }
    }

    /// Builds a named paper network for `size` x `size` images with one head of `labels`' kind.
    public convenience init(_ named: NetworkSpec.Named, heads: [HeadKind] = [.single], size: Int, seed: UInt64) {
        try! self.init(.named(named, heads: heads), input: ActivationShape(channels: 1, height: size, width: size), seed: seed)
    }

    /// The same spec and weights built for `input` (the weights must not depend on the input
    /// shape: no dense layer after a shape change); `columnsPerOutput` as in `init`.
    func copy(input: ActivationShape? = nil, columnsPerOutput: Bool = false) throws -> Network {
        let copy = try Network(spec, input: input ?? self.input, seed: 0, columnsPerOutput: columnsPerOutput)
        for (to, from) in zip(copy.parameters, parameters) {
            precondition(to.name == from.name && to.shape == from.shape, "a copy's weights must not depend on its input shape")
            to.value = from.value
        }
        return copy
    }

    /// Every layer: the trunk's, then each head's.
    public var layers: [Layer] { trunk + heads.flatMap(\.layers) }

    /// Every learnable tensor, in layer order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// The head of `kind`, if the network has one.
    public func head(_ kind: HeadKind) -> OutputHead? { heads.first { $0.kind == kind } }

    /// Floating-point operations of one example's forward pass in its convolution and dense
    /// layers (two per multiply-add; the elementwise layers add comparatively little).
    public var forwardFLOPs: Int {
        layers.reduce(0) { total, layer in
            switch layer {
            case let conv as Convolution: total + 2 * conv.filters * conv.patch * conv.pixels
            case let dense as Dense: total + 2 * dense.inputs * dense.outputs
            default: total
            }
        }
    }

    /// The logits of `batch` examples (each `input.count` values), one array per head.
    public func forward(_ images: [Float], batch: Int) -> [[Float]] {
        let features = trunk.reduce(images) { $1.forward($0, batch: batch) }
        return heads.map { head in head.layers.reduce(features) { $1.forward($0, batch: batch) } }
    }

    /// The logits of `forward` for inference: layers keep nothing for `backward` (`Layer.infer`),
    /// which saves their bookkeeping; the values are the same.
    public func infer(_ images: [Float], batch: Int) -> [[Float]] {
        let features = Self.inferenceOrder(trunk).reduce(images) { $1.infer($0, batch: batch) }
        return heads.map { head in Self.inferenceOrder(head.layers).reduce(features) { $1.infer($0, batch: batch) } }
    }

    /// `layers` in the order inference runs them: a ReLU directly followed by a max pool runs
    /// after the pool (max and max(0, x) commute, so the values are the same bit for bit), which
    /// rectifies the pooled values only and spares a pass over the larger unpooled ones. Training
    /// keeps the spec's order (the pool's winners among rectified zeros differ).
    static func inferenceOrder(_ layers: [Layer]) -> [Layer] {
        var order = layers, i = 0
        while i + 1 < order.count {
            if order[i] is ReLU, order[i + 1] is MaxPool {
                order.swapAt(i, i + 1)
                i += 2
            } else {
                i += 1
            }
        }
        return order
    }

    /// Back-propagates each head's loss gradient with respect to its logits (in `heads` order),
    /// accumulating parameter gradients; the heads' gradients at the trunk's output add up.
    public func backward(_ gradients: [[Float]]) {
        var features: [Float] = []
        for (head, gradient) in zip(heads, gradients) {
            let back = head.layers.reversed().reduce(gradient) { $1.backward($0) }
            if features.isEmpty { features = back } else { for i in features.indices { features[i] += back[i] } }
        }
        _ = trunk.reversed().reduce(features) { $1.backward($0) }
    }

    /// Clears the accumulated gradients.
    public func zeroGradients() { parameters.zeroGradients() }

    /// The data loss of a batch: each head's mean loss, their weighted sum, and each head's
    /// gradient with respect to its logits (scaled by its weight).
    public func loss(_ logits: [[Float]], targets: TargetBatch) -> (total: Double, heads: [Double], gradients: [[Float]]) {
        var total = 0.0, losses: [Double] = [], gradients: [[Float]] = []
        for (head, output) in zip(heads, logits) {
            var (loss, gradient) = head.rule.loss(output, targets: targets)
            let weight = head.spec.weight
            if weight != 1 { for i in gradient.indices { gradient[i] *= Float(weight) } }
            total += weight * loss
            losses.append(loss)
            gradients.append(gradient)
        }
        return (total, losses, gradients)
    }

    /// Half the sum of squared decaying weights (weights, not biases) times `rate`: the weight-decay term added to the loss.
    public func weightDecayLoss(rate: Double) -> Double {
        parameters.filter(\.decays).reduce(0) { total, p in total + p.value.reduce(0) { $0 + Double($1) * Double($1) } } * rate / 2
    }
}

/// C x H x W to (C H W) x 1 x 1: the values stay where they are.
public final class Flatten: Layer {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }

    /// Creates a flatten for inputs of `input`.
    public init(_ input: ActivationShape) { outputShape = ActivationShape(channels: input.count, height: 1, width: 1) }

    public func forward(_ x: [Float], batch: Int) -> [Float] { x }
    public func backward(_ dy: [Float]) -> [Float] { dy }
}

/// Reverses the rows of every channel: row r becomes row H - 1 - r (its own inverse, so the
/// gradient flips back the same way).
/// Stacks row-shifted copies of every channel (`LayerSpec.rowShifts`): output channel c S + i is
/// input channel c moved up by `shifts[i]` rows, zero-filled. No weights; the backward pass adds
/// each copy's gradient back at its source rows.
public final class RowShifts: Layer {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    let input: ActivationShape, shifts: [Int]

    /// Creates the layer for inputs of `shape`.
    public init(_ shape: ActivationShape, shifts: [Int]) {
        input = shape
        self.shifts = shifts
        outputShape = ActivationShape(channels: shape.channels * shifts.count, height: shape.height, width: shape.width)
    }

    /// The input rows r + shift that land on output rows r, as (first output row, count).
    func span(_ shift: Int) -> (first: Int, count: Int) {
        let first = max(0, -shift), last = min(input.height, input.height - shift)
        return (first, max(0, last - first))
    }

    public func forward(_ x: [Float], batch: Int) -> [Float] {
        let h = input.height, w = input.width, plane = h * w
        var out = [Float](repeating: 0, count: batch * outputShape.count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for n in 0 ..< batch {
                    for c in 0 ..< input.channels {
                        let from = src.baseAddress! + (n * input.channels + c) * plane
                        for (i, shift) in shifts.enumerated() {
                            let (first, count) = span(shift)
                            guard count > 0 else { continue }
                            let to = dst.baseAddress! + ((n * input.channels + c) * shifts.count + i) * plane
                            (to + first * w).update(from: from + (first + shift) * w, count: count * w)
                        }
                    }
                }
            }
        }
        return out
    }

    public func backward(_ dy: [Float]) -> [Float] {
        let h = input.height, w = input.width, plane = h * w
        let batch = dy.count / max(1, outputShape.count)
        var dx = [Float](repeating: 0, count: batch * input.count)
        for n in 0 ..< batch {
            for c in 0 ..< input.channels {
                let to = (n * input.channels + c) * plane
                for (i, shift) in shifts.enumerated() {
                    let (first, count) = span(shift)
                    let from = ((n * input.channels + c) * shifts.count + i) * plane
                    for j in 0 ..< count * w { dx[to + (first + shift) * w + j] += dy[from + first * w + j] }
                }
            }
        }
        return dx
    }
}

public final class FlipRows: Layer {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }

    /// Creates a flip for inputs of `shape`.
    public init(_ shape: ActivationShape) { outputShape = shape }

    public func forward(_ x: [Float], batch: Int) -> [Float] { flip(x) }
    public func backward(_ dy: [Float]) -> [Float] { flip(dy) }

    func flip(_ x: [Float]) -> [Float] {
        let h = outputShape.height, w = outputShape.width, planes = x.count / max(1, h * w)
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0 ..< planes {
                    for r in 0 ..< h {
                        (dst.baseAddress! + (p * h + h - 1 - r) * w).update(from: src.baseAddress! + (p * h + r) * w, count: w)
                    }
                }
            }
        }
        return out
    }
}
