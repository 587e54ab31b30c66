/// ceil(a / b) for b > 0 and any a.
@inline(__always) func ceilDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }

/// A 2-D convolution with a kernel of any height x width, strides and `Padding`, computed as
/// im2col + one matrix product per batch. Input and output are NCHW.
public final class Convolution: Layer, @unchecked Sendable {
    let input: ActivationShape
    let filters: Int
    /// Kernel rows and columns.
    let kernel: (height: Int, width: Int)
    /// Steps between windows along rows and columns.
    let stride: (height: Int, width: Int)
    /// Zero rows above and columns left of the input.
    let padBefore: (height: Int, width: Int)
    public let outputShape: ActivationShape
    /// [filters, channels, kernel height, kernel width].
    public let weight: Parameter
    /// [filters].
    public let bias: Parameter
    public var parameters: [Parameter] { [weight, bias] }
    private var columns: [Float] = []  // patch x (batch * output pixels)
    /// Whether `backward` returns the input gradient; the first layer's (the image's) is not needed.
    public var computesInputGradient = true
    private var batch = 0

    /// Creates a layer with weights drawn from `initialise` (given the count and the fan-in);
    /// the window must fit the input (see `Padding.axis`).
    public init(name: String, input: ActivationShape, filters: Int, kernel: (height: Int, width: Int), stride: (height: Int, width: Int) = (1, 1),
                padding: Padding2D = .same, initialise: (Int, Int) -> [Float]) {
        let rows = padding.rows.axis(input: input.height, window: kernel.height, stride: stride.height)!
        let cols = padding.columns.axis(input: input.width, window: kernel.width, stride: stride.width)!
        self.input = input
        self.filters = filters
        self.kernel = kernel
        self.stride = stride
        padBefore = (rows.before, cols.before)
        outputShape = ActivationShape(channels: filters, height: rows.output, width: cols.output)
        let fanIn = input.channels * kernel.height * kernel.width
        weight = Parameter(name: name + ".weight", shape: [filters, input.channels, kernel.height, kernel.width], value: initialise(filters * fanIn, fanIn), decays: true)
        bias = Parameter(name: name + ".bias", shape: [filters], value: [Float](repeating: 0, count: filters), decays: false)
    }

    /// A square kernel, stride 1, "SAME" padding: the paper's layers.
    public convenience init(name: String, input: ActivationShape, filters: Int, kernel: Int, initialise: (Int, Int) -> [Float]) {
        self.init(name: name, input: input, filters: filters, kernel: (kernel, kernel), initialise: initialise)
    }

    /// Values in one receptive field (a row of the im2col matrix per value).
    var patch: Int { input.channels * kernel.height * kernel.width }
    /// Output pixels per channel.
    var pixels: Int { outputShape.height * outputShape.width }

    /// The output columns x whose source column x * stride + j - pad lies inside the input.
    func validColumns(_ j: Int) -> Range<Int> {
        let w = input.width, sw = stride.width, pad = padBefore.width
        let lo = max(0, ceilDivide(pad - j, sw)), hi = min(outputShape.width, ceilDivide(w + pad - j, sw))
        return lo ..< max(lo, hi)
    }

    /// Unrolls one example's receptive fields into columns: row (c, i, j), column (y, x) holds
    /// x[c, y sy + i - pad, x sx + j - pad] (zero outside), rows `stride` floats apart (so an
    /// example can write its block of a batch-wide matrix directly).
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, stride rowStride: Int) {
        let h = input.height, w = input.width, oh = outputShape.height, ow = outputShape.width
        let sh = stride.height, sw = stride.width, padY = padBefore.height, padX = padBefore.width
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel.height {
                for j in 0 ..< kernel.width {
                    let out = cols + row * rowStride, valid = validColumns(j)
                    for y in 0 ..< oh {
                        let sy = y * sh + i - padY, line = out + y * ow
                        guard sy >= 0 && sy < h else {
                            line.initialize(repeating: 0, count: ow)
                            continue
                        }
                        // Zeros left and right of the image, the valid part between (one copy at stride 1).
                        line.initialize(repeating: 0, count: valid.lowerBound)
                        let source = x + (c * h + sy) * w + j - padX
                        if sw == 1 {
                            (line + valid.lowerBound).update(from: source + valid.lowerBound, count: valid.count)
                        } else {
                            for xx in valid { line[xx] = source[xx * sw] }
                        }
                        (line + valid.upperBound).initialize(repeating: 0, count: ow - valid.upperBound)
                    }
                    row += 1
                }
            }
        }
    }

    /// Adds columns (rows `stride` floats apart) back into an example's input gradient: the transpose of `im2col`.
    func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, stride rowStride: Int) {
        let h = input.height, w = input.width, oh = outputShape.height, ow = outputShape.width
        let sh = stride.height, sw = stride.width, padY = padBefore.height, padX = padBefore.width
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel.height {
                for j in 0 ..< kernel.width {
                    let src = cols + row * rowStride, valid = validColumns(j)
                    for y in 0 ..< oh {
                        let sy = y * sh + i - padY
                        guard sy >= 0 && sy < h else { continue }
                        let dst = dx + (c * h + sy) * w + j - padX, line = src + y * ow
                        for xx in valid { dst[xx * sw] += line[xx] }
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
