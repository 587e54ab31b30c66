/// A fully connected layer: y = W x + b over the flattened input.
public final class Dense: Layer {
    let inputs: Int
    let outputs: Int
    /// [outputs, inputs].
    public let weight: Parameter
    /// [outputs].
    public let bias: Parameter
    public var outputShape: ActivationShape { ActivationShape(channels: outputs, height: 1, width: 1) }
    public var parameters: [Parameter] { [weight, bias] }
    private var x: [Float] = []
    private var batch = 0

    /// Creates a layer with weights drawn from `initialise` (given count and fan-in).
    public init(name: String, inputs: Int, outputs: Int, initialise: (Int, Int) -> [Float]) {
        self.inputs = inputs
        self.outputs = outputs
        weight = Parameter(name: name + ".weight", shape: [outputs, inputs], value: initialise(outputs * inputs, inputs), decays: true)
        bias = Parameter(name: name + ".bias", shape: [outputs], value: [Float](repeating: 0, count: outputs), decays: false)
    }

    public func forward(_ input: [Float], batch: Int) -> [Float] {
        x = input
        self.batch = batch
        var y = [Float](repeating: 0, count: batch * outputs)
        for n in 0 ..< batch { for o in 0 ..< outputs { y[n * outputs + o] = bias.value[o] } }
        // Y (batch x outputs) += X (batch x inputs) . W^T
        x.withUnsafeBufferPointer { xp in
            weight.value.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    gemm(false, true, batch, outputs, inputs, 1, xp.baseAddress!, inputs, wp.baseAddress!, inputs, 1, yp.baseAddress!, outputs)  // small: one thread
                }
            }
        }
        return y
    }

    public func backward(_ dy: [Float]) -> [Float] {
        var dx = [Float](repeating: 0, count: batch * inputs)
        dy.withUnsafeBufferPointer { gp in
            x.withUnsafeBufferPointer { xp in
                weight.gradient.withUnsafeMutableBufferPointer { dwp in
                    // dW (outputs x inputs) += dY^T . X
                    gemmSplittingReduction(outputs, inputs, batch, 1, gp.baseAddress!, outputs, xp.baseAddress!, inputs, dwp.baseAddress!, inputs, transposeA: true)
                }
                weight.value.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        // dX (batch x inputs) = dY . W
                        gemmSplittingColumns(false, batch, inputs, outputs, 1, gp.baseAddress!, outputs, wp.baseAddress!, inputs, 0, dxp.baseAddress!, inputs)
                    }
                }
            }
        }
        for n in 0 ..< batch { for o in 0 ..< outputs { bias.gradient[o] += dy[n * outputs + o] } }
        return dx
    }
}
