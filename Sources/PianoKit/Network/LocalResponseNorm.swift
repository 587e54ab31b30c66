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
        // `normalize` writes every scale and factor, so no zero-fill first.
        var scale = [Float](unsafeUninitializedCapacity: input.count) { _, initialized in initialized = input.count }
        var factor = [Float](unsafeUninitializedCapacity: input.count) { _, initialized in initialized = input.count }
        let out = scale.withUnsafeMutableBufferPointer { sc in
            factor.withUnsafeMutableBufferPointer { fa in normalize(input, batch: batch, keep: (sc.baseAddress!, fa.baseAddress!)) }
        }
        x = input
        self.scale = scale
        self.factor = factor
        return out
    }

    /// The output alone: nothing kept for `backward`.
    public func infer(_ input: [Float], batch: Int) -> [Float] {
        (x, scale, factor) = ([], [], [])
        return normalize(input, batch: batch, keep: nil)
    }

    /// The normalised `batch` examples; with `keep`, also each element's scale
    /// (bias + alpha * window sum) and factor (scale^-beta) for `backward`.
    ///
    /// Window sums run over whole channel planes, so the loops over a plane vectorise: channel
    /// c's sum is channel c - 1's plus the square entering the window minus the one leaving it
    /// (a rounding below zero after the subtraction counts as zero).
    func normalize(_ input: [Float], batch: Int, keep: (scale: UnsafeMutablePointer<Float>, factor: UnsafeMutablePointer<Float>)?) -> [Float] {
        let channels = outputShape.channels, plane = outputShape.height * outputShape.width
        let radius = self.radius, bias = self.bias, alpha = self.alpha, beta = self.beta, threeQuarters = beta == 0.75
        let keep = keep.map { (SendablePointer($0.scale), SendablePointer($0.factor)) }
        return input.withUnsafeBufferPointer { xb in [Float](unsafeUninitializedCapacity: input.count) { ob, initialized in
            let x = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!)), o = SendablePointer(ob.baseAddress!)
            forEachPart(of: batch, threads: LayerThreads.count) { examples in
                let squares = UnsafeMutablePointer<Float>.allocate(capacity: channels * plane)
                let sum = UnsafeMutablePointer<Float>.allocate(capacity: plane)
                defer { squares.deallocate(); sum.deallocate() }
                let x = x.pointer, o = o.pointer
                for n in examples {
                    let base = n &* channels &* plane
                    FloatRows.square(squares, x + base, channels &* plane)
                    Self.forEachWindowSum(of: squares, channels: channels, plane: plane, radius: radius, into: sum) { c in
                        let k = base &+ c &* plane
                        Self.scale(x + k, by: sum, into: o + k, keep: keep.map { ($0.0.pointer + k, $0.1.pointer + k) },
                                   plane, bias: bias, alpha: alpha, beta: beta, threeQuarters: threeQuarters)
                    }
                }
            }
            initialized = input.count
        } }
    }

    /// For each channel c in order, `sum` (one plane) set to the sum of `values`' planes j with
    /// |j - c| <= radius, then body(c): channel c's sum is channel c - 1's plus the plane entering
    /// the window minus the one leaving it, on SIMD vectors.
    @inline(__always)
    static func forEachWindowSum(of values: UnsafePointer<Float>, channels: Int, plane: Int, radius: Int, into sum: UnsafeMutablePointer<Float>,
                                 _ body: (Int) -> Void) {
        sum.initialize(repeating: 0, count: plane)
        for j in 0 ..< min(radius, channels) { FloatRows.add(sum, values + j &* plane, plane) }
        for c in 0 ..< channels {
            if c + radius < channels { FloatRows.add(sum, values + (c &+ radius) &* plane, plane) }
            if c - radius - 1 >= 0 { FloatRows.subtract(sum, values + (c &- radius &- 1) &* plane, plane) }
            body(c)
        }
    }

    /// out = x (bias + alpha sum)^-beta over `n` values; with `keep`, also the scale
    /// (bias + alpha sum) and the factor (scale^-beta). For beta 0.75 the power is
    /// 1 / (sqrt(s) sqrt(sqrt(s))), on SIMD vectors: two square roots instead of exp and log.
    @inline(__always)
    static func scale(_ x: UnsafePointer<Float>, by sum: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                      keep: (scale: UnsafeMutablePointer<Float>, factor: UnsafeMutablePointer<Float>)?, _ n: Int,
                      bias: Float, alpha: Float, beta: Float, threeQuarters: Bool) {
        func one(_ k: Int) {
            let s = bias + alpha * max(sum[k], 0)
            let f: Float
            if threeQuarters {
                let root = s.squareRoot()
                f = 1 / (root * root.squareRoot())
            } else {
                f = exp(-beta * log(s))
            }
            out[k] = x[k] * f
            if let keep { keep.scale[k] = s; keep.factor[k] = f }
        }
        guard threeQuarters else {
            for k in 0 ..< n { one(k) }
            return
        }
        let xs = UnsafeRawPointer(x), ss = UnsafeRawPointer(sum), os = UnsafeMutableRawPointer(out)
        FloatRows.lanes(n, vector: { k in
            let sum = ss.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            let s = bias + alpha * sum.replacing(with: 0, where: sum .< 0)
            let root = s.squareRoot(), f = 1 / (root * root.squareRoot())
            os.storeBytes(of: xs.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self) * f, toByteOffset: 4 * k, as: SIMD8<Float>.self)
            if let keep {
                UnsafeMutableRawPointer(keep.scale).storeBytes(of: s, toByteOffset: 4 * k, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(keep.factor).storeBytes(of: f, toByteOffset: 4 * k, as: SIMD8<Float>.self)
            }
        }, scalar: one)
    }

    /// dx_c = dy_c s_c^-b - 2 a b x_c sum over j with |j - c| <= r of dy_j x_j s_j^(-b-1).
    ///
    /// Per example: t_j = dy_j x_j factor_j / s_j over all channels, then the window sums of t
    /// as `normalize` makes its sums (`forEachWindowSum`), on SIMD vectors.
    public func backward(_ dy: [Float]) -> [Float] {
        let channels = outputShape.channels, plane = outputShape.height * outputShape.width, batch = x.count / outputShape.count
        let radius = self.radius, coefficient = 2 * alpha * beta
        // Every value is written below, so no zero-fill first.
        var dx = [Float](unsafeUninitializedCapacity: x.count) { _, initialized in initialized = x.count }
        dy.withUnsafeBufferPointer { gb in
        x.withUnsafeBufferPointer { xb in
        scale.withUnsafeBufferPointer { scb in
        factor.withUnsafeBufferPointer { fab in
        dx.withUnsafeMutableBufferPointer { db in
            let g = SendablePointer(UnsafeMutablePointer(mutating: gb.baseAddress!)), xp = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
            let sc = SendablePointer(UnsafeMutablePointer(mutating: scb.baseAddress!)), fa = SendablePointer(UnsafeMutablePointer(mutating: fab.baseAddress!))
            let d = SendablePointer(db.baseAddress!)
            forEachPart(of: batch, threads: LayerThreads.count) { examples in
                let t = UnsafeMutablePointer<Float>.allocate(capacity: channels * plane)
                let sum = UnsafeMutablePointer<Float>.allocate(capacity: plane)
                defer { t.deallocate(); sum.deallocate() }
                let g = g.pointer, xp = xp.pointer, sc = sc.pointer, fa = fa.pointer, d = d.pointer
                for n in examples {
                    let base = n &* channels &* plane
                    Self.gradientTerms(dy: g + base, x: xp + base, factor: fa + base, scale: sc + base, into: t, channels &* plane)
                    Self.forEachWindowSum(of: t, channels: channels, plane: plane, radius: radius, into: sum) { c in
                        let k = base &+ c &* plane
                        Self.inputGradient(dy: g + k, factor: fa + k, x: xp + k, sum: sum, coefficient: coefficient, into: d + k, plane)
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

    /// t = dy x factor / scale over `n` values, on SIMD vectors.
    @inline(__always)
    static func gradientTerms(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, factor: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                              into t: UnsafeMutablePointer<Float>, _ n: Int) {
        let g = UnsafeRawPointer(dy), xs = UnsafeRawPointer(x), f = UnsafeRawPointer(factor), s = UnsafeRawPointer(scale), o = UnsafeMutableRawPointer(t)
        FloatRows.lanes(n, vector: { k in
            let b = 4 * k
            let v = g.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self) * xs.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self)
                * f.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self) / s.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self)
            o.storeBytes(of: v, toByteOffset: b, as: SIMD8<Float>.self)
        }, scalar: { k in t[k] = dy[k] * x[k] * factor[k] / scale[k] })
    }

    /// dx = dy factor - coefficient x sum over `n` values, on SIMD vectors.
    @inline(__always)
    static func inputGradient(dy: UnsafePointer<Float>, factor: UnsafePointer<Float>, x: UnsafePointer<Float>, sum: UnsafePointer<Float>,
                              coefficient: Float, into dx: UnsafeMutablePointer<Float>, _ n: Int) {
        let g = UnsafeRawPointer(dy), f = UnsafeRawPointer(factor), xs = UnsafeRawPointer(x), s = UnsafeRawPointer(sum), o = UnsafeMutableRawPointer(dx)
        FloatRows.lanes(n, vector: { k in
            let b = 4 * k
            let v = g.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self) * f.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self)
                - coefficient * xs.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self) * s.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self)
            o.storeBytes(of: v, toByteOffset: b, as: SIMD8<Float>.self)
        }, scalar: { k in dx[k] = dy[k] * factor[k] - coefficient * x[k] * sum[k] })
    }
}
