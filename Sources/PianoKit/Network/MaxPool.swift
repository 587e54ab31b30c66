/// Max pooling over windows of any height x width, with strides and `Padding` (the paper's
/// layers: 3x3 windows, stride 2, "SAME"). Padded cells never win.
public final class MaxPool: Layer, @unchecked Sendable {
    let input: ActivationShape
    /// Window rows and columns.
    let window: (height: Int, width: Int)
    /// Steps between windows along rows and columns.
    let stride: (height: Int, width: Int)
    let padBefore: (height: Int, width: Int)
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    private var winners: [Int] = []  // input index of each output's maximum

    /// Creates a pooling layer; the window must fit the input (see `Padding.axis`).
    public init(_ input: ActivationShape, window: (height: Int, width: Int) = (3, 3), stride: (height: Int, width: Int) = (2, 2), padding: Padding2D = .same) {
        let rows = padding.rows.axis(input: input.height, window: window.height, stride: stride.height)!
        let cols = padding.columns.axis(input: input.width, window: window.width, stride: stride.width)!
        self.input = input
        self.window = window
        self.stride = stride
        padBefore = (rows.before, cols.before)
        outputShape = ActivationShape(channels: input.channels, height: rows.output, width: cols.output)
    }

    public func forward(_ x: [Float], batch: Int) -> [Float] {
        var out: [Float] = []
        // `pool` writes every winner, so no zero-fill first.
        winners = [Int](unsafeUninitializedCapacity: batch * outputShape.count) { wb, initialized in
            out = pool(x, batch: batch, winners: wb.baseAddress!)
            initialized = wb.count
        }
        return out
    }

    /// The maxima alone: nothing kept for `backward`.
    public func infer(_ x: [Float], batch: Int) -> [Float] {
        winners = []
        return pool(x, batch: batch, winners: nil)
    }

    /// The maxima of `batch` examples (NCHW), and with `winners` the input index of each output's
    /// maximum: the first in row-major order among equal values.
    ///
    /// Separable, on SIMD vectors over contiguous memory: each input plane is copied into a
    /// buffer padded with -infinity; each of its rows becomes the maxima of its windows' columns
    /// at every offset (kept at the output columns' offsets); then each output row is the maximum
    /// of its window rows' results. Strict comparisons, columns before rows, keep the first
    /// maximum in row-major order, as a plain scan of each window would. Padded cells never win.
    /// Buffers are whole vectors long, and the plane is copied before any of it is read, so no
    /// load straddles a store still in flight (which stalls store-to-load forwarding).
    func pool(_ x: [Float], batch: Int, winners: UnsafeMutablePointer<Int>?) -> [Float] {
        if window == (1, 2), stride == (1, 2), padBefore == (0, 0), input.width == 2 * outputShape.width {
            return pairs(x, batch: batch, winners: winners)
        }
        let o = outputShape, padY = padBefore.height, padX = padBefore.width
        let h = input.height, w = input.width, window = self.window, stride = self.stride
        func vectors(_ n: Int) -> Int { (n + 7) / 8 * 8 }
        let span = vectors((o.width - 1) * stride.width + 1)  // window starts, in padded columns
        let paddedWidth = span + window.width - 1, width = vectors(o.width)
        let inside = max(0, min(w, paddedWidth - padX))  // input columns that land in a padded row
        return x.withUnsafeBufferPointer { xb in [Float](unsafeUninitializedCapacity: batch * o.count) { ob, initialized in
            let xs = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
            let os = SendablePointer(ob.baseAddress!), ws = winners.map { SendablePointer($0) }
            forEachPart(of: batch * o.channels, threads: LayerThreads.count) { planes in
                let keep = ws != nil
                let padded = UnsafeMutablePointer<Float>.allocate(capacity: h * paddedWidth)
                let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: span)
                let rowAt = UnsafeMutablePointer<Int32>.allocate(capacity: span)
                let columnMax = UnsafeMutablePointer<Float>.allocate(capacity: h * width)  // per input row, per output column
                let columnAt = UnsafeMutablePointer<Int32>.allocate(capacity: h * width)  // the winner's input column
                let best = UnsafeMutablePointer<Float>.allocate(capacity: width)
                let at = UnsafeMutablePointer<Int32>.allocate(capacity: width)  // the winner's index in the plane
                let iota = UnsafeMutablePointer<Int32>.allocate(capacity: span)
                defer {
                    for p in [padded, rowMax, columnMax, best] as [UnsafeMutablePointer<Float>] { p.deallocate() }
                    for p in [rowAt, columnAt, at, iota] as [UnsafeMutablePointer<Int32>] { p.deallocate() }
                }
                padded.initialize(repeating: -.infinity, count: h * paddedWidth)  // the padding stays -infinity
                columnMax.initialize(repeating: -.infinity, count: h * width)
                columnAt.initialize(repeating: 0, count: h * width)
                for t in 0 ..< span { iota[t] = Int32(truncatingIfNeeded: t) }
                // Until a value wins (all -infinity or NaN), a cell inside the window.
                let firstInside = (0 ..< span).map { Int32(truncatingIfNeeded: Swift.min(w - 1, Swift.max(0, $0 - padX))) }
                for plane in planes {
                    let input = xs.pointer + plane &* h &* w
                    for y in 0 ..< h { FloatRows.copy(padded + (y &* paddedWidth &+ padX), input + y &* w, inside) }
                    for y in 0 ..< h {
                        let row = padded + y &* paddedWidth
                        if keep {
                            rowMax.initialize(repeating: -.infinity, count: span)
                            firstInside.withUnsafeBufferPointer { rowAt.update(from: $0.baseAddress!, count: span) }
                            for dx in 0 ..< window.width {
                                FloatRows.maximum(rowMax, rowAt, row + dx, index: iota, offset: Int32(truncatingIfNeeded: dx &- padX), span)
                            }
                        } else {
                            FloatRows.copy(rowMax, row, span)
                            for dx in 1 ..< window.width { FloatRows.maximum(rowMax, row + dx, span) }
                        }
                        let m = columnMax + y &* width
                        for ox in 0 ..< o.width { m[ox] = rowMax[ox &* stride.width] }
                        if keep {
                            let a = columnAt + y &* width
                            for ox in 0 ..< o.width { a[ox] = rowAt[ox &* stride.width] }
                        }
                    }
                    for oy in 0 ..< o.height {
                        let y0 = max(0, oy &* stride.height &- padY), y1 = min(h, oy &* stride.height &- padY &+ window.height)
                        FloatRows.copy(best, columnMax + y0 &* width, width)
                        if keep {
                            let a = columnAt + y0 &* width, rowStart = Int32(truncatingIfNeeded: y0 &* w)
                            for ox in 0 ..< width { at[ox] = rowStart &+ a[ox] }
                        }
                        for y in y0 + 1 ..< max(y0 + 1, y1) {
                            if keep {
                                FloatRows.maximum(best, at, columnMax + y &* width, index: columnAt + y &* width,
                                                  offset: Int32(truncatingIfNeeded: y &* w), width)
                            } else {
                                FloatRows.maximum(best, columnMax + y &* width, width)
                            }
                        }
                        let k = (plane &* o.height &+ oy) &* o.width
                        FloatRows.copy(os.pointer + k, best, o.width)
                        if let ws {
                            let planeStart = plane &* h &* w
                            for ox in 0 ..< o.width { ws.pointer[k &+ ox] = planeStart &+ Int(at[ox]) }
                        }
                    }
                }
            }
            initialized = batch * o.count
        } }
    }

    /// 1x2 windows at stride 1x2 that tile every row (the per-key networks' pools): over the
    /// whole batch, output i is the larger of inputs 2i and 2i + 1, the first on a tie; SIMD
    /// vectors split into their even and odd lanes.
    func pairs(_ x: [Float], batch: Int, winners: UnsafeMutablePointer<Int>?) -> [Float] {
        let n = batch * outputShape.count
        return x.withUnsafeBufferPointer { xb in [Float](unsafeUninitializedCapacity: n) { ob, initialized in
            let xs = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
            let os = SendablePointer(ob.baseAddress!), ws = winners.map { SendablePointer($0) }
            forEachPart(of: (n + 7) / 8, threads: LayerThreads.count) { vectors in
                let x = UnsafeRawPointer(xs.pointer), out = UnsafeMutableRawPointer(os.pointer)
                let end = min(n, vectors.upperBound * 8)
                var i = vectors.lowerBound * 8
                while i + 8 <= end {
                    let v = x.loadUnaligned(fromByteOffset: 8 * i, as: SIMD16<Float>.self)
                    let even = v.evenHalf, odd = v.oddHalf, second = odd .> even
                    out.storeBytes(of: even.replacing(with: odd, where: second), toByteOffset: 4 * i, as: SIMD8<Float>.self)
                    if let ws {
                        let chosen = SIMD8<Int32>(repeating: 0).replacing(with: 1, where: second)
                        for lane in 0 ..< 8 { ws.pointer[i + lane] = 2 * (i + lane) + Int(chosen[lane]) }
                    }
                    i += 8
                }
                while i < end {
                    let a = xs.pointer[2 * i], b = xs.pointer[2 * i + 1]
                    os.pointer[i] = b > a ? b : a
                    if let ws { ws.pointer[i] = 2 * i + (b > a ? 1 : 0) }
                    i += 1
                }
            }
            initialized = n
        } }
    }

    public func backward(_ dy: [Float]) -> [Float] {
        var dx = [Float](repeating: 0, count: winners.count / outputShape.count * input.count)
        precondition(dy.count == winners.count, "MaxPool.backward: dY has \(dy.count) values for \(winners.count) outputs")
        dx.withUnsafeMutableBufferPointer { d in
            dy.withUnsafeBufferPointer { g in
                winners.withUnsafeBufferPointer { w in
                    for k in 0 ..< w.count { d[w[k]] += g[k] }  // each winner lies in its own example's planes
                }
            }
        }
        return dx
    }
}
