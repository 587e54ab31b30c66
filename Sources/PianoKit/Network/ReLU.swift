import Foundation

/// max(0, x).
public final class ReLU: Layer, @unchecked Sendable {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    /// Whether the convolution before this layer rectifies its own output (`Convolution.rectifies`,
    /// set together by `Network`): then this layer passes values and gradients through unchanged.
    public var fused = false
    private var output: [Float] = []  // the last forward's output: positive where the input was

    /// Creates a ReLU for inputs of `shape`.
    public init(_ shape: ActivationShape) { outputShape = shape }

    public func forward(_ x: [Float], batch: Int) -> [Float] {
        if fused { return x }
        output = infer(x, batch: batch)
        return output
    }

    /// max(0, x) into a new array, one pass (not a copy of x rectified in place: x is still
    /// referenced by the caller, so that would copy it first).
    public func infer(_ x: [Float], batch: Int) -> [Float] {
        if fused { return x }
        return x.withUnsafeBufferPointer { xb in
            [Float](unsafeUninitializedCapacity: xb.count) { ob, initialized in
                if let from = xb.baseAddress, let to = ob.baseAddress { Self.rectify(from, into: to, count: xb.count) }
                initialized = xb.count
            }
        }
    }

    public func backward(_ dy: [Float]) -> [Float] { fused ? dy : Self.masked(dy, by: output) }

    /// dy where `output` is positive, else 0 (ReLU's backward pass from its output).
    static func masked(_ dy: [Float], by output: [Float]) -> [Float] {
        var dx = dy
        dx.withUnsafeMutableBufferPointer { db in
            output.withUnsafeBufferPointer { ob in
                let d = SendablePointer(db.baseAddress!), o = SendablePointer(UnsafeMutablePointer(mutating: ob.baseAddress!))
                forEachPart(of: db.count, threads: LayerThreads.count) { range in
                    FloatRows.mask(d.pointer + range.lowerBound, where: o.pointer + range.lowerBound, range.count)
                }
            }
        }
        return dx
    }

    /// out[k] = max(x[k], 0) for k < count, over the layer threads; `x` may be `out` (in place).
    static func rectify(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        let i = SendablePointer(UnsafeMutablePointer(mutating: x)), o = SendablePointer(out)
        forEachPart(of: count, threads: LayerThreads.count) { range in
            for k in range { o.pointer[k] = max(i.pointer[k], 0) }  // branch-free, so it vectorises
        }
    }
}
