import Foundation

/// max(0, x).
public final class ReLU: Layer, @unchecked Sendable {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    private var output: [Float] = []  // the last forward's output: positive where the input was

    /// Creates a ReLU for inputs of `shape`.
    public init(_ shape: ActivationShape) { outputShape = shape }

    public func forward(_ x: [Float], batch: Int) -> [Float] {
        var out = x
        out.withUnsafeMutableBufferPointer { ob in
            let o = SendablePointer(ob.baseAddress!)
            forEachPart(of: ob.count, threads: LayerThreads.count) { range in
                for i in range { o.pointer[i] = max(o.pointer[i], 0) }  // branch-free, so it vectorises
            }
        }
        output = out
        return out
    }

    public func backward(_ dy: [Float]) -> [Float] {
        var dx = dy
        dx.withUnsafeMutableBufferPointer { db in
            output.withUnsafeBufferPointer { ob in
                let d = SendablePointer(db.baseAddress!), o = SendablePointer(UnsafeMutablePointer(mutating: ob.baseAddress!))
                forEachPart(of: db.count, threads: LayerThreads.count) { range in
                    for i in range { d.pointer[i] = o.pointer[i] > 0 ? d.pointer[i] : 0 }
                }
            }
        }
        return dx
    }
}
