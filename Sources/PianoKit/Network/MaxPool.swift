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
        let o = outputShape, padY = padBefore.height, padX = padBefore.width
        let h = input.height, w = input.width, window = self.window, stride = self.stride
        var out = [Float](repeating: 0, count: batch * o.count)
        var winners = [Int](repeating: 0, count: batch * o.count)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                winners.withUnsafeMutableBufferPointer { wb in
                    let xs = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!)), os = SendablePointer(ob.baseAddress!), ws = SendablePointer(wb.baseAddress!)
                    forEachPart(of: batch * o.channels, threads: LayerThreads.count) { planes in
                        let xp = xs.pointer, op = os.pointer, wp = ws.pointer
                        for plane in planes {
                            let base = plane * h * w
                            for oy in 0 ..< o.height {
                                let y0 = max(0, oy * stride.height - padY), y1 = min(h, oy * stride.height - padY + window.height)
                                for ox in 0 ..< o.width {
                                    let x0 = max(0, ox * stride.width - padX), x1 = min(w, ox * stride.width - padX + window.width)
                                    var best = -Float.infinity, at = base + y0 * w + x0
                                    for y in y0 ..< y1 {
                                        for xx in x0 ..< x1 where xp[base + y * w + xx] > best {
                                            best = xp[base + y * w + xx]
                                            at = base + y * w + xx
                                        }
                                    }
                                    let k = (plane * o.height + oy) * o.width + ox
                                    op[k] = best
                                    wp[k] = at
                                }
                            }
                        }
                    }
                }
            }
        }
        self.winners = winners
        return out
    }

    public func backward(_ dy: [Float]) -> [Float] {
        var dx = [Float](repeating: 0, count: winners.count / outputShape.count * input.count)
        for (k, at) in winners.enumerated() { dx[at] += dy[k] }
        return dx
    }
}
