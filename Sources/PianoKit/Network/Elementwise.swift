/// max(0, x).
public final class ReLU: Layer {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    private var mask: [Bool] = []

    /// Creates a ReLU for inputs of `shape`.
    public init(_ shape: ActivationShape) { outputShape = shape }

    public func forward(_ x: [Float], batch: Int) -> [Float] {
        mask = x.map { $0 > 0 }
        return x.map { max(0, $0) }
    }

    public func backward(_ dy: [Float]) -> [Float] {
        var dx = dy
        for i in dx.indices where !mask[i] { dx[i] = 0 }
        return dx
    }
}

/// Max pooling with TensorFlow's "SAME" padding: output ceil(input / stride), padding split
/// with the smaller half before; padded cells never win.
public final class MaxPool: Layer {
    let input: ActivationShape
    let size: Int
    let stride: Int
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    private var winners: [Int] = []  // input index of each output's maximum

    /// Creates a pooling layer.
    public init(_ input: ActivationShape, size: Int = 3, stride: Int = 2) {
        self.input = input
        self.size = size
        self.stride = stride
        outputShape = ActivationShape(channels: input.channels, height: (input.height + stride - 1) / stride, width: (input.width + stride - 1) / stride)
    }

    func padding(_ inLength: Int, _ outLength: Int) -> Int { max(0, (outLength - 1) * stride + size - inLength) / 2 }

    public func forward(_ x: [Float], batch: Int) -> [Float] {
        let o = outputShape, padY = padding(input.height, o.height), padX = padding(input.width, o.width)
        var out = [Float](repeating: 0, count: batch * o.count)
        winners = [Int](repeating: 0, count: batch * o.count)
        for n in 0 ..< batch {
            for c in 0 ..< o.channels {
                let base = (n * input.channels + c) * input.height * input.width
                for oy in 0 ..< o.height {
                    for ox in 0 ..< o.width {
                        var best = -Float.infinity, at = -1
                        for i in 0 ..< size {
                            let y = oy * stride + i - padY
                            guard y >= 0 && y < input.height else { continue }
                            for j in 0 ..< size {
                                let xx = ox * stride + j - padX
                                guard xx >= 0 && xx < input.width else { continue }
                                let index = base + y * input.width + xx
                                if x[index] > best { best = x[index]; at = index }
                            }
                        }
                        let k = ((n * o.channels + c) * o.height + oy) * o.width + ox
                        out[k] = best
                        winners[k] = at
                    }
                }
            }
        }
        return out
    }

    public func backward(_ dy: [Float]) -> [Float] {
        var dx = [Float](repeating: 0, count: winners.count / outputShape.count * input.count)
        for (k, at) in winners.enumerated() { dx[at] += dy[k] }
        return dx
    }
}

/// Local response normalisation across channels, as TensorFlow's `lrn`:
/// y_c = x_c / (bias + alpha * sum of x_j^2 for |j - c| <= radius)^beta.
public final class LocalResponseNorm: Layer {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    let radius: Int
    let bias: Float
    let alpha: Float
    let beta: Float
    private var x: [Float] = []
    private var scale: [Float] = []  // bias + alpha * window sum, per element

    /// Creates the layer; the defaults are the paper's (TensorFlow CIFAR-10's) norm layers.
    public init(_ shape: ActivationShape, radius: Int = 4, bias: Float = 1, alpha: Float = 0.001 / 9, beta: Float = 0.75) {
        outputShape = shape
        self.radius = radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta
    }

    public func forward(_ input: [Float], batch: Int) -> [Float] {
        x = input
        let s = outputShape, plane = s.height * s.width
        scale = [Float](repeating: 0, count: input.count)
        var out = [Float](repeating: 0, count: input.count)
        for n in 0 ..< batch {
            for p in 0 ..< plane {
                for c in 0 ..< s.channels {
                    var sum: Float = 0
                    for j in max(0, c - radius) ... min(s.channels - 1, c + radius) {
                        let v = input[(n * s.channels + j) * plane + p]
                        sum += v * v
                    }
                    let k = (n * s.channels + c) * plane + p
                    scale[k] = bias + alpha * sum
                    out[k] = input[k] * pow(scale[k], -beta)
                }
            }
        }
        return out
    }

    /// dx_c = dy_c s_c^-b - 2 a b x_c sum over j with |j - c| <= r of dy_j x_j s_j^(-b-1).
    public func backward(_ dy: [Float]) -> [Float] {
        let s = outputShape, plane = s.height * s.width, batch = x.count / s.count
        var dx = [Float](repeating: 0, count: x.count)
        for n in 0 ..< batch {
            for p in 0 ..< plane {
                for c in 0 ..< s.channels {
                    var sum: Float = 0
                    for j in max(0, c - radius) ... min(s.channels - 1, c + radius) {
                        let k = (n * s.channels + j) * plane + p
                        sum += dy[k] * x[k] * pow(scale[k], -beta - 1)
                    }
                    let k = (n * s.channels + c) * plane + p
                    dx[k] = dy[k] * pow(scale[k], -beta) - 2 * alpha * beta * x[k] * sum
                }
            }
        }
        return dx
    }
}

import Foundation
