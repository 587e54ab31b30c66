import Foundation

/// The optimisers `train` offers.
public enum OptimizerKind: String, Sendable, Codable, CaseIterable {
    /// Momentum SGD, the paper's (default for the named paper networks).
    case sgd
    /// Adam (Kingma and Ba 2015), the default for spec files.
    case adam

    /// The default learning rate: 0.01 for SGD (the paper's), 0.001 for Adam.
    public var defaultLearningRate: Float { self == .sgd ? 0.01 : 0.001 }
}

/// Updates parameters from their gradients and keeps its own state, which a checkpoint stores as
/// tensors named `<state>.<parameter name>` plus metadata.
public protocol Optimizer: AnyObject {
    /// Applies one step with learning rate `learningRate`.
    func step(_ parameters: [Parameter], learningRate: Float)
    /// The state to checkpoint: tensors by name and metadata.
    func state(of parameters: [Parameter]) -> (tensors: [String: Tensor], metadata: [String: String])
    /// Restores the state from a checkpoint's tensors and metadata; throws `FormatError` naming what is missing.
    func restore(_ parameters: [Parameter], tensors: [String: Tensor], metadata: [String: String]) throws
}

/// A per-parameter buffer store keyed by parameter identity.
struct ParameterBuffers {
    private var buffers: [ObjectIdentifier: [Float]] = [:]

    /// The buffer of `p` (zeros before its first use).
    func value(of p: Parameter) -> [Float] { buffers[ObjectIdentifier(p)] ?? [Float](repeating: 0, count: p.value.count) }

    /// Sets the buffer of `p`.
    mutating func set(_ values: [Float], of p: Parameter) { buffers[ObjectIdentifier(p)] = values }

    /// Runs `body` on `p`'s buffer in place (created as zeros), without copying it.
    mutating func update(_ p: Parameter, _ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        buffers[ObjectIdentifier(p), default: [Float](repeating: 0, count: p.value.count)].withUnsafeMutableBufferPointer { body($0) }
    }

    /// The checkpoint tensors `<prefix>.<name>` of every parameter.
    func tensors(_ parameters: [Parameter], prefix: String) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: parameters.map { ("\(prefix).\($0.name)", Tensor(shape: $0.shape, values: value(of: $0))) })
    }

    /// Restores every parameter's buffer from tensors `<prefix>.<name>`.
    mutating func restore(_ parameters: [Parameter], from tensors: [String: Tensor], prefix: String) throws {
        for p in parameters {
            guard let tensor = tensors["\(prefix).\(p.name)"], tensor.shape == p.shape else {
                throw FormatError("the checkpoint lacks \(prefix).\(p.name) with shape \(p.shape)")
            }
            set(tensor.values, of: p)
        }
    }
}

/// Stochastic gradient descent with momentum; weight decay enters as rate x weight in each gradient.
public final class MomentumSGD: Optimizer {
    /// Momentum coefficient.
    public let momentum: Float
    /// Weight-decay rate (the loss gets rate / 2 x sum of squared weights).
    public let weightDecay: Float
    private var velocity = ParameterBuffers()

    /// Creates an optimiser.
    public init(momentum: Float = 0.9, weightDecay: Float = 0.0005) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// The momentum buffer of `parameter` (zeros before its first step).
    public func velocity(of parameter: Parameter) -> [Float] { velocity.value(of: parameter) }

    /// Applies one step: v = m v + (g + decay w); w -= lr v.
    public func step(_ parameters: [Parameter], learningRate: Float) {
        for p in parameters {
            let decay = p.decays ? weightDecay : 0, momentum = self.momentum
            velocity.update(p) { v in
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

    public func state(of parameters: [Parameter]) -> (tensors: [String: Tensor], metadata: [String: String]) {
        (velocity.tensors(parameters, prefix: "momentum"), ["optimizer": OptimizerKind.sgd.rawValue])
    }

    public func restore(_ parameters: [Parameter], tensors: [String: Tensor], metadata: [String: String]) throws {
        try velocity.restore(parameters, from: tensors, prefix: "momentum")
    }
}

/// Adam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, w -= lr m^ / (sqrt(v^) + eps) with the
/// bias corrections m^ = m / (1 - b1^t), v^ = v / (1 - b2^t); weight decay enters the gradient as
/// rate x weight (L2, as for SGD, so the loss the log reports is the one minimised).
public final class Adam: Optimizer {
    /// First-moment decay.
    public let beta1: Float
    /// Second-moment decay.
    public let beta2: Float
    /// Added to the root of the second moment.
    public let epsilon: Float
    /// Weight-decay rate.
    public let weightDecay: Float
    /// Steps taken (t).
    public private(set) var steps = 0
    private var first = ParameterBuffers(), second = ParameterBuffers()

    /// Creates an optimiser with the usual settings.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.0005) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Parameter], learningRate: Float) {
        steps += 1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = Float(1 - pow(Double(b1), Double(steps))), c2 = Float(1 - pow(Double(b2), Double(steps)))
        for p in parameters {
            let decay = p.decays ? weightDecay : 0
            first.update(p) { m in
                second.update(p) { v in
                    p.gradient.withUnsafeBufferPointer { g in
                        p.value.withUnsafeMutableBufferPointer { w in
                            for i in 0 ..< m.count {
                                let gi = g[i] + decay * w[i]
                                m[i] = b1 * m[i] + (1 - b1) * gi
                                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                                w[i] -= learningRate * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                            }
                        }
                    }
                }
            }
        }
    }

    public func state(of parameters: [Parameter]) -> (tensors: [String: Tensor], metadata: [String: String]) {
        (first.tensors(parameters, prefix: "adam_m").merging(second.tensors(parameters, prefix: "adam_v")) { a, _ in a },
         ["optimizer": OptimizerKind.adam.rawValue, "adamSteps": String(steps)])
    }

    public func restore(_ parameters: [Parameter], tensors: [String: Tensor], metadata: [String: String]) throws {
        guard let steps = metadata["adamSteps"].flatMap(Int.init), steps >= 0 else { throw FormatError("the checkpoint lacks adamSteps") }
        try first.restore(parameters, from: tensors, prefix: "adam_m")
        try second.restore(parameters, from: tensors, prefix: "adam_v")
        self.steps = steps
    }
}
