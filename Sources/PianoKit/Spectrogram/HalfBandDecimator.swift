import Foundation

/// Halves a signal's sample rate: a linear-phase half-band low-pass filter, then every other sample.
///
/// The constant-Q transform only needs each octave's content below about a tenth of the current
/// rate, so a short filter with a wide transition band suffices: aliasing from above 0.4 x rate
/// could only land above 0.1 x rate, where the next octave's kernels do not look. The filter is
/// a Kaiser-windowed sinc (beta 9, 31 taps, every other tap zero); output sample m is centred
/// on input sample 2m, so no delay is introduced. Like librosa's `resample(..., scale=True)`,
/// the output is multiplied by sqrt(2) to keep the energy per sample.
struct HalfBandDecimator: Sendable {
    /// The centre tap h[0] and the odd taps h[1], h[3], ..., already scaled by sqrt(2); even taps are 0.
    let centre: Float
    let oddTaps: [Float]
    static let halfLength = 15

    init() {
        let beta = 9.0
        func bessel0(_ x: Double) -> Double {
            var sum = 1.0, term = 1.0
            for i in 1 ..< 40 {
                term *= (x / (2 * Double(i))) * (x / (2 * Double(i)))
                sum += term
            }
            return sum
        }
        var taps: [Double] = []
        for j in stride(from: 1, through: Self.halfLength, by: 2) {
            let sinc = sin(Double.pi * Double(j) / 2) / (Double.pi * Double(j))
            let r = Double(j) / Double(Self.halfLength + 1)
            taps.append(sinc * bessel0(beta * (1 - r * r).squareRoot()) / bessel0(beta))
        }
        // Scale for a DC gain of exactly 1 (0.5 + 2 * sum of odd taps), then by sqrt(2).
        let gain = 0.5 + 2 * taps.reduce(0, +)
        let scale = 2.0.squareRoot() / gain
        centre = Float(0.5 * scale)
        oddTaps = taps.map { Float($0 * scale) }
    }

    /// The signal at half the rate: ceil(count / 2) samples, scaled by sqrt(2).
    ///
    /// Polyphase form: with e[m] = x[2m] and o[m] = x[2m + 1], output m is
    /// h0 e[m] + sum over t of h[2t+1] (o[m - t - 1] + o[m + t]), so every pass is a contiguous,
    /// vectorisable loop over m.
    func halve(_ x: [Float]) -> [Float] {
        let k = oddTaps.count  // taps on each side among the odd samples
        let outCount = (x.count + 1) / 2
        var odd = [Float](repeating: 0, count: outCount + 2 * k)  // o[m] at index m + k
        var out = [Float](repeating: 0, count: outCount)
        x.withUnsafeBufferPointer { src in
            odd.withUnsafeMutableBufferPointer { o in
                out.withUnsafeMutableBufferPointer { e in
                    for m in 0 ..< src.count / 2 {
                        e[m] = centre * src[2 * m]
                        o[m + k] = src[2 * m + 1]
                    }
                    if src.count % 2 == 1 { e[outCount - 1] = centre * src[src.count - 1] }
                }
            }
        }
        odd.withUnsafeBufferPointer { o in
            out.withUnsafeMutableBufferPointer { e in
                let base = UnsafeRawPointer(o.baseAddress! + k)
                let result = UnsafeMutableRawPointer(e.baseAddress!)
                let step = MemoryLayout<Float>.stride
                var m = 0
                // Eight outputs at a time, all taps accumulated in registers: one pass over memory.
                while m + 8 <= outCount {
                    var sum = result.loadUnaligned(fromByteOffset: m * step, as: SIMD8<Float>.self)
                    for t in 0 ..< k {
                        let before = base.loadUnaligned(fromByteOffset: (m - t - 1) * step, as: SIMD8<Float>.self)
                        let after = base.loadUnaligned(fromByteOffset: (m + t) * step, as: SIMD8<Float>.self)
                        sum += oddTaps[t] * (before + after)
                    }
                    result.storeBytes(of: sum, toByteOffset: m * step, as: SIMD8<Float>.self)
                    m += 8
                }
                let odds = o.baseAddress! + k
                while m < outCount {
                    for t in 0 ..< k { e[m] += oddTaps[t] * (odds[m - t - 1] + odds[m + t]) }
                    m += 1
                }
            }
        }
        return out
    }
}
