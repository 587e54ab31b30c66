import Foundation

/// The paper's architectures.
public enum Architecture: String, Sendable, CaseIterable, Codable {
    /// TensorFlow's CIFAR-10 network: conv 5x5x64 + ReLU, max pool 3/2, LRN, conv 5x5x64 + ReLU,
    /// LRN, max pool 3/2, dense 384 + ReLU, dense 192 + ReLU, linear output.
    case original
    /// One convolution: conv 5x5x64 + ReLU, max pool 3/2, LRN, linear output.
    case simple
}

/// What the output layer predicts.
public enum LabelKind: String, Sendable, CaseIterable, Codable {
    /// 128-way softmax: the MIDI note of the step (0 = none).
    case single
    /// 88 sigmoids: every sounding key (MIDI 21...108).
    case multi

    /// Output units.
    public var outputs: Int { self == .single ? 128 : pianoKeys.count }
}

/// A feed-forward network: layers in order, built for one input shape.
public final class Network {
    /// The architecture.
    public let architecture: Architecture
    /// The label kind of the output layer.
    public let labels: LabelKind
    /// Input shape (1 x size x size).
    public let input: ActivationShape
    /// The layers, first to last.
    public let layers: [Layer]

    /// Builds `architecture` for `size` x `size` grayscale inputs, weights drawn from a seeded
    /// generator (truncated-normal-like uniform with standard deviation 1/sqrt(fan-in) for
    /// hidden layers, as He-style scaling for ReLU nets).
    public init(_ architecture: Architecture, labels: LabelKind, size: Int, seed: UInt64) {
        self.architecture = architecture
        self.labels = labels
        input = ActivationShape(channels: 1, height: size, width: size)
        var rng = SeededGenerator(seed: seed)
        func initialise(_ count: Int, _ fanIn: Int) -> [Float] {
            // Uniform on [-a, a] has standard deviation a / sqrt(3): a = sqrt(6 / fanIn) gives He scaling.
            let a = Float((6 / Double(fanIn)).squareRoot())
            return (0 ..< count).map { _ in Float.random(in: -a ... a, using: &rng) }
        }
        var layers: [Layer] = []
        var shape = input
        func add(_ layer: Layer) {
            layers.append(layer)
            shape = layer.outputShape
        }
        let conv1 = Convolution(name: "conv1", input: shape, filters: 64, kernel: 5, initialise: initialise)
        conv1.computesInputGradient = false  // nothing learns below the image
        add(conv1)
        add(ReLU(shape))
        add(MaxPool(shape))
        add(LocalResponseNorm(shape))
        if architecture == .original {
            add(Convolution(name: "conv2", input: shape, filters: 64, kernel: 5, initialise: initialise))
            add(ReLU(shape))
            add(LocalResponseNorm(shape))
            add(MaxPool(shape))
            add(Dense(name: "local3", inputs: shape.count, outputs: 384, initialise: initialise))
            add(ReLU(shape))
            add(Dense(name: "local4", inputs: shape.count, outputs: 192, initialise: initialise))
            add(ReLU(shape))
        }
        add(Dense(name: "output", inputs: shape.count, outputs: labels.outputs, initialise: initialise))
        self.layers = layers
    }

    /// The number of weights and biases `architecture` has for `size` x `size` inputs, worked out
    /// without building it (a model file's claimed size is checked against its tensors before any
    /// large allocation). Max pools halve each side, rounding up.
    public static func parameterCount(_ architecture: Architecture, labels: LabelKind, size: Int) -> Int {
        let conv = 5 * 5 * 64 + 64, half = (size + 1) / 2
        switch architecture {
        case .simple:
            return conv + half * half * 64 * labels.outputs + labels.outputs
        case .original:
            let quarter = (half + 1) / 2
            return conv + (5 * 5 * 64 * 64 + 64) + (quarter * quarter * 64 * 384 + 384) + (384 * 192 + 192) + (192 * labels.outputs + labels.outputs)
        }
    }

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

    /// Every learnable tensor, in layer order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// The logits of `batch` examples (each size x size values, pixels scaled as the caller chooses).
    public func forward(_ images: [Float], batch: Int) -> [Float] {
        layers.reduce(images) { $1.forward($0, batch: batch) }
    }

    /// Back-propagates the loss gradient with respect to the logits, accumulating parameter gradients.
    public func backward(_ gradient: [Float]) {
        _ = layers.reversed().reduce(gradient) { $1.backward($0) }
    }

    /// Clears the accumulated gradients.
    public func zeroGradients() {
        for p in parameters { p.gradient = [Float](repeating: 0, count: p.value.count) }
    }

    /// The data loss of a batch and its gradient with respect to the logits.
    public func loss(_ logits: [Float], labels single: [Int], targets multi: [Float], batch: Int) -> (loss: Double, gradient: [Float]) {
        switch labels {
        case .single: return Loss.softmaxCrossEntropy(logits, labels: single, classes: 128)
        case .multi: return Loss.sigmoidCrossEntropy(logits, targets: multi, batch: batch)
        }
    }

    /// Half the sum of squared decaying weights (weights, not biases) times `rate`: the weight-decay term added to the loss.
    public func weightDecayLoss(rate: Double) -> Double {
        parameters.filter(\.decays).reduce(0) { total, p in total + p.value.reduce(0) { $0 + Double($1) * Double($1) } } * rate / 2
    }
}

/// Stochastic gradient descent with momentum; weight decay enters as rate x weight in each gradient.
public final class MomentumSGD {
    /// Momentum coefficient.
    public let momentum: Float
    /// Weight-decay rate (the loss gets rate / 2 x sum of squared weights).
    public let weightDecay: Float
    private var velocity: [ObjectIdentifier: [Float]] = [:]

    /// Creates an optimiser.
    public init(momentum: Float = 0.9, weightDecay: Float = 0.0005) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// The momentum buffer of `parameter` (zeros before its first step).
    public func velocity(of parameter: Parameter) -> [Float] {
        velocity[ObjectIdentifier(parameter)] ?? [Float](repeating: 0, count: parameter.value.count)
    }

    /// Restores a momentum buffer (from a checkpoint).
    public func setVelocity(_ values: [Float], of parameter: Parameter) {
        precondition(values.count == parameter.value.count)
        velocity[ObjectIdentifier(parameter)] = values
    }

    /// Applies one step: v = m v + (g + decay w); w -= lr v.
    public func step(_ parameters: [Parameter], learningRate: Float) {
        for p in parameters {
            let decay = p.decays ? weightDecay : 0, momentum = self.momentum
            // Mutated in place in the dictionary's storage: no copy of the buffer per step.
            velocity[ObjectIdentifier(p), default: [Float](repeating: 0, count: p.value.count)].withUnsafeMutableBufferPointer { v in
                p.gradient.withUnsafeBufferPointer { g in
                    p.value.withUnsafeMutableBufferPointer { w in
                        for i in 0 ..< v.count {
                            v[i] = momentum * v[i] + g[i] + decay * w[i]
                            w[i] -= learningRate * v[i]
                        }
                    }
                }
            }
        }
    }
}
