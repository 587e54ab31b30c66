/// A 2-D convolution, stride 1, "SAME" zero padding (output as large as the input), computed as
/// im2col + one matrix product per example.
public final class Convolution: Layer {
    let input: ActivationShape
    let filters: Int
    let kernel: Int
    /// [filters, channels, kernel, kernel].
    public let weight: Parameter
    /// [filters].
    public let bias: Parameter
    public var outputShape: ActivationShape { ActivationShape(channels: filters, height: input.height, width: input.width) }
    public var parameters: [Parameter] { [weight, bias] }
    private var columns: [Float] = []  // per example: (channels * k * k) x (h * w)
    private var batch = 0

    /// Creates a layer with weights drawn from `initialise` (given the fan-in).
    public init(name: String, input: ActivationShape, filters: Int, kernel: Int, initialise: (Int, Int) -> [Float]) {
        self.input = input
        self.filters = filters
        self.kernel = kernel
        let fanIn = input.channels * kernel * kernel
        weight = Parameter(name: name + ".weight", shape: [filters, input.channels, kernel, kernel], value: initialise(filters * fanIn, fanIn), decays: true)
        bias = Parameter(name: name + ".bias", shape: [filters], value: [Float](repeating: 0, count: filters), decays: false)
    }

    var patch: Int { input.channels * kernel * kernel }
    var pixels: Int { input.height * input.width }

    /// Unrolls one example's receptive fields into columns: row (c, i, j) holds x[c, y + i - p, x + j - p].
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
        let h = input.height, w = input.width, pad = (kernel - 1) / 2
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel {
                for j in 0 ..< kernel {
                    let out = cols + row * pixels
                    for y in 0 ..< h {
                        let sy = y + i - pad
                        if sy < 0 || sy >= h {
                            (out + y * w).initialize(repeating: 0, count: w)
                            continue
                        }
                        let src = x + (c * h + sy) * w
                        for xx in 0 ..< w {
                            let sx = xx + j - pad
                            out[y * w + xx] = sx >= 0 && sx < w ? src[sx] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Adds columns back into an example's input gradient (the transpose of `im2col`).
    func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let h = input.height, w = input.width, pad = (kernel - 1) / 2
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel {
                for j in 0 ..< kernel {
                    let src = cols + row * pixels
                    for y in 0 ..< h {
                        let sy = y + i - pad
                        guard sy >= 0 && sy < h else { continue }
                        let dst = dx + (c * h + sy) * w
                        for xx in 0 ..< w {
                            let sx = xx + j - pad
                            if sx >= 0 && sx < w { dst[sx] += src[y * w + xx] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    public func forward(_ x: [Float], batch: Int) -> [Float] {
        self.batch = batch
        columns = [Float](repeating: 0, count: batch * patch * pixels)
        var out = [Float](repeating: 0, count: batch * outputShape.count)
        x.withUnsafeBufferPointer { xp in
            columns.withUnsafeMutableBufferPointer { cp in
                out.withUnsafeMutableBufferPointer { op in
                    weight.value.withUnsafeBufferPointer { wp in
                        for n in 0 ..< batch {
                            let cols = cp.baseAddress! + n * patch * pixels
                            im2col(xp.baseAddress! + n * input.count, cols)
                            let y = op.baseAddress! + n * outputShape.count
                            for f in 0 ..< filters { (y + f * pixels).initialize(repeating: bias.value[f], count: pixels) }
                            // y[f, p] += W[f, :] . cols[:, p]
                            gemm(false, false, filters, pixels, patch, 1, wp.baseAddress!, patch, cols, pixels, 1, y, pixels)
                        }
                    }
                }
            }
        }
        return out
    }

    public func backward(_ dy: [Float]) -> [Float] {
        var dx = [Float](repeating: 0, count: batch * input.count)
        var dcols = [Float](repeating: 0, count: patch * pixels)
        dy.withUnsafeBufferPointer { gp in
            columns.withUnsafeBufferPointer { cp in
                weight.value.withUnsafeBufferPointer { wp in
                    weight.gradient.withUnsafeMutableBufferPointer { dwp in
                        dcols.withUnsafeMutableBufferPointer { dcp in
                            dx.withUnsafeMutableBufferPointer { dxp in
                                for n in 0 ..< batch {
                                    let g = gp.baseAddress! + n * outputShape.count
                                    let cols = cp.baseAddress! + n * patch * pixels
                                    // dW += dy (filters x pixels) . cols^T (pixels x patch)
                                    gemm(false, true, filters, patch, pixels, 1, g, pixels, cols, pixels, 1, dwp.baseAddress!, patch)
                                    for f in 0 ..< filters {
                                        var sum: Float = 0
                                        for p in 0 ..< pixels { sum += g[f * pixels + p] }
                                        bias.gradient[f] += sum
                                    }
                                    // dcols = W^T (patch x filters) . dy (filters x pixels)
                                    gemm(true, false, patch, pixels, filters, 1, wp.baseAddress!, patch, g, pixels, 0, dcp.baseAddress!, pixels)
                                    col2im(dcp.baseAddress!, dxp.baseAddress! + n * input.count)
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
