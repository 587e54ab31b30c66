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
    func halve(_ x: [Float]) -> [Float] {
        let k = Self.halfLength
        let n = x.count
        let outCount = (n + 1) / 2
        var padded = [Float](repeating: 0, count: n + 2 * k + 2)
        padded.withUnsafeMutableBufferPointer { p in
            x.withUnsafeBufferPointer { (p.baseAddress! + k).update(from: $0.baseAddress!, count: n) }
        }
        var out = [Float](repeating: 0, count: outCount)
        padded.withUnsafeBufferPointer { p in
            oddTaps.withUnsafeBufferPointer { h in
                out.withUnsafeMutableBufferPointer { o in
                    let base = p.baseAddress! + k
                    for m in 0 ..< outCount {
                        let c = base + 2 * m
                        var sum = centre * c[0]
                        for t in 0 ..< h.count {
                            let j = 2 * t + 1
                            sum += h[t] * (c[-j] + c[j])
                        }
                        o[m] = sum
                    }
                }
            }
        }
        return out
    }
}
