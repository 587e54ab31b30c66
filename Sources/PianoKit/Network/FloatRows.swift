/// Short runs of floats copied, zeroed and added without a library call per run: im2col and
/// col2im move one output row (often 2 to 16 floats) at a time, where memmove's call and size
/// dispatch cost more than the copy. Runs of any length are handled; `dst` and `src` must not
/// overlap. Also the element-wise selects of pooling and ReLU written on SIMD vectors: as scalar
/// loops the compiler turns them into branches on the data, which mispredict.
enum FloatRows {
    /// dst[0 ..< n] = src[0 ..< n].
    @inline(__always)
    static func copy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
        switch n {
        case 16...:
            var k = 0
            while k + 16 <= n {
                d.storeBytes(of: s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD16<Float>.self), toByteOffset: 4 * k, as: SIMD16<Float>.self)
                k += 16
            }
            // The tail as one last (overlapping) vector.
            if k < n {
                d.storeBytes(of: s.loadUnaligned(fromByteOffset: 4 * (n - 16), as: SIMD16<Float>.self), toByteOffset: 4 * (n - 16), as: SIMD16<Float>.self)
            }
        case 8 ..< 16:
            let head = s.loadUnaligned(as: SIMD8<Float>.self), tail = s.loadUnaligned(fromByteOffset: 4 * (n - 8), as: SIMD8<Float>.self)
            d.storeBytes(of: head, as: SIMD8<Float>.self)
            d.storeBytes(of: tail, toByteOffset: 4 * (n - 8), as: SIMD8<Float>.self)
        case 4 ..< 8:
            let head = s.loadUnaligned(as: SIMD4<Float>.self), tail = s.loadUnaligned(fromByteOffset: 4 * (n - 4), as: SIMD4<Float>.self)
            d.storeBytes(of: head, as: SIMD4<Float>.self)
            d.storeBytes(of: tail, toByteOffset: 4 * (n - 4), as: SIMD4<Float>.self)
        default:
            for k in 0 ..< max(0, n) { dst[k] = src[k] }
        }
    }

    /// dst[0 ..< n] = 0.
    @inline(__always)
    static func zero(_ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst)
        switch n {
        case 16...:
            var k = 0
            while k + 16 <= n {
                d.storeBytes(of: SIMD16<Float>(), toByteOffset: 4 * k, as: SIMD16<Float>.self)
                k += 16
            }
            if k < n { d.storeBytes(of: SIMD16<Float>(), toByteOffset: 4 * (n - 16), as: SIMD16<Float>.self) }
        case 8 ..< 16:
            d.storeBytes(of: SIMD8<Float>(), as: SIMD8<Float>.self)
            d.storeBytes(of: SIMD8<Float>(), toByteOffset: 4 * (n - 8), as: SIMD8<Float>.self)
        case 4 ..< 8:
            d.storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self)
            d.storeBytes(of: SIMD4<Float>(), toByteOffset: 4 * (n - 4), as: SIMD4<Float>.self)
        default:
            for k in 0 ..< max(0, n) { dst[k] = 0 }
        }
    }

    /// dst[0 ..< n] += src[0 ..< n] (no overlapping vectors: each element is added once).
    @inline(__always)
    static func add(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
        var k = 0
        while k + 8 <= n {
            let sum = d.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self) + s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            d.storeBytes(of: sum, toByteOffset: 4 * k, as: SIMD8<Float>.self)
            k += 8
        }
        if k + 4 <= n {
            let sum = d.loadUnaligned(fromByteOffset: 4 * k, as: SIMD4<Float>.self) + s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD4<Float>.self)
            d.storeBytes(of: sum, toByteOffset: 4 * k, as: SIMD4<Float>.self)
            k += 4
        }
        while k < n {
            dst[k] += src[k]
            k += 1
        }
    }

    /// best[k] = v[k] where v[k] > best[k] (a strict comparison: the earlier of equal values stays).
    @inline(__always)
    static func maximum(_ best: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, _ n: Int) {
        let b = UnsafeMutableRawPointer(best), s = UnsafeRawPointer(v)
        overlappingLanes(n, vector: { k in
            var m = b.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            let x = s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            m.replace(with: x, where: x .> m)
            b.storeBytes(of: m, toByteOffset: 4 * k, as: SIMD8<Float>.self)
        }, scalar: { k in if v[k] > best[k] { best[k] = v[k] } })
    }

    /// As `maximum`, and where v[k] wins, at[k] = offset + index[k]: the running argmax.
    @inline(__always)
    static func maximum(_ best: UnsafeMutablePointer<Float>, _ at: UnsafeMutablePointer<Int32>, _ v: UnsafePointer<Float>,
                        index: UnsafePointer<Int32>, offset: Int32, _ n: Int) {
        let b = UnsafeMutableRawPointer(best), a = UnsafeMutableRawPointer(at), s = UnsafeRawPointer(v), i = UnsafeRawPointer(index)
        overlappingLanes(n, vector: { k in
            var m = b.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            var w = a.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Int32>.self)
            let x = s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            let better = x .> m
            m.replace(with: x, where: better)
            w.replace(with: i.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Int32>.self) &+ offset, where: better)
            b.storeBytes(of: m, toByteOffset: 4 * k, as: SIMD8<Float>.self)
            a.storeBytes(of: w, toByteOffset: 4 * k, as: SIMD8<Int32>.self)
        }, scalar: { k in if v[k] > best[k] { best[k] = v[k]; at[k] = index[k] &+ offset } })
    }

    /// g[k] = 0 where y[k] is not positive (ReLU's backward pass, from its output y).
    @inline(__always)
    static func mask(_ g: UnsafeMutablePointer<Float>, where y: UnsafePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(g), s = UnsafeRawPointer(y)
        lanes(n, vector: { k in
            var x = d.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            x.replace(with: 0, where: .!(s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self) .> 0))
            d.storeBytes(of: x, toByteOffset: 4 * k, as: SIMD8<Float>.self)
        }, scalar: { k in if !(y[k] > 0) { g[k] = 0 } })
    }

    /// dst[k] = src[k] where y[k] is positive, else 0, for k < n (a copy through ReLU's backward pass).
    @inline(__always)
    static func copy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, where y: UnsafePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src), m = UnsafeRawPointer(y)
        lanes(n, vector: { k in
            var x = s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            x.replace(with: 0, where: .!(m.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self) .> 0))
            d.storeBytes(of: x, toByteOffset: 4 * k, as: SIMD8<Float>.self)
        }, scalar: { k in dst[k] = y[k] > 0 ? src[k] : 0 })
    }

    /// dst[0 ..< n] -= src[0 ..< n].
    @inline(__always)
    static func subtract(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
        lanes(n, vector: { k in
            let difference = d.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self) - s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            d.storeBytes(of: difference, toByteOffset: 4 * k, as: SIMD8<Float>.self)
        }, scalar: { k in dst[k] -= src[k] })
    }

    /// dst[0 ..< n] = src[0 ..< n]^2.
    @inline(__always)
    static func square(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
        lanes(n, vector: { k in
            let v = s.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self)
            d.storeBytes(of: v * v, toByteOffset: 4 * k, as: SIMD8<Float>.self)
        }, scalar: { k in dst[k] = src[k] * src[k] })
    }

    /// dst[j] += the sum over i < rows of m[i * 16 blocks + j], in order of i, for j < 16 blocks: the
    /// column sums of a row-major rows x (16 blocks) matrix, 16 columns per vector, each column's
    /// sum exactly as a scalar loop over i would make it (starting from 0, then added to dst[j]).
    @inline(__always)
    static func addColumnSums(_ dst: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, rows: Int, blocks: Int) {
        let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(m), width = 16 * blocks
        for b in 0 ..< blocks {
            var sum = SIMD16<Float>()
            for i in 0 ..< rows { sum += s.loadUnaligned(fromByteOffset: 4 * (i * width + 16 * b), as: SIMD16<Float>.self) }
            d.storeBytes(of: d.loadUnaligned(fromByteOffset: 64 * b, as: SIMD16<Float>.self) + sum, toByteOffset: 64 * b, as: SIMD16<Float>.self)
        }
    }

    /// vector(k) for k = 0, 8, 16, ... while eight values fit before n; when n is 8 or more and not
    /// a multiple of 8, once more at n - 8, overlapping the previous vector (for steps that change
    /// nothing when repeated, as a running maximum); scalar(k) for each k when n < 8.
    @inline(__always)
    static func overlappingLanes(_ n: Int, vector: (Int) -> Void, scalar: (Int) -> Void) {
        guard n >= 8 else {
            for k in 0 ..< max(0, n) { scalar(k) }
            return
        }
        var k = 0
        while k + 8 <= n {
            vector(k)
            k += 8
        }
        if k < n { vector(n - 8) }
    }

    /// vector(k) for k = 0, 8, 16, ... while eight values fit before n, then scalar(k) for the rest.
    @inline(__always)
    static func lanes(_ n: Int, vector: (Int) -> Void, scalar: (Int) -> Void) {
        var k = 0
        while k + 8 <= n {
            vector(k)
            k += 8
        }
        while k < n {
            scalar(k)
            k += 1
        }
    }
}
