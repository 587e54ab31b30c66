import Foundation

/// Evaluates a network on every window of a wide picture at once, sharing the columns that
/// neighbouring windows have in common (shift-and-stitch), with the result of evaluating it on
/// each window separately.
///
/// A network qualifies when its response to a window does not depend on where the window sits:
/// a fixed input normalization (`NetworkSpec.normalization`), and in time (columns) only
/// convolutions of stride 1 with "valid" padding (or one column wide), max pools whose stride is
/// their window with "valid" padding (in the trunk only), and row-wise or pointwise layers
/// (`flipRows`, `rowShifts`, `relu`, `lrn`); no dense or flatten layer; each head ends one column
/// wide. Then the trunk runs once over a stretch of the picture; before each pool of time stride
/// t every example becomes t examples, shifted left by 0...t-1 columns, so that after the last
/// pool there is one example per phase p in 0..<S (S the product of the strides), and column j of
/// phase p is the window at p + S j. Columns before the first pool are computed once for all
/// phases, those between the pools once per phase of the pools before. For
/// `networks/piano88-slide.json` (S = 4) that is about a fifth of the multiply-adds of
/// per-window evaluation.
///
/// Outputs equal per-window evaluation up to float rounding (the matrix products sum in
/// another order): within 1e-5 of the logits in the tests.
public final class SlidingEvaluator {
    /// The network for one window (its input width is the window's).
    public let network: Network
    /// Windows between neighbouring output columns of one phase: the product of the pools' time strides.
    public let stride: Int
    /// Output columns per phase per stretch.
    public let columnsPerPhase: Int
    /// Stretches in one forward pass.
    let stretchesPerPass: Int
    /// The same layers and weights, built for a stretch's input.
    let wide: Network
    let normalization: FixedNormalization

    /// Why `network` cannot be evaluated this way, or nil when it can.
    public static func refusal(_ network: Network) -> String? {
        guard network.spec.normalization != nil else { return "it standardises each input picture on its own (no fixed normalization in its spec)" }
        guard network.input.channels == 1 else { return "its input has \(network.input.channels) channels" }
        for layer in network.layers {
            switch layer {
            case let conv as Convolution:
                guard conv.stride.width == 1, conv.kernel.width == 1 || conv.padBefore.width == 0 && conv.outputShape.width == conv.input.width - conv.kernel.width + 1 else {
                    return "a convolution pads or strides in time"
                }
            case let pool as MaxPool:
                guard pool.stride.width == pool.window.width, pool.padBefore.width == 0, pool.outputShape.width == pool.input.width / pool.window.width else {
                    return "a max pool pads in time or its windows overlap"
                }
            case is ReLU, is LocalResponseNorm, is FlipRows, is RowShifts: continue
            default: return "it has a \(type(of: layer)) layer"
            }
        }
        for head in network.heads {
            if head.layers.contains(where: { ($0 as? MaxPool)?.stride.width ?? 1 > 1 }) { return "head \(head.kind.rawValue) pools in time" }
            if (head.layers.last?.outputShape.width ?? 0) != 1 { return "head \(head.kind.rawValue) is not one column wide" }
        }
        return nil
    }

    /// Prepares `network` (which `refusal` must accept) for stretches of `columns` output columns
    /// per phase (fewer where a stretch that wide would exceed `NetworkSpec.maximumActivations`),
    /// `stretches` stretches per pass.
    public init(_ network: Network, columns: Int = 32, stretches: Int = 1) throws {
        if let reason = Self.refusal(network) { throw FormatError("the network cannot slide over a recording: \(reason)") }
        self.network = network
        normalization = network.spec.normalization!
        let stride = network.trunk.reduce(1) { s, layer in (layer as? MaxPool).map { s * $0.stride.width } ?? s }
        self.stride = stride
        stretchesPerPass = max(1, stretches)
        // Every phase's windows: phase S - 1's last one ends at S - 1 + S (columns - 1) + window.
        func stretch(_ columns: Int) -> ActivationShape {
            ActivationShape(channels: 1, height: network.input.height, width: network.input.width + stride * (columns - 1) + stride - 1)
        }
        var columns = max(1, columns)
        while columns > 1, (try? network.spec.plan(input: stretch(columns), columnsPerOutput: true)) == nil { columns /= 2 }
        columnsPerPhase = columns
        wide = try network.copy(input: stretch(columns), columnsPerOutput: true)
        for head in wide.heads where head.layers.last?.outputShape.width != columnsPerPhase {
            throw FormatError("head \(head.kind.rawValue) of the sliding network is not \(columnsPerPhase) columns wide")
        }
    }

    /// Floating-point operations per window in the convolutions (two per multiply-add), as
    /// `Network.forwardFLOPs` counts them per thumbnail: the layers after each pool run once per phase.
    public var flopsPerWindow: Int {
        var copies = 1, total = 0
        for layer in wide.trunk {
            if let pool = layer as? MaxPool { copies *= pool.stride.width }
            if let conv = layer as? Convolution { total += copies * 2 * conv.filters * conv.patch * conv.pixels }
        }
        for conv in wide.heads.flatMap(\.layers).compactMap({ $0 as? Convolution }) { total += copies * 2 * conv.filters * conv.patch * conv.pixels }
        return total / (stride * columnsPerPhase)
    }

    /// The width of one window (the network's input width).
    public var window: Int { network.input.width }

    /// `t` copies of each of `batch` examples (planes of `shape`), copy q shifted left by q
    /// columns with zeros after: example e becomes examples e t ..< e t + t.
    static func shifted(_ x: [Float], batch: Int, shape: ActivationShape, copies t: Int) -> [Float] {
        let w = shape.width, planes = shape.channels * shape.height, count = shape.count
        var out = [Float](repeating: 0, count: batch * t * count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for e in 0 ..< batch {
                    for q in 0 ..< t {
                        let from = src.baseAddress! + e * count, to = dst.baseAddress! + (e * t + q) * count
                        for plane in 0 ..< planes where w > q {
                            (to + plane * w).update(from: from + plane * w + q, count: w - q)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Each head's logits for `windows` windows of `pixels` (rows x width bytes, row-major;
    /// window k is columns k ..< k + `window`, so width >= windows + window - 1): per head,
    /// windows x outputs values, as `network.forward` gives for the windows one by one.
    /// `progress` hears the windows done after each pass.
    public func logits(_ pixels: [UInt8], width: Int, windows: Int, progress: (Int) -> Void = { _ in }) -> [[Float]] {
        let rows = network.input.height
        precondition(pixels.count == rows * width && width >= windows + window - 1, "the picture is too narrow for its windows")
        let stretchWidth = wide.input.width, span = stride * columnsPerPhase, cols = columnsPerPhase
        var result = network.heads.map { head in [Float](repeating: 0, count: windows * head.kind.outputs) }
        let stretches = (windows + span - 1) / span
        for first in Swift.stride(from: 0, to: stretches, by: stretchesPerPass) {
            let count = min(stretchesPerPass, stretches - first)
            // Stretch s: columns from s * span, zero-normalised beyond the picture's end.
            var x = [Float](repeating: normalization(0), count: count * rows * stretchWidth)
            x.withUnsafeMutableBufferPointer { x in
                for e in 0 ..< count {
                    let start = (first + e) * span, available = min(stretchWidth, width - start)
                    guard available > 0 else { continue }
                    for r in 0 ..< rows {
                        let to = x.baseAddress! + (e * rows + r) * stretchWidth, from = r * width + start
                        for c in 0 ..< available { to[c] = normalization(pixels[from + c]) }
                    }
                }
            }
            // The trunk, each example splitting into its phases before a pool: phase[e] is the
            // window offset of example e's column 0 within its stretch.
            var batch = count, phase = [Int](repeating: 0, count: count), unit = 1, shape = wide.input
            for layer in Network.inferenceOrder(wide.trunk) {
                if let pool = layer as? MaxPool, pool.stride.width > 1 {
                    let t = pool.stride.width
                    x = Self.shifted(x, batch: batch, shape: shape, copies: t)
                    phase = phase.flatMap { p in (0 ..< t).map { p + $0 * unit } }
                    batch *= t
                    unit *= t
                }
                x = layer.infer(x, batch: batch)
                if !(layer is ReLU) { shape = layer.outputShape }  // a ReLU may run after its pool (inferenceOrder)
            }
            for (h, head) in wide.heads.enumerated() {
                let logits = Network.inferenceOrder(head.layers).reduce(x) { $1.infer($0, batch: batch) }
                let outputs = network.heads[h].kind.outputs
                for e in 0 ..< batch {
                    let base = (first + e / (batch / count)) * span + phase[e]
                    for j in 0 ..< cols {
                        let k = base + stride * j
                        guard k < windows else { break }
                        for o in 0 ..< outputs { result[h][k * outputs + o] = logits[(e * outputs + o) * cols + j] }
                    }
                }
            }
            progress(min(windows, (first + count) * span))
        }
        return result
    }
}
