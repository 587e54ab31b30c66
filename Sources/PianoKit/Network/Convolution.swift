import CConvKernels
import Foundation

/// ceil(a / b) for b > 0 and any a.
@inline(__always) func ceilDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }

/// A 2-D convolution with a kernel of any height x width, strides and `Padding`, computed
/// directly by AVX-512 kernels where it can (stride 1, filters a multiple of 16:
/// `Convolution+Direct.swift`), else as im2col + matrix products over cache-sized tiles of each
/// example's output rows (at stride 1 over the zero-padded input's full width:
/// `Convolution+Wide.swift`). Input and output are NCHW.
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
    /// Whether `backward` returns the input gradient; the first layer's (the image's) is not needed.
    public var computesInputGradient = true
    /// Whether the output is max(0, value): the ReLU after this layer fused in (`Network` sets it
    /// with the ReLU's `fused`). Forward rectifies as it writes the output (the direct path as it
    /// transposes it), backward takes dY as zero where the output is not positive (the direct path
    /// as it reads dY).
    public var rectifies = false
    private var lastOutput: [Float] = []  // the last forward's output, when `rectifies`
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

    /// The output rows among `rows` whose source row y sy + i - pad lies inside the input (a
    /// run, possibly empty, within `rows`).
    func insideRows(_ i: Int, of rows: Range<Int>) -> Range<Int> {
        let sh = stride.height, pad = padBefore.height
        let lo = min(rows.upperBound, max(rows.lowerBound, ceilDivide(pad - i, sh)))
        return lo ..< max(lo, min(rows.upperBound, ceilDivide(input.height + pad - i, sh)))
    }

    /// Output rows per tile: im2col unrolls at most this many output rows of one example at a
    /// time, so the unrolled matrix (patch x rows x output width floats) stays near
    /// `tileFloats` (in L2/L3 cache) whatever the batch and input width; at least one row.
    var rowsPerTile: Int { max(1, min(outputShape.height, tileFloats / max(1, patch * outputShape.width))) }
    /// The unrolled matrix's target size in floats (default 2 MB; tests set 1 for a tile per row).
    var tileFloats = 1 << 19
    /// Whether forward and backward unroll over the padded width (`Convolution+Wide.swift`):
    /// stride 1 where the extra product work, filters x (wp - ow) multiply-adds per unrolled
    /// value, stays under what a short row copy costs (about 64 of them, measured with
    /// bench-train: the bundled model's layers go wide, the paper's 64-filter layers do not).
    /// Tests set it either way.
    lazy var unrollsWide: Bool = stride == (1, 1) && filters * (padded.width - outputShape.width) <= 64
    /// Whether forward and backward take the direct path (`Convolution+Direct.swift`) rather than
    /// unrolling: wherever it can, stride 1, filters a multiple of 16 and a CPU with AVX-512F
    /// (measured with bench-train at one thread: the bundled model's network trains about 1.5x as
    /// fast, `original` 1.2x once its second 5x5x64 layer goes direct, its first layer about as
    /// fast either way). Tests set it either way (on such a CPU).
    lazy var usesDirect: Bool = stride == (1, 1) && filters % 16 == 0 && Self.directKernelsAvailable
    /// The direct path's tables, made on first use.
    lazy var directTables = DirectTables(self)

    /// Unrolls one example's receptive fields for output rows `rows` into columns: row (c, i, j),
    /// column (y - rows.lowerBound, x) holds x[c, y sy + i - pad, x sx + j - pad] (zero outside);
    /// the matrix is patch x (rows.count x output width), rows packed.
    func im2col(_ x: UnsafePointer<Float>, rows: Range<Int>, _ cols: UnsafeMutablePointer<Float>) {
        let h = input.height, w = input.width, ow = outputShape.width, rowStride = rows.count * ow
        let sh = stride.height, sw = stride.width, padY = padBefore.height, padX = padBefore.width
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel.height {
                // The output rows whose source row lies inside the input; zero above and below.
                let inside = insideRows(i, of: rows)
                for j in 0 ..< kernel.width {
                    let out = cols + row * rowStride, valid = validColumns(j)
                    let first = out + (inside.lowerBound - rows.lowerBound) * ow
                    FloatRows.zero(out, first - out)
                    FloatRows.zero(first + inside.count * ow, rowStride - (inside.upperBound - rows.lowerBound) * ow)
                    let source = x + c * h * w + j - padX
                    if sw == 1 && sh == 1 && ow == w {
                        // Whole rows shifted by j - pad (none when every column is valid): one run
                        // over the inside rows, then the values that came from a neighbouring row
                        // (left and right of `valid`) zeroed row by row.
                        let head = valid.lowerBound, tail = ow - valid.upperBound
                        let from = source + (inside.lowerBound + i - padY) * w
                        FloatRows.copy(first + head, from + head, max(0, inside.count * ow - head - tail))
                        zeroOutside(valid, lines: first, count: inside.count)
                    } else {
                        for y in inside {
                            let line = out + (y - rows.lowerBound) * ow, from = source + (y * sh + i - padY) * w
                            // Zeros left and right of the image, the valid part between.
                            FloatRows.zero(line, valid.lowerBound)
                            if sw == 1 {
                                FloatRows.copy(line + valid.lowerBound, from + valid.lowerBound, valid.count)
                            } else {
                                for xx in valid { line[xx] = from[xx * sw] }
                            }
                            FloatRows.zero(line + valid.upperBound, ow - valid.upperBound)
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Zeroes columns outside `valid` in `count` consecutive output-width lines from `lines`.
    @inline(__always)
    func zeroOutside(_ valid: Range<Int>, lines: UnsafeMutablePointer<Float>, count: Int) {
        let ow = outputShape.width
        for y in 0 ..< count {
            let line = lines + y * ow
            for xx in 0 ..< valid.lowerBound { line[xx] = 0 }
            for xx in valid.upperBound ..< ow { line[xx] = 0 }
        }
    }

    /// Adds columns laid out as `im2col`'s for output rows `rows` back into an example's input
    /// gradient: the transpose of `im2col`.
    /// Clobbers `cols` (zeroes the values that pad columns received).
    func col2im(_ cols: UnsafeMutablePointer<Float>, rows: Range<Int>, _ dx: UnsafeMutablePointer<Float>) {
        let h = input.height, w = input.width, ow = outputShape.width, rowStride = rows.count * ow
        let sh = stride.height, sw = stride.width, padY = padBefore.height, padX = padBefore.width
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel.height {
                let inside = insideRows(i, of: rows)
                for j in 0 ..< kernel.width {
                    let src = cols + row * rowStride, valid = validColumns(j)
                    let target = dx + c * h * w + j - padX
                    if sw == 1 && sh == 1 && ow == w {
                        // The transpose of im2col's shifted run: the pad columns' values zeroed,
                        // then one run added (zeros land on the neighbouring rows' ends).
                        let head = valid.lowerBound, tail = ow - valid.upperBound
                        let first = src + (inside.lowerBound - rows.lowerBound) * ow
                        zeroOutside(valid, lines: first, count: inside.count)
                        FloatRows.add(target + (inside.lowerBound + i - padY) * w + head, first + head, max(0, inside.count * ow - head - tail))
                    } else {
                        for y in inside {
                            let dst = target + (y * sh + i - padY) * w, line = src + (y - rows.lowerBound) * ow
                            if sw == 1 {
                                FloatRows.add(dst + valid.lowerBound, line + valid.lowerBound, valid.count)
                            } else {
                                for xx in valid { dst[xx * sw] += line[xx] }
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    private var lastInput: [Float] = []  // the last forward's input, unrolled again tile by tile in backward

    /// Each thread takes a share of the examples; per example and tile of output rows, im2col into
    /// a cache-sized buffer and one product W (filters x patch) . cols (patch x tile) straight into
    /// the output's NCHW planes (ldc = pixels), which start as the bias.
    public func forward(_ x: [Float], batch: Int) -> [Float] {
        self.batch = batch
        lastInput = x
        // Every value is written below (both paths start from the bias), so no zero-fill first.
        let count = batch * outputShape.count
        var out = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        let pixels = self.pixels, ow = outputShape.width, oh = outputShape.height, tile = rowsPerTile, patch = self.patch
        let filters = self.filters, inputCount = input.count
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                weight.value.withUnsafeBufferPointer { wp in
                    bias.value.withUnsafeBufferPointer { bp in
                        let source = SendablePointer(UnsafeMutablePointer(mutating: xp.baseAddress!)), target = SendablePointer(op.baseAddress!)
                        let w = SendablePointer(UnsafeMutablePointer(mutating: wp.baseAddress!)), b = SendablePointer(UnsafeMutablePointer(mutating: bp.baseAddress!))
                        let wide = self.unrollsWide, direct = self.usesDirect
                        let tables = direct ? self.directTables : nil
                        let tapMajor = direct ? self.tapMajorWeights() : []
                        forEachPart(of: batch, threads: LayerThreads.count) { examples in
                            if let tables {
                                let scratch = DirectScratch(self, inputGradient: false)
                                defer { scratch.deallocate() }
                                tapMajor.withUnsafeBufferPointer { tp in
                                    for n in examples {
                                        self.directForward(source.pointer + n * inputCount, target.pointer + n * filters * pixels, weights: tp.baseAddress!,
                                                           bias: b.pointer, tables, scratch)
                                    }
                                }
                                return
                            }
                            if wide {
                                let scratch = WideScratch(self)
                                defer { scratch.deallocate() }
                                for n in examples {
                                    self.wideForward(source.pointer + n * inputCount, target.pointer + n * filters * pixels, weights: w.pointer, bias: b.pointer, scratch)
                                }
                                return
                            }
                            let cols = UnsafeMutablePointer<Float>.allocate(capacity: patch * tile * ow)
                            defer { cols.deallocate() }
                            for n in examples {
                                let y = target.pointer + n * filters * pixels
                                for f in 0 ..< filters { (y + f * pixels).initialize(repeating: b.pointer[f], count: pixels) }
                                for y0 in Swift.stride(from: 0, to: oh, by: tile) {
                                    let rows = y0 ..< min(oh, y0 + tile)
                                    self.im2col(source.pointer + n * inputCount, rows: rows, cols)
                                    gemm(false, false, filters, rows.count * ow, patch, 1, w.pointer, patch, cols, rows.count * ow, 1, y + y0 * ow, pixels)
                                }
                            }
                        }
                    }
                }
            }
        }
        if rectifies {
            if !usesDirect {  // the direct path rectified as it transposed
                out.withUnsafeMutableBufferPointer { o in ReLU.rectify(o.baseAddress!, into: o.baseAddress!, count: o.count) }
            }
            lastOutput = out
        }
        return out
    }

    /// Per thread and example, as `forward`: the bias gradient from dY's planes; per tile, im2col
    /// again, dW += dY_tile . cols^T and dcols = W^T . dY_tile, col2im. Weight and bias gradients
    /// go into one buffer per thread, added to the parameters' in thread order (so a run at one
    /// thread count is deterministic).
    public func backward(_ gradient: [Float]) -> [Float] {
        let direct = usesDirect && (!computesInputGradient || input.channels % 16 == 0)
        // The fused ReLU's backward pass: on the direct path as it reads dY, else here.
        let dy = rectifies && !direct ? ReLU.masked(gradient, by: lastOutput) : gradient
        let pixels = self.pixels, ow = outputShape.width, oh = outputShape.height, tile = rowsPerTile, patch = self.patch
        let filters = self.filters, inputCount = input.count, outputCount = outputShape.count, batch = self.batch
        let parts = max(1, min(LayerThreads.count, batch)), inputGradient = computesInputGradient
        // The direct path writes each example's input gradient whole (one transposition), the
        // unrolled paths add into it: zeros first only for them.
        let dxCount = inputGradient ? batch * inputCount : 0
        var dx = direct ? [Float](unsafeUninitializedCapacity: dxCount) { _, initialized in initialized = dxCount }
                        : [Float](repeating: 0, count: dxCount)
        var partials = [Float](repeating: 0, count: parts * (filters * patch + filters))
        let tables = direct ? directTables : nil
        let mask = rectifies && direct ? lastOutput : []
        let flipped = direct && inputGradient ? flippedWeights() : []
        dy.withUnsafeBufferPointer { gp in
        lastInput.withUnsafeBufferPointer { xp in
        weight.value.withUnsafeBufferPointer { wp in
        dx.withUnsafeMutableBufferPointer { dxp in
        mask.withUnsafeBufferPointer { mp in
        partials.withUnsafeMutableBufferPointer { pp in
            let g = SendablePointer(UnsafeMutablePointer(mutating: gp.baseAddress!)), x = SendablePointer(UnsafeMutablePointer(mutating: xp.baseAddress!))
            let w = SendablePointer(UnsafeMutablePointer(mutating: wp.baseAddress!)), partial = SendablePointer(pp.baseAddress!)
            let d = inputGradient ? SendablePointer(dxp.baseAddress!) : nil
            let m = mask.isEmpty ? nil : SendablePointer(UnsafeMutablePointer(mutating: mp.baseAddress!))
            let chunk = (batch + parts - 1) / parts, wide = unrollsWide
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let examples = part * chunk ..< min(batch, (part + 1) * chunk)
                let dW = partial.pointer + part * (filters * patch + filters), dB = dW + filters * patch
                // The bias gradient: on the direct path from dY transposed (`directBackward`).
                for n in examples where tables == nil {
                    let dyn = g.pointer + n * outputCount
                    for f in 0 ..< filters {
                        let plane = dyn + f * pixels
                        var sum: Float = 0
                        for p in 0 ..< pixels { sum += plane[p] }
                        dB[f] += sum
                    }
                }
                if let tables {
                    let scratch = DirectScratch(self, inputGradient: inputGradient)
                    let tapMajor = UnsafeMutablePointer<Float>.allocate(capacity: patch * filters)
                    defer { scratch.deallocate(); tapMajor.deallocate() }
                    tapMajor.initialize(repeating: 0, count: patch * filters)
                    flipped.withUnsafeBufferPointer { fp in
                        for n in examples {
                            self.directBackward(x.pointer + n * inputCount, g.pointer + n * outputCount, mask: m.map { UnsafePointer($0.pointer + n * outputCount) },
                                                flipped: fp.baseAddress, dW: tapMajor, dB: dB, dx: d.map { $0.pointer + n * inputCount }, tables, scratch)
                        }
                    }
                    pk_transpose(tapMajor, Int32(patch), Int32(filters), dW, Int32(PK_TRANSPOSE_STORE), nil)
                    return
                }
                if wide {
                    let scratch = WideScratch(self)
                    let dPadded = UnsafeMutablePointer<Float>.allocate(capacity: self.paddedCount)
                    let dCols = UnsafeMutablePointer<Float>.allocate(capacity: patch * self.wideRowsPerTile * self.padded.width)
                    defer { scratch.deallocate(); dPadded.deallocate(); dCols.deallocate() }
                    for n in examples {
                        self.wideBackward(x.pointer + n * inputCount, g.pointer + n * outputCount, weights: w.pointer, dW: dW,
                                          dx: d.map { $0.pointer + n * inputCount }, scratch, dPadded: dPadded, dCols: dCols)
                    }
                    return
                }
                let cols = UnsafeMutablePointer<Float>.allocate(capacity: patch * tile * ow)
                let dcols = inputGradient ? UnsafeMutablePointer<Float>.allocate(capacity: patch * tile * ow) : nil
                defer { cols.deallocate(); dcols?.deallocate() }
                for n in examples {
                    let dyn = g.pointer + n * outputCount
                    for y0 in Swift.stride(from: 0, to: oh, by: tile) {
                        let rows = y0 ..< min(oh, y0 + tile), width = rows.count * ow
                        self.im2col(x.pointer + n * inputCount, rows: rows, cols)
                        gemm(false, true, filters, patch, width, 1, dyn + y0 * ow, pixels, cols, width, 1, dW, patch)
                        if let dcols, let d {
                            gemm(true, false, patch, width, filters, 1, w.pointer, patch, dyn + y0 * ow, pixels, 0, dcols, width)
                            self.col2im(dcols, rows: rows, d.pointer + n * inputCount)
                        }
                    }
                }
            }
        }
        }
        }
        }
        }
        }
        weight.gradient.withUnsafeMutableBufferPointer { dw in
            bias.gradient.withUnsafeMutableBufferPointer { db in
                partials.withUnsafeBufferPointer { pp in
                    for part in 0 ..< parts {
                        let base = pp.baseAddress! + part * (filters * patch + filters)
                        for k in 0 ..< filters * patch { dw[k] += base[k] }
                        for f in 0 ..< filters { db[f] += base[filters * patch + f] }
                    }
                }
            }
        }
        return inputGradient ? dx : []
    }
}
