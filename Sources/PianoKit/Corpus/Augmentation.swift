import Foundation

/// A random change to how a recording sounds that leaves its notes as they are: the room, the
/// microphone, the recording chain. Drawn per recording from a generator seeded by the corpus seed
/// and the stem, so the same corpus settings give the same audio everywhere.
///
/// Applied in this order: detuning (by the renderer, as the instrument's fine tuning), bass cut,
/// body EQ, reverb, compression, noise, gain (the peak set to 0.3 full scale times 0.25...4, hard clipped
/// at full scale, as an overdriven recorder does).
public struct Augmentation: Sendable, Equatable {
    /// Tuning away from A440 in cents, -30...30.
    public var tuningCents: Double
    /// 0-3 peaking bands (50 Hz...10 kHz, -9...9 dB) and maybe a low or high shelf.
    public var equaliser: [Biquad]
    /// A Schroeder-Moorer room (`Augmentation.reverb`).
    public struct Reverb: Sendable, Equatable {
        /// Room size 0...1 (comb feedback 0.7...0.98).
        public var room: Double
        /// Share of the reverberated signal in the mix, 0...1.
        public var wet: Double
        /// High-frequency damping of the combs, 0...1.
        public var damping: Double
    }

    /// A feed-forward compressor (`Augmentation.compress`).
    public struct Compressor: Sendable, Equatable {
        /// Threshold in dB below the recording's peak.
        public var threshold: Double
        /// Compression ratio above the threshold.
        public var ratio: Double
    }

    /// Reverb (wet share up to 0.4), or nil for a dry recording.
    public var reverb: Reverb?
    /// Compressor, or nil.
    public var compressor: Compressor?
    /// White noise at this signal-to-noise ratio in dB (RMS), or nil.
    public var noiseSNR: Double?
    /// Linear gain, 0.25...4 (log-uniform), relative to a peak level of 0.3 full scale.
    public var gain: Double
    /// The generator's state for the noise.
    var noiseSeed: UInt64
    /// Cut-off in Hz, 35...140 (log-uniform), of a fourth-order high-pass that takes away the
    /// fundamentals (and at the higher cut-offs the second partials) of the lowest keys, as small
    /// speakers, distant microphones and some pianos' bass strings do; or nil.
    public var bassCut: Double?

    /// The cut-offs `bassCut` is drawn from, in Hz.
    public static let bassCutRange = 35.0 ... 140.0

    /// The augmentation of recording `stem` in a corpus of seed `seed`, with a bass cut in a share
    /// `bassCutShare` (0...1) of recordings. The bass cut is drawn last, so a share of 0 leaves
    /// every other draw as it was before the bass cut existed.
    public init(seed: UInt64, stem: String, sampleRate: Double, bassCutShare: Double = 0) {
        var rng = SeededGenerator(seed: seed, name: stem + "/augmentation")
        func logUniform(_ low: Double, _ high: Double) -> Double { exp(Double.random(in: log(low) ... log(high), using: &rng)) }
        func chance(_ p: Double) -> Bool { Double.random(in: 0 ..< 1, using: &rng) < p }
        tuningCents = Double.random(in: -30 ... 30, using: &rng)
        equaliser = (0 ..< Int.random(in: 0 ... 3, using: &rng)).map { _ in
            Biquad.peak(frequency: logUniform(50, 10000), gain: Double.random(in: -9 ... 9, using: &rng), q: logUniform(0.5, 4), sampleRate: sampleRate)
        }
        if chance(0.5) {
            let high = chance(0.5)
            equaliser.append(.shelf(frequency: high ? logUniform(2000, 8000) : logUniform(80, 400), gain: Double.random(in: -12 ... 6, using: &rng),
                                    high: high, sampleRate: sampleRate))
        }
        reverb = chance(0.6) ? Reverb(room: Double.random(in: 0.1 ... 0.95, using: &rng), wet: Double.random(in: 0.05 ... 0.4, using: &rng),
                                      damping: Double.random(in: 0.1 ... 0.7, using: &rng)) : nil
        compressor = chance(0.3) ? Compressor(threshold: Double.random(in: 6 ... 24, using: &rng), ratio: Double.random(in: 2 ... 8, using: &rng)) : nil
        noiseSNR = chance(0.5) ? Double.random(in: 25 ... 60, using: &rng) : nil
        gain = logUniform(0.25, 4)
        noiseSeed = rng.next()
        bassCut = chance(bassCutShare) ? logUniform(Self.bassCutRange.lowerBound, Self.bassCutRange.upperBound) : nil
    }

    /// Applies everything but the tuning to interleaved stereo `samples`.
    public func apply(to samples: inout [Float], sampleRate: Int) {
        let cut = bassCut.map { Biquad.butterworthHighPass(frequency: $0, sampleRate: Double(sampleRate)) } ?? []
        for filter in cut + equaliser {
            filter.process(&samples, channel: 0, channels: 2)
            filter.process(&samples, channel: 1, channels: 2)
        }
        if let reverb { Self.reverb(&samples, reverb, sampleRate: sampleRate) }
        if let compressor { Self.compress(&samples, compressor, sampleRate: sampleRate) }
        if let noiseSNR {
            let rms = sqrt(samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(samples.count, 1)))
            // Uniform noise in [-a, a] has RMS a / sqrt(3).
            let amplitude = rms * pow(10, -noiseSNR / 20) * sqrt(3.0)
            var rng = SeededGenerator(seed: noiseSeed)
            for i in samples.indices { samples[i] += Float(amplitude * Double.random(in: -1 ... 1, using: &rng)) }
        }
        // Gain relative to a peak of 0.3 full scale: up to 4x clips the loudest peaks by at most 1.2x.
        let level = Double(samples.lazy.map { abs($0) }.max() ?? 0)
        let gain = Float(level > 0 ? self.gain * 0.3 / level : 1)
        for i in samples.indices { samples[i] = min(1, max(-1, samples[i] * gain)) }
    }

    /// A Schroeder-Moorer reverb: per channel four damped feedback combs in parallel, then two
    /// all-passes (Freeverb's tunings, the right channel's delays 23 samples longer), mixed with
    /// the dry signal as (1 - wet) dry + wet reverb.
    static func reverb(_ samples: inout [Float], _ settings: Reverb, sampleRate: Int) {
        let scale = Double(sampleRate) / 44100
        let feedback = 0.7 + 0.28 * settings.room, damping = settings.damping, wet = settings.wet
        let frames = samples.count / 2
        for channel in 0 ..< 2 {
            let spread = channel * 23
            var output = [Double](repeating: 0, count: frames)
            for length in [1116, 1188, 1277, 1356] {
                let delay = Int(Double(length + spread) * scale)
                var line = [Double](repeating: 0, count: delay)
                var position = 0, store = 0.0
                for i in 0 ..< frames {
                    let out = line[position]
                    store = out * (1 - damping) + store * damping
                    line[position] = Double(samples[2 * i + channel]) * 0.015 + store * feedback
                    position = position + 1 == delay ? 0 : position + 1
                    output[i] += out
                }
            }
            for length in [556, 441] {
                let delay = Int(Double(length + spread) * scale)
                var line = [Double](repeating: 0, count: delay)
                var position = 0
                for i in 0 ..< frames {
                    let buffered = line[position]
                    line[position] = output[i] + buffered * 0.5
                    output[i] = buffered - output[i]
                    position = position + 1 == delay ? 0 : position + 1
                }
            }
            // Freeverb's wet gain is 3 for its 0.015 input scaling; keep the dry level.
            for i in 0 ..< frames {
                samples[2 * i + channel] = Float((1 - wet) * Double(samples[2 * i + channel]) + wet * 3 * output[i])
            }
        }
    }

    /// A feed-forward compressor on the louder channel's envelope (attack 5 ms, release 100 ms):
    /// above the threshold (dB below the peak), levels grow at 1/ratio; gain made up so the peak
    /// stays put. Silence is left alone.
    static func compress(_ samples: inout [Float], _ settings: Compressor, sampleRate: Int) {
        let attack = exp(-1 / (0.005 * Double(sampleRate))), release = exp(-1 / (0.1 * Double(sampleRate)))
        var envelope = 0.0
        let peak = Double(samples.lazy.map { abs($0) }.max() ?? 0), ratio = settings.ratio
        guard peak > 0 else { return }
        let threshold = peak * pow(10, -settings.threshold / 20)
        let makeUp = peak > threshold ? peak / (threshold * pow(peak / threshold, 1 / ratio)) : 1
        for i in 0 ..< samples.count / 2 {
            let level = Double(max(abs(samples[2 * i]), abs(samples[2 * i + 1])))
            envelope = level > envelope ? attack * envelope + (1 - attack) * level : release * envelope + (1 - release) * level
            let gain = envelope > threshold ? pow(envelope / threshold, 1 / ratio - 1) * makeUp : makeUp
            samples[2 * i] = Float(Double(samples[2 * i]) * gain)
            samples[2 * i + 1] = Float(Double(samples[2 * i + 1]) * gain)
        }
    }
}
