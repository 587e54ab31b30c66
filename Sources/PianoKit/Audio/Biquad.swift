import Foundation

/// A second-order IIR section (direct form I), with the RBJ audio-EQ-cookbook designs.
///
/// Coefficients are normalised by a0; `process` filters one channel of an interleaved buffer in
/// place, state starting at zero.
public struct Biquad: Sendable, Equatable, Codable {
    public var b0: Double, b1: Double, b2: Double, a1: Double, a2: Double

    /// A peaking EQ band: `gain` dB at `frequency` Hz, bandwidth set by `q`, unity far from it.
    public static func peak(frequency: Double, gain: Double, q: Double, sampleRate: Double) -> Biquad {
        let a = pow(10, gain / 40), w = 2 * Double.pi * frequency / sampleRate
        let alpha = sin(w) / (2 * q), c = cos(w)
        return Biquad(b0: 1 + alpha * a, b1: -2 * c, b2: 1 - alpha * a, a0: 1 + alpha / a, a1: -2 * c, a2: 1 - alpha / a)
    }

    /// A shelf of `gain` dB below (`high == false`) or above `frequency` Hz, slope 1.
    public static func shelf(frequency: Double, gain: Double, high: Bool, sampleRate: Double) -> Biquad {
        let a = pow(10, gain / 40), w = 2 * Double.pi * frequency / sampleRate
        let c = cos(w), alpha = sin(w) / 2 * sqrt(2.0), root = 2 * sqrt(a) * alpha
        if high {
            return Biquad(b0: a * ((a + 1) + (a - 1) * c + root), b1: -2 * a * ((a - 1) + (a + 1) * c), b2: a * ((a + 1) + (a - 1) * c - root),
                          a0: (a + 1) - (a - 1) * c + root, a1: 2 * ((a - 1) - (a + 1) * c), a2: (a + 1) - (a - 1) * c - root)
        }
        return Biquad(b0: a * ((a + 1) - (a - 1) * c + root), b1: 2 * a * ((a - 1) - (a + 1) * c), b2: a * ((a + 1) - (a - 1) * c - root),
                      a0: (a + 1) + (a - 1) * c + root, a1: -2 * ((a - 1) + (a + 1) * c), a2: (a + 1) + (a - 1) * c - root)
    }

    /// A second-order high-pass at `frequency` Hz (-3 dB there at `q` = 1/sqrt(2)), 12 dB per
    /// octave below it, zero at DC.
    public static func highPass(frequency: Double, q: Double, sampleRate: Double) -> Biquad {
        let w = 2 * Double.pi * frequency / sampleRate, alpha = sin(w) / (2 * q), c = cos(w)
        return Biquad(b0: (1 + c) / 2, b1: -(1 + c), b2: (1 + c) / 2, a0: 1 + alpha, a1: -2 * c, a2: 1 - alpha)
    }

    /// A fourth-order Butterworth high-pass at `frequency` Hz as two sections (Q 0.5412 and
    /// 1.3066): -3 dB at `frequency`, 24 dB per octave below it, flat above.
    public static func butterworthHighPass(frequency: Double, sampleRate: Double) -> [Biquad] {
        [0.54119610, 1.30656296].map { highPass(frequency: frequency, q: $0, sampleRate: sampleRate) }
    }

    init(b0: Double, b1: Double, b2: Double, a0: Double, a1: Double, a2: Double) {
        self.b0 = b0 / a0
        self.b1 = b1 / a0
        self.b2 = b2 / a0
        self.a1 = a1 / a0
        self.a2 = a2 / a0
    }

    /// Filters channel `channel` of the interleaved `samples` (`channels` per frame) in place.
    public func process(_ samples: inout [Float], channel: Int = 0, channels: Int = 1) {
        var x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0
        for i in stride(from: channel, to: samples.count, by: channels) {
            let x = Double(samples[i])
            let y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2 = x1; x1 = x; y2 = y1; y1 = y
            samples[i] = Float(y)
        }
    }
}
