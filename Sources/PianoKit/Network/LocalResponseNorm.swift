import Foundation

/// Local response normalisation across channels, as TensorFlow's `lrn`:
/// y_c = x_c / (bias + alpha * sum of x_j^2 for |j - c| <= radius)^beta.
public final class LocalResponseNorm: Layer, @unchecked Sendable {
    public let outputShape: ActivationShape
    public var parameters: [Parameter] { [] }
    let radius: Int
    let bias: Float
    let alpha: Float
    let beta: Float
    private var x: [Float] = []
    private var scale: [Float] = []  // bias + alpha * window sum, per element
    private var factor: [Float] = []  // scale^-beta, per element

    /// Creates the layer; the defaults are the paper's (TensorFlow CIFAR-10's) norm layers.
    public init(_ shape: ActivationShape, radius: Int = 4, bias: Float = 1, alpha: Float = 0.001 / 9, beta: Float = 0.75) {
        outputShape = shape
        self.radius = radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta
    }

    public func forward(_ input: [Float], batch: Int) -> [Float] {
        let channels = outputShape.channels, plane = outputShape.height * outputShape.width
        let radius = self.radius, bias = self.bias, alpha = self.alpha, beta = self.beta, threeQuarters = beta == 0.75
        var scale = [Float](repeating: 0, count: input.count)
        var factor = [Float](repeating: 0, count: input.count)
        var out = [Float](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { xb in
        scale.withUnsafeMutableBufferPointer { scb in
        factor.withUnsafeMutableBufferPointer { fab in
        out.withUnsafeMutableBufferPointer { ob in
            let x = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!)), sc = SendablePointer(scb.baseAddress!)
            let fa = SendablePointer(fab.baseAddress!), o = SendablePointer(ob.baseAddress!)
            forEachPart(of: batch, threads: LayerThreads.count) { examples in
            var squares = [Float](repeating: 0, count: channels * plane)
            squares.withUnsafeMutableBufferPointer { sq in
            let x = x.pointer, sc = sc.pointer, fa = fa.pointer, o = o.pointer
            for n in examples {
                let base = n * channels * plane
                for i in 0 ..< channels * plane { sq[i] = x[base + i] * x[base + i] }
                for c in 0 ..< channels {
                    let lo = max(0, c - radius), hi = min(channels - 1, c + radius)
                    // Window sums a whole plane at a time: contiguous loops over p vectorise.
                    let s = sc + base + c * plane, f = fa + base + c * plane, xc = x + base + c * plane, oc = o + base + c * plane
                    for p in 0 ..< plane { s[p] = sq[lo * plane + p] }
                    for j in lo + 1 ..< hi + 1 {
                        let row = sq.baseAddress! + j * plane
                        for p in 0 ..< plane { s[p] += row[p] }
                    }
                    for p in 0 ..< plane {
                        s[p] = bias + alpha * s[p]
                        // s^-0.75 = 1 / (sqrt(s) sqrt(sqrt(s))): two square roots instead of exp and log.
                        let root = s[p].squareRoot()
                        f[p] = threeQuarters ? 1 / (root * root.squareRoot()) : exp(-beta * log(s[p]))
                        oc[p] = xc[p] * f[p]
                    }
                }
            }
            }
            }
        }
        }
        }
        }
        x = input
        self.scale = scale
        self.factor = factor
        return out
    }

    /// dx_c = dy_c s_c^-b - 2 a b x_c sum over j with |j - c| <= r of dy_j x_j s_j^(-b-1).
    public func backward(_ dy: [Float]) -> [Float] {
        let channels = outputShape.channels, plane = outputShape.height * outputShape.width, batch = x.count / outputShape.count
        let radius = self.radius, coefficient = 2 * alpha * beta
        var dx = [Float](repeating: 0, count: x.count)
        // t_j = dy_j x_j s_j^(-b-1) = dy_j x_j factor_j / s_j, then window sums as in forward.
        dy.withUnsafeBufferPointer { gb in
        x.withUnsafeBufferPointer { xb in
        scale.withUnsafeBufferPointer { scb in
        factor.withUnsafeBufferPointer { fab in
        dx.withUnsafeMutableBufferPointer { db in
            let g = SendablePointer(UnsafeMutablePointer(mutating: gb.baseAddress!)), xp = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
            let sc = SendablePointer(UnsafeMutablePointer(mutating: scb.baseAddress!)), fa = SendablePointer(UnsafeMutablePointer(mutating: fab.baseAddress!))
            let d = SendablePointer(db.baseAddress!)
            forEachPart(of: batch, threads: LayerThreads.count) { examples in
            var t = [Float](repeating: 0, count: channels * plane)
            t.withUnsafeMutableBufferPointer { tp in
            let g = g.pointer, xp = xp.pointer, sc = sc.pointer, fa = fa.pointer, d = d.pointer
            for n in examples {
                let base = n * channels * plane
                for i in 0 ..< channels * plane { tp[i] = g[base + i] * xp[base + i] * fa[base + i] / sc[base + i] }
                for c in 0 ..< channels {
                    let lo = max(0, c - radius), hi = min(channels - 1, c + radius)
                    let k = base + c * plane, dc = d + k
                    for p in 0 ..< plane { dc[p] = tp[lo * plane + p] }
                    for j in lo + 1 ..< hi + 1 {
                        let row = tp.baseAddress! + j * plane
                        for p in 0 ..< plane { dc[p] += row[p] }
                    }
                    for p in 0 ..< plane { dc[p] = g[k + p] * fa[k + p] - coefficient * xp[k + p] * dc[p] }
                }
            }
            }
            }
        }
        }
        }
        }
        }
        return dx
    }
}

