import Foundation

/// Evaluates a network on every window of a wide picture at once, sharing the columns that
/// neighbouring windows have in common (shift-and-stitch), with the result of evaluating it on
/// each window separately.
///
/// A network qualifies when its response to a window does not depend on where the window sits:
/// a fixed input normalization (`NetworkSpec.normalization`), and in time (columns) only
/// convolutions of stride 1 with "valid" padding (or one column wide), max pools whose stride is
/// their window with "valid" padding, and row-wise or pointwise layers (`flipRows`, `rowShifts`,
/// `relu`, `lrn`); no dense or flatten layer; each head ends one column wide. Then with S the
/// product of the pools' time strides, window k's outputs are column j of the network run on
/// the picture from column p, where k = p + S j: S phases, each run once over a long stretch
/// instead of once per window. For `networks/piano88-slide.json` (S = 4) that is about a
/// quarter of the multiply-adds of per-window evaluation.
///
/// Outputs equal per-window evaluation up to float rounding (the matrix products sum in
/// another order): within 1e-5 of the logits in the tests.
public final class SlidingEvaluator {
    /// The network for one window (its input width is the window's).
    public let network: Network
    /// Windows between neighbouring output columns of one phase: the product of the pools' time strides.
    public let stride: Int
    /// Output columns per phase per pass.
    public let columnsPerPhase: Int
    /// Phases run in one forward pass (a multiple of `stride`).
    let examplesPerPass: Int
    /// The same layers and weights, built for a phase's wide input.
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
        for head in network.heads where (head.layers.last?.outputShape.width ?? 0) != 1 {
            return "head \(head.kind.rawValue) is not one column wide"
        }
        return nil
    }

    /// Prepares `network` (which `refusal` must accept) for passes of `columns` output columns
    /// per phase (fewer where a phase that wide would exceed `NetworkSpec.maximumActivations`),
    /// `stride` phases per stretch and `stretches` stretches per pass.
    public init(_ network: Network, columns: Int = 32, stretches: Int = 1) throws {
        if let reason = Self.refusal(network) { throw FormatError("the network cannot slide over a recording: \(reason)") }
        self.network = network
        normalization = network.spec.normalization!
        let stride = network.layers.reduce(1) { s, layer in (layer as? MaxPool).map { s * $0.stride.width } ?? s }
        self.stride = stride
        examplesPerPass = stride * max(1, stretches)
        func phase(_ columns: Int) -> ActivationShape {
            ActivationShape(channels: 1, height: network.input.height, width: network.input.width + stride * (columns - 1))
        }
        var columns = max(1, columns)
        while columns > 1, (try? network.spec.plan(input: phase(columns), columnsPerOutput: true)) == nil { columns /= 2 }
        columnsPerPhase = columns
        wide = try Network(network.spec, input: phase(columns), seed: 0, columnsPerOutput: true)
        for (to, from) in zip(wide.parameters, network.parameters) {
            precondition(to.name == from.name && to.shape == from.shape, "a sliding network's weights must not depend on its width")
            to.value = from.value
        }
        for head in wide.heads where head.layers.last?.outputShape.width != columnsPerPhase {
            throw FormatError("head \(head.kind.rawValue) of the sliding network is not \(columnsPerPhase) columns wide")
        }
    }

    /// The width of one window (the network's input width).
    public var window: Int { network.input.width }

    /// Each head's logits for `windows` windows of `pixels` (rows x width bytes, row-major;
    /// window k is columns k ..< k + `window`, so width >= windows + window - 1): per head,
    /// windows x outputs values, as `network.forward` gives for the windows one by one.
    public func logits(_ pixels: [UInt8], width: Int, windows: Int) -> [[Float]] {
        let rows = network.input.height, w = window
        precondition(pixels.count == rows * width && width >= windows + w - 1, "the picture is too narrow for its windows")
        let phaseWidth = wide.input.width, span = stride * columnsPerPhase
        var result = network.heads.map { head in [Float](repeating: 0, count: windows * head.kind.outputs) }
        let stretches = (windows + span - 1) / span, perPass = examplesPerPass / stride
        for first in Swift.stride(from: 0, to: stretches, by: perPass) {
            let count = min(perPass, stretches - first)
            // Phase p of stretch s: columns from s * span + p, zero-normalised beyond the picture's end.
            var input = [Float](repeating: normalization(0), count: count * stride * rows * phaseWidth)
            input.withUnsafeMutableBufferPointer { x in
                for e in 0 ..< count * stride {
                    let start = (first + e / stride) * span + e % stride, available = min(phaseWidth, width - start)
                    guard available > 0 else { continue }
                    for r in 0 ..< rows {
                        let to = x.baseAddress! + (e * rows + r) * phaseWidth, from = r * width + start
                        for c in 0 ..< available { to[c] = normalization(pixels[from + c]) }
                    }
                }
            }
            for (h, logits) in wide.forward(input, batch: count * stride).enumerated() {
                let outputs = network.heads[h].kind.outputs, cols = columnsPerPhase
                for e in 0 ..< count * stride {
                    let base = (first + e / stride) * span + e % stride
                    for j in 0 ..< cols {
                        let k = base + stride * j
                        guard k < windows else { break }
                        for o in 0 ..< outputs { result[h][k * outputs + o] = logits[(e * outputs + o) * cols + j] }
                    }
                }
            }
        }
        return result
    }
}
