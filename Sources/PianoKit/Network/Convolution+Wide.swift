/// The stride-1 path of `Convolution`: each example is first copied into a zero-padded plane per
/// channel (hp = oh + kh - 1 rows of wp = ow + kw - 1 columns), and the unrolled matrix is
/// computed over that padded width: its row for kernel cell (c, i, j) is then one contiguous run of
/// the padded input (rows x wp floats from row y0 + i, column j) instead of one short copy per
/// output row. The wp - ow extra columns of each output row are discarded after the product (and
/// carry zero gradient in backward, so they add nothing). Costs wp / ow times the product's work;
/// `unrollsWide` chooses it where the short copies cost more. Without column padding
/// (`padsRowsOnly`: "valid" in time) the padded planes are the input's own rows with zero rows
/// above and below, so the runs are read from the input and added back into its gradient
/// directly, without the padded copy.
extension Convolution {
    /// Padded rows and columns per channel.
    var padded: (height: Int, width: Int) { (outputShape.height + kernel.height - 1, outputShape.width + kernel.width - 1) }
    /// Floats of one example's padded input: the planes plus kw - 1 of slack, which the last
    /// kernel cell's run reads past the last plane (into the discarded columns).
    var paddedCount: Int { input.channels * padded.height * padded.width + kernel.width }
    /// Output rows per tile of the wide unrolled matrix (patch x rows x wp near `tileFloats`).
    var wideRowsPerTile: Int { max(1, min(outputShape.height, tileFloats / max(1, patch * padded.width))) }

    /// Whether only rows are padded: then the padded planes' rows are the input's (`wp == w`).
    var padsRowsOnly: Bool { padBefore.width == 0 && padded.width == input.width }

    /// Copies an example into its zero-padded planes (`padded` must hold `paddedCount` floats).
    /// Without column padding (`padsRowsOnly`) each channel's rows are one run, and only the pad
    /// rows are zeroed.
    func pad(_ x: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        let (hp, wp) = self.padded, h = input.height, w = input.width
        guard padsRowsOnly else {
            padded.initialize(repeating: 0, count: paddedCount)
            for c in 0 ..< input.channels {
                for y in 0 ..< h { FloatRows.copy(padded + (c * hp + y + padBefore.height) * wp + padBefore.width, x + (c * h + y) * w, w) }
            }
            return
        }
        let above = padBefore.height * w, below = (hp - h - padBefore.height) * w
        for c in 0 ..< input.channels {
            let plane = padded + c * hp * w
            FloatRows.zero(plane, above)
            FloatRows.copy(plane + above, x + c * h * w, h * w)
            FloatRows.zero(plane + above + h * w, below)
        }
        FloatRows.zero(padded + input.channels * hp * w, paddedCount - input.channels * hp * w)
    }

    /// Adds the interior of padded planes (the input gradient in padded layout) into an example's input gradient.
    func unpad(_ padded: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let (hp, wp) = self.padded, h = input.height, w = input.width
        for c in 0 ..< input.channels {
            for y in 0 ..< h { FloatRows.add(dx + (c * h + y) * w, padded + (c * hp + y + padBefore.height) * wp + padBefore.width, w) }
        }
    }

    /// The wide unrolled matrix of output rows `rows`: row (c, i, j), column t holds
    /// padded[c, y0 + i, j + t] (reading across row ends), patch x rows.count * wp.
    func wideIm2col(_ padded: UnsafePointer<Float>, rows: Range<Int>, _ cols: UnsafeMutablePointer<Float>) {
        forEachRun(rows) { row, offset, run in FloatRows.copy(cols + row * run, padded + offset, run) }
    }

    /// The transpose of `wideIm2col`: adds the rows of `cols` back into padded planes.
    func wideCol2im(_ cols: UnsafePointer<Float>, rows: Range<Int>, _ padded: UnsafeMutablePointer<Float>) {
        forEachRun(rows) { row, offset, run in FloatRows.add(padded + offset, cols + row * run, run) }
    }

    /// `wideIm2col` read from an example's input itself (`padsRowsOnly`).
    func wideIm2col(input x: UnsafePointer<Float>, rows: Range<Int>, _ cols: UnsafeMutablePointer<Float>) {
        forEachInputRun(rows) { row, run, lead, source, count in
            let to = cols + row * run
            FloatRows.zero(to, lead)
            FloatRows.copy(to + lead, x + source, count)
            FloatRows.zero(to + lead + count, run - lead - count)
        }
    }

    /// `wideCol2im` added into an example's input gradient itself (`padsRowsOnly`).
    func wideCol2im(_ cols: UnsafePointer<Float>, rows: Range<Int>, input dx: UnsafeMutablePointer<Float>) {
        forEachInputRun(rows) { row, run, lead, source, count in FloatRows.add(dx + source, cols + row * run + lead, count) }
    }

    /// Each row (c, i, j) of the wide unrolled matrix for output rows `rows` when only rows are
    /// padded: floats lead ..< lead + count of its run (of rows.count x w) are the input's from
    /// offset `source` (plane c, the row of the first output row inside the input, column j), the
    /// others zero: rows outside the input, and the run's last j floats, discarded columns that
    /// would read past the plane. (Discarded columns inside take the next row's first floats: finite,
    /// multiplied by a zero gradient in backward.)
    @inline(__always)
    private func forEachInputRun(_ rows: Range<Int>, _ body: (_ row: Int, _ run: Int, _ lead: Int, _ source: Int, _ count: Int) -> Void) {
        let h = input.height, w = input.width, run = rows.count * w
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel.height {
                let first = rows.lowerBound + i - padBefore.height  // the input row of the run's first output row
                let lo = min(rows.count, max(0, -first)), hi = max(lo, min(rows.count, h - first))
                for j in 0 ..< kernel.width {
                    body(row, run, lo * w, (c * h + first + lo) * w + j, max(0, (hi - lo) * w - j))
                    row += 1
                }
            }
        }
    }

    /// Each row (c, i, j) of the wide unrolled matrix for output rows `rows`, with the offset of
    /// its run in the padded planes and the run's length (rows.count x wp).
    @inline(__always)
    private func forEachRun(_ rows: Range<Int>, _ body: (_ row: Int, _ offset: Int, _ run: Int) -> Void) {
        let (hp, wp) = padded, run = rows.count * wp
        var row = 0
        for c in 0 ..< input.channels {
            for i in 0 ..< kernel.height {
                for j in 0 ..< kernel.width {
                    body(row, (c * hp + rows.lowerBound + i) * wp + j, run)
                    row += 1
                }
            }
        }
    }

    /// Scratch of one thread for the wide path: padded input, unrolled matrix, product (wide output rows).
    struct WideScratch {
        let padded: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>, product: UnsafeMutablePointer<Float>
        init(_ layer: Convolution) {
            let run = layer.wideRowsPerTile * layer.padded.width
            padded = .allocate(capacity: layer.paddedCount)
            cols = .allocate(capacity: layer.patch * run)
            product = .allocate(capacity: layer.filters * run)
        }
        func deallocate() { padded.deallocate(); cols.deallocate(); product.deallocate() }
    }

    /// One example's output (NCHW planes `y`, bias added) through the wide path.
    func wideForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ s: WideScratch) {
        let wp = padded.width, ow = outputShape.width, oh = outputShape.height, pixels = self.pixels, tile = wideRowsPerTile
        let direct = padsRowsOnly
        if !direct { pad(x, into: s.padded) }
        for y0 in Swift.stride(from: 0, to: oh, by: tile) {
            let rows = y0 ..< min(oh, y0 + tile), run = rows.count * wp
            if direct { wideIm2col(input: x, rows: rows, s.cols) } else { wideIm2col(s.padded, rows: rows, s.cols) }
            gemm(false, false, filters, run, patch, 1, weights, patch, s.cols, run, 0, s.product, run)
            for f in 0 ..< filters {
                let b = bias[f]
                for r in 0 ..< rows.count {
                    let from = s.product + f * run + r * wp, to = y + f * pixels + (y0 + r) * ow
                    for xx in 0 ..< ow { to[xx] = from[xx] + b }
                }
            }
        }
    }

    /// One example's weight gradient (added into `dW`) and input gradient (added into `dx`, when
    /// given) through the wide path; `dPadded` is a second padded buffer, `dCols` a second unrolled one.
    func wideBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, weights: UnsafePointer<Float>, dW: UnsafeMutablePointer<Float>,
                      dx: UnsafeMutablePointer<Float>?, _ s: WideScratch, dPadded: UnsafeMutablePointer<Float>, dCols: UnsafeMutablePointer<Float>) {
        let wp = padded.width, ow = outputShape.width, oh = outputShape.height, pixels = self.pixels, tile = wideRowsPerTile
        let direct = padsRowsOnly
        if !direct { pad(x, into: s.padded) }
        if dx != nil && !direct { dPadded.initialize(repeating: 0, count: paddedCount) }
        for y0 in Swift.stride(from: 0, to: oh, by: tile) {
            let rows = y0 ..< min(oh, y0 + tile), run = rows.count * wp
            // dY in the wide layout, zero in the discarded columns.
            for f in 0 ..< filters {
                for r in 0 ..< rows.count {
                    let to = s.product + f * run + r * wp
                    FloatRows.copy(to, dy + f * pixels + (y0 + r) * ow, ow)
                    FloatRows.zero(to + ow, wp - ow)
                }
            }
            if direct { wideIm2col(input: x, rows: rows, s.cols) } else { wideIm2col(s.padded, rows: rows, s.cols) }
            gemm(false, true, filters, patch, run, 1, s.product, run, s.cols, run, 1, dW, patch)
            if let dx {
                gemm(true, false, patch, run, filters, 1, weights, patch, s.product, run, 0, dCols, run)
                if direct { wideCol2im(dCols, rows: rows, input: dx) } else { wideCol2im(dCols, rows: rows, dPadded) }
            }
        }
        if let dx, !direct { unpad(dPadded, into: dx) }
    }
}
