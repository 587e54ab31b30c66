/// A 2-D convolution, stride 1, "SAME" zero padding (output as large as the input), computed as
/// im2col + one matrix product per batch.
public final class Convolution: Layer, @unchecked Sendable {
    let input: ActivationShape
    let filters: Int
    let kernel: Int
    /// [filters, channels, kernel, kernel].
    public let weight: Parameter
    /// [filters].
    public let bias: Parameter
    public var outputShape: ActivationShape { ActivationShape(channels: filters, height: input.height, width: input.width) }
    public var parameters: [Parameter] { [weight, bias] }
    private var columns: [Float] = []  // (channels * k * k) x (batch * h * w)
    /// Whether `backward` returns the input gradient; the first layer's (the image's) is not needed.
    public var computesInputGradient = true
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

    /// The output columns x in 0 ..< w whose source column x + j - pad lies inside the image.
    func validColumns(_ j: Int, _ w: Int, _ pad: Int) -> Range<Int> { max(0, pad - j) ..< max(max(0, pad - j), min(w, w + pad - j)) }

    /// Unrolls one example's receptive fields into columns: row (c, i, j) holds x[c, y + i - p, x + j - p],
    /// rows `stride` floats apart (so an example can write its block of a batch-wide matrix directly).
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, stride: Int) {
        let h = input.height, w = input.width, pad = (kernel - 1) / 2
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel {
                for j in 0 ..< kernel {
                    let out = cols + row * stride, valid = validColumns(j, w, pad)
                    for y in 0 ..< h {
                        let sy = y + i - pad, line = out + y * w
                        guard sy >= 0 && sy < h else {
                            line.initialize(repeating: 0, count: w)
                            continue
                        }
                        // Zeros left and right of the image, one contiguous copy between.
                        line.initialize(repeating: 0, count: valid.lowerBound)
                        (line + valid.lowerBound).update(from: x + (c * h + sy) * w + valid.lowerBound + j - pad, count: valid.count)
                        (line + valid.upperBound).initialize(repeating: 0, count: w - valid.upperBound)
                    }
                    row += 1
                }
            }
        }
    }

    /// Adds columns (rows `stride` floats apart) back into an example's input gradient: the transpose of `im2col`.
    func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, stride: Int) {
        let h = input.height, w = input.width, pad = (kernel - 1) / 2
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel {
                for j in 0 ..< kernel {
                    let src = cols + row * stride, valid = validColumns(j, w, pad)
                    for y in 0 ..< h {
                        let sy = y + i - pad
                        guard sy >= 0 && sy < h else { continue }
                        let dst = dx + (c * h + sy) * w, line = src + y * w, shift = j - pad
                        for xx in valid { dst[xx + shift] += line[xx] }
                    }
                    row += 1
                }
            }
        }
    }

    private var product: [Float] = []  // filters x (batch * pixels): the GEMM's output, or dy in that layout

    /// One matrix product for the whole batch: columns are (patch) x (batch * pixels), so the
    /// product is filters x (batch * pixels), scattered back to NCHW with the bias added.
    public func forward(_ x: [Float], batch: Int) -> [Float] {
        self.batch = batch
        let width = batch * pixels
        if columns.count != patch * width { columns = [Float](repeating: 0, count: patch * width) }
        if product.count != filters * width { product = [Float](repeating: 0, count: filters * width) }
        var out = [Float](repeating: 0, count: batch * outputShape.count)
        let pixels = self.pixels
        x.withUnsafeBufferPointer { xp in
            columns.withUnsafeMutableBufferPointer { cp in
                // im2col writes each example's columns into its own column block of the wide matrix.
                let source = SendablePointer(UnsafeMutablePointer(mutating: xp.baseAddress!)), wide = SendablePointer(cp.baseAddress!)
                let inputCount = input.count
                forEachPart(of: batch, threads: LayerThreads.count) { examples in
                    for n in examples { self.im2col(source.pointer + n * inputCount, wide.pointer + n * pixels, stride: width) }
                }
                product.withUnsafeMutableBufferPointer { pp in
                    weight.value.withUnsafeBufferPointer { wp in
                        gemmSplittingColumns(false, filters, width, patch, 1, wp.baseAddress!, patch, cp.baseAddress!, width, 0, pp.baseAddress!, width)
                    }
                    out.withUnsafeMutableBufferPointer { op in
                        for n in 0 ..< batch {
                            for f in 0 ..< filters {
                                let src = pp.baseAddress! + f * width + n * pixels, dst = op.baseAddress! + (n * filters + f) * pixels
                                let b = bias.value[f]
                                for p in 0 ..< pixels { dst[p] = src[p] + b }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    public func backward(_ dy: [Float]) -> [Float] {
        let width = batch * pixels, pixels = self.pixels
        // dy from NCHW to filters x (batch * pixels), and the bias gradient on the way.
        dy.withUnsafeBufferPointer { gp in
            product.withUnsafeMutableBufferPointer { pp in
                for n in 0 ..< batch {
                    for f in 0 ..< filters {
                        let src = gp.baseAddress! + (n * filters + f) * pixels, dst = pp.baseAddress! + f * width + n * pixels
                        var sum: Float = 0
                        for p in 0 ..< pixels { dst[p] = src[p]; sum += src[p] }
                        bias.gradient[f] += sum
                    }
                }
            }
        }
        product.withUnsafeBufferPointer { pp in
            columns.withUnsafeBufferPointer { cp in
                weight.gradient.withUnsafeMutableBufferPointer { dwp in
                    // dW += dY (filters x width) . cols^T (width x patch)
                    gemmSplittingReduction(filters, patch, width, 1, pp.baseAddress!, width, cp.baseAddress!, width, dwp.baseAddress!, patch)
                }
            }
        }
        guard computesInputGradient else { return [] }
        var dx = [Float](repeating: 0, count: batch * input.count)
        var dcols = [Float](repeating: 0, count: patch * width)
        product.withUnsafeBufferPointer { pp in
            weight.value.withUnsafeBufferPointer { wp in
                dcols.withUnsafeMutableBufferPointer { dcp in
                    // dcols = W^T (patch x filters) . dY (filters x width)
                    gemmSplittingColumns(true, patch, width, filters, 1, wp.baseAddress!, patch, pp.baseAddress!, width, 0, dcp.baseAddress!, width)
                }
            }
        }
        dcols.withUnsafeBufferPointer { dcp in
            dx.withUnsafeMutableBufferPointer { dxp in
                let wide = SendablePointer(UnsafeMutablePointer(mutating: dcp.baseAddress!)), target = SendablePointer(dxp.baseAddress!)
                let inputCount = input.count
                forEachPart(of: batch, threads: LayerThreads.count) { examples in
                    for n in examples { self.col2im(wide.pointer + n * pixels, target.pointer + n * inputCount, stride: width) }
                }
            }
        }
        return dx
    }
}
