import CConvKernels

/// The direct path of `Convolution` (stride 1, filters a multiple of 16, a CPU with AVX-512F): no
/// unrolled matrix and no matrix product. Each example is copied into its zero-padded planes
/// (`pad`; read in place where the kernel needs none, as 1 x 1), and `pk_direct_forward` sums
/// over the patch's taps for a tile of output pixels x filters at a time in registers (12 x 16,
/// or 6 x 64 where 64 divide the filters), one fused multiply-add per tap and filter block with
/// the input value broadcast, writing pixel-major rows that are then transposed into the NCHW planes.
///
/// Backward: the weight gradient (`pk_direct_weight_gradient`) sums tap by tap over an example's
/// pixels against dY transposed to pixel-major; the input gradient is the forward kernel again,
/// over dY zero-padded by kh - 1 rows and kw - 1 columns on each side, with the kernel flipped and
/// its channels and filters swapped (so it also needs input channels a multiple of 16; otherwise
/// backward takes the unrolled path, which reads the same saved input).
///
/// Each output value is the bias plus the taps in (c, i, j) order, each weight-gradient value the
/// pixels in order and then the examples in order within a thread: results do not depend on the
/// tiling, and a run at one thread count is deterministic, as on the other paths.
extension Convolution {
    /// Whether this CPU runs the direct kernels.
    static let directKernelsAvailable = pk_direct_available() != 0

    /// Offsets of taps (c, i, j), c < `channels`, in planes of `planes` rows and columns, in
    /// (c, i, j) order (that of the weights' last three axes).
    static func tapOffsets(channels: Int, kernel: (height: Int, width: Int), planes: (height: Int, width: Int)) -> [Int32] {
        var offsets: [Int32] = []
        offsets.reserveCapacity(channels * kernel.height * kernel.width)
        for c in 0 ..< channels {
            for i in 0 ..< kernel.height {
                for j in 0 ..< kernel.width { offsets.append(Int32((c * planes.height + i) * planes.width + j)) }
            }
        }
        return offsets
    }

    /// Offsets of the pixels (y, x), y < `rows`, x < `columns`, row-major, in planes `width`
    /// wide, shifted by `shift` rows and columns.
    static func pixelBases(rows: Int, columns: Int, width: Int, shift: (rows: Int, columns: Int) = (0, 0)) -> [Int32] {
        var bases: [Int32] = []
        bases.reserveCapacity(rows * columns)
        for y in 0 ..< rows {
            for x in 0 ..< columns { bases.append(Int32((y + shift.rows) * width + x + shift.columns)) }
        }
        return bases
    }

    /// Rows and columns of dY's planes zero-padded for the input gradient: kh - 1 rows and
    /// kw - 1 columns on every side.
    var gradientPlanes: (height: Int, width: Int) { (outputShape.height + 2 * (kernel.height - 1), outputShape.width + 2 * (kernel.width - 1)) }

    /// The tables the direct kernels read, made once per layer.
    struct DirectTables {
        /// Output pixels in the padded input's planes.
        let outputBases: [Int32]
        /// The patch's taps in the padded input's planes.
        let inputTaps: [Int32]
        /// Input pixels in the padded dY planes (each input pixel's first tap).
        let inputBases: [Int32]
        /// Taps (f, i, j) of the flipped kernel in the padded dY planes.
        let gradientTaps: [Int32]

        init(_ layer: Convolution) {
            let padded = layer.padded, planes = layer.gradientPlanes
            outputBases = Convolution.pixelBases(rows: layer.outputShape.height, columns: layer.outputShape.width, width: padded.width)
            inputTaps = Convolution.tapOffsets(channels: layer.input.channels, kernel: layer.kernel, planes: padded)
            inputBases = Convolution.pixelBases(rows: layer.input.height, columns: layer.input.width, width: planes.width,
                                                shift: (layer.padBefore.height, layer.padBefore.width))
            gradientTaps = Convolution.tapOffsets(channels: layer.filters, kernel: layer.kernel, planes: planes)
        }
    }

    /// Weights as the forward kernel reads them: [patch][filters] (tap-major).
    func tapMajorWeights() -> [Float] {
        let patch = self.patch, filters = self.filters
        var w = [Float](repeating: 0, count: patch * filters)
        weight.value.withUnsafeBufferPointer { src in
            for f in 0 ..< filters { for k in 0 ..< patch { w[k * filters + f] = src[f * patch + k] } }
        }
        return w
    }

    /// The flipped kernel with channels and filters swapped, as the input gradient reads it:
    /// [(f, i', j')][c] = W[f, c, kh - 1 - i', kw - 1 - j'].
    func flippedWeights() -> [Float] {
        let kh = kernel.height, kw = kernel.width, channels = input.channels, patch = self.patch
        var w = [Float](repeating: 0, count: filters * kh * kw * channels)
        weight.value.withUnsafeBufferPointer { src in
            for f in 0 ..< filters {
                for i in 0 ..< kh {
                    for j in 0 ..< kw {
                        let row = ((f * kh + i) * kw + j) * channels
                        for c in 0 ..< channels { w[row + c] = src[f * patch + (c * kh + kh - 1 - i) * kw + kw - 1 - j] }
                    }
                }
            }
        }
        return w
    }

    /// Scratch of one thread for the direct path.
    struct DirectScratch {
        /// One example's padded input.
        let padded: UnsafeMutablePointer<Float>
        /// Pixel-major rows: the output before its transposition, or dY transposed.
        let pixelMajor: UnsafeMutablePointer<Float>
        /// dY's padded planes (input gradient only).
        let gradientPlanes: UnsafeMutablePointer<Float>?
        /// The input gradient, pixel-major (input gradient only).
        let inputMajor: UnsafeMutablePointer<Float>?

        init(_ layer: Convolution, inputGradient: Bool) {
            padded = .allocate(capacity: layer.paddedCount)
            pixelMajor = .allocate(capacity: layer.pixels * layer.filters)
            let planes = layer.gradientPlanes
            gradientPlanes = inputGradient ? .allocate(capacity: layer.filters * planes.height * planes.width) : nil
            inputMajor = inputGradient ? .allocate(capacity: layer.input.count) : nil
            gradientPlanes?.initialize(repeating: 0, count: layer.filters * planes.height * planes.width)
        }

        func deallocate() { padded.deallocate(); pixelMajor.deallocate(); gradientPlanes?.deallocate(); inputMajor?.deallocate() }
    }

    /// Whether the padded planes differ from the input's own: false where neither axis is padded,
    /// each being "valid" or 1 long in the kernel (a 1 x 1 kernel, for one).
    var needsPadding: Bool { padded.height != input.height || padded.width != input.width }

    /// The planes the direct kernels read for example `x`: `x` itself where no padding is needed,
    /// else `s.padded` filled by `pad`.
    func directSource(_ x: UnsafePointer<Float>, _ s: DirectScratch) -> UnsafePointer<Float> {
        guard needsPadding else { return x }
        pad(x, into: s.padded)
        return UnsafePointer(s.padded)
    }

    /// One example's output (NCHW planes `y`, bias added) through the direct path; `weights` tap-major.
    func directForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                       _ tables: DirectTables, _ s: DirectScratch) {
        let source = directSource(x, s)
        let pixels = self.pixels, filters = self.filters
        pk_direct_forward(source, tables.outputBases, Int32(pixels), tables.inputTaps, Int32(patch), weights, Int32(filters), bias, s.pixelMajor)
        pk_transpose(s.pixelMajor, Int32(pixels), Int32(filters), y, Int32(rectifies ? PK_TRANSPOSE_RELU : PK_TRANSPOSE_STORE), nil)
    }

    /// One example's weight gradient (added into `dW`, tap-major [patch][filters]), bias gradient
    /// (added into `dB`: each filter's pixels summed in order, 16 filters per vector) and input
    /// gradient (written into `dx`, when given; `flipped` from `flippedWeights`) through the direct
    /// path; with `mask` (the example's rectified output, when `rectifies`), dY is taken as zero
    /// where the mask is not positive (the fused ReLU's backward pass).
    func directBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, mask: UnsafePointer<Float>?, flipped: UnsafePointer<Float>?,
                        dW: UnsafeMutablePointer<Float>, dB: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                        _ tables: DirectTables, _ s: DirectScratch) {
        let source = directSource(x, s)
        let pixels = self.pixels, filters = self.filters
        pk_transpose(dy, Int32(filters), Int32(pixels), s.pixelMajor, Int32(mask == nil ? PK_TRANSPOSE_STORE : PK_TRANSPOSE_MASKED), mask)
        FloatRows.addColumnSums(dB, s.pixelMajor, rows: pixels, blocks: filters / 16)
        pk_direct_weight_gradient(source, tables.outputBases, Int32(pixels), tables.inputTaps, Int32(patch), s.pixelMajor, Int32(filters), dW)
        guard let dx, let flipped, let planes = s.gradientPlanes, let inputMajor = s.inputMajor else { return }
        // dY into the interior of its padded planes (the border stays zero from the allocation).
        let (hq, wq) = gradientPlanes, ow = outputShape.width, kh = kernel.height, kw = kernel.width
        func copy(_ to: UnsafeMutablePointer<Float>, _ from: Int, _ n: Int) {
            if let mask { FloatRows.copy(to, dy + from, where: mask + from, n) } else { FloatRows.copy(to, dy + from, n) }
        }
        for f in 0 ..< filters {
            if kw == 1 {  // the plane's rows are dY's rows: one run
                copy(planes + (f * hq + kh - 1) * wq, f * pixels, pixels)
                continue
            }
            for r in 0 ..< outputShape.height { copy(planes + (f * hq + r + kh - 1) * wq + kw - 1, f * pixels + r * ow, ow) }
        }
        let channels = input.channels, inputPixels = input.height * input.width
        pk_direct_forward(planes, tables.inputBases, Int32(inputPixels), tables.gradientTaps, Int32(filters * kh * kw), flipped, Int32(channels), nil, inputMajor)
        pk_transpose(inputMajor, Int32(inputPixels), Int32(channels), dx, Int32(PK_TRANSPOSE_STORE), nil)
    }

}
