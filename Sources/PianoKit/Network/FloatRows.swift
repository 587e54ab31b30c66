/// Short runs of floats copied, zeroed and added without a library call per run: im2col and
/// col2im move one output row (often 2 to 16 floats) at a time, where memmove's call and size
/// dispatch cost more than the copy. Runs of any length are handled; `dst` and `src` must not
/// overlap.
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
}
