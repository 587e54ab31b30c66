import Foundation

/// The toolkit's own piano: additive synthesis of stiff strings, so that training can hear pianos
/// no sample set has.
///
/// Each note is a sum of partials n = 1, 2, ... at n f0 sqrt(1 + B n^2) (string stiffness B grows
/// from the bass to the treble), each played by two slightly detuned strings, one decaying fast
/// (the prompt sound) and one slowly (the aftersound); higher partials and higher keys decay
/// faster. Louder notes are brighter; a hammer position notches partials; a short filtered noise
/// burst stands for the hammer. A note sounds from its onset to its offset (sustain pedal already
/// applied by `Piece.notes`), then the damper stops it within about a tenth of a second. A
/// variant fixes stiffness, decay, brightness, hammer position, string detuning, stretch tuning
/// and a body EQ, all drawn from a generator seeded by the variant number, so variant k sounds
/// the same on every machine. Output: stereo, keys panned from left (bass) to right (treble).
public struct SynthPiano: PieceRenderer {
    /// How many variants `Instrument.known` lists.
    public static let variants = 8

    /// The variant's sound.
    public struct Timbre: Sendable, Equatable {
        /// Multiplies the stiffness B (log-uniform 0.5...2).
        public var stiffness: Double
        /// Multiplies every decay time (log-uniform 0.5...2).
        public var decay: Double
        /// Spectral slope exponent of a soft note's partials (1.2...2.2); loud notes are 0.6 less.
        public var slope: Double
        /// Hammer striking point as a fraction of the string (1/9...1/6).
        public var hammer: Double
        /// Detuning between a key's two strings in cents (0.2...2).
        public var detune: Double
        /// Share of the fast-decaying string (0.5...0.9).
        public var prompt: Double
        /// Hammer noise level relative to the partials (0.005...0.08).
        public var noise: Double
        /// Damper time constant in seconds (0.03...0.15).
        public var damper: Double
        /// Stretch tuning in cents per octave away from A4 (0...8).
        public var stretch: Double
        /// Body resonances applied to the mix.
        public var body: [Biquad]

        /// The timbre of `variant`.
        public init(variant: Int, sampleRate: Double) {
            var rng = SeededGenerator(seed: 0x5157_1A00, name: "synth piano variant \(variant)")
            func logUniform(_ low: Double, _ high: Double) -> Double { exp(Double.random(in: log(low) ... log(high), using: &rng)) }
            stiffness = logUniform(0.5, 2)
            decay = logUniform(0.5, 2)
            slope = Double.random(in: 1.2 ... 2.2, using: &rng)
            hammer = 1 / Double.random(in: 6 ... 9, using: &rng)
            detune = logUniform(0.2, 2)
            prompt = Double.random(in: 0.5 ... 0.9, using: &rng)
            noise = logUniform(0.005, 0.08)
            damper = logUniform(0.03, 0.15)
            stretch = Double.random(in: 0 ... 8, using: &rng)
            body = (0 ..< 3).map { _ in
                Biquad.peak(frequency: logUniform(80, 4000), gain: Double.random(in: -6 ... 6, using: &rng),
                            q: logUniform(0.7, 3), sampleRate: sampleRate)
            }
        }
    }

    /// The variant, 0..<variants (any integer works).
    public var variant: Int
    public var sampleRate = 44100
    /// The variant's sound.
    public let timbre: Timbre

    /// Creates variant `variant`.
    public init(variant: Int) {
        self.variant = variant
        timbre = Timbre(variant: variant, sampleRate: Double(sampleRate))
    }

    public func version() -> String { "piano-thumbs SynthPiano 1" }

    public func render(_ pieces: [Piece], workDirectory: String) throws -> [[Float]] { pieces.map(render) }

    /// Partials below this fraction of the note's strongest are left out.
    static let floor = 1e-3
    /// At most this many partials per note.
    static let maxPartials = 40

    /// One piece: interleaved stereo samples for `piece.duration` seconds.
    public func render(_ piece: Piece) -> [Float] {
        let rate = Double(sampleRate)
        let frames = Int((piece.duration * rate).rounded())
        var mix = [Float](repeating: 0, count: frames * 2)
        var rng = SeededGenerator(seed: UInt64(bitPattern: Int64(variant)), name: piece.stem)
        for note in piece.notes {
            let first = Int((note.onset * rate).rounded())
            guard first < frames else { continue }
            let voice = self.note(pitch: note.pitch, velocity: note.velocity ?? 64, length: note.offset - note.onset,
                                  cents: piece.tuningCents, limit: frames - first, rng: &rng)
            let pan = Double.pi / 4 * (1 + 0.6 * Double(note.pitch - 64) / 44)
            let left = Float(cos(pan)), right = Float(sin(pan))
            for i in voice.indices {
                mix[2 * (first + i)] += left * voice[i]
                mix[2 * (first + i) + 1] += right * voice[i]
            }
        }
        for filter in timbre.body {
            filter.process(&mix, channel: 0, channels: 2)
            filter.process(&mix, channel: 1, channels: 2)
        }
        return mix
    }

    /// One note's mono samples from its onset: at most `limit`, and no longer than it is audible.
    func note(pitch: Int, velocity: Int, length: Double, cents: Double, limit: Int, rng: inout SeededGenerator) -> [Float] {
        let rate = Double(sampleRate), loudness = Double(min(max(velocity, 1), 127)) / 127
        let key = Double(pitch - 21) / 87  // 0 (A0) ... 1 (C8)
        let offCents = cents + timbre.stretch * Double(pitch - 69) / 12 + Double.random(in: -1 ... 1, using: &rng)
        let f0 = 440 * pow(2, (Double(pitch - 69) + offCents / 100) / 12)
        let stiffness = timbre.stiffness * pow(10, -3.9 + 2.4 * key)
        let sustain = timbre.decay * 4 * pow(2, -Double(pitch - 21) / 17)  // seconds, fundamental
        let slope = timbre.slope - 0.6 * loudness
        let damperEnd = max(length, 0.01)
        let samples = min(limit, Int((min(damperEnd + 8 * timbre.damper, 6 * sustain * 1.5 + 0.05) * rate).rounded()))
        guard samples > 0 else { return [] }
        var out = [Double](repeating: 0, count: samples)

        var partials: [(frequency: Double, amplitude: Double, tau: Double)] = []
        for n in 1 ... Self.maxPartials {
            let m = Double(n)
            let frequency = m * f0 * sqrt(1 + stiffness * m * m)
            guard frequency < min(0.45 * rate, 12000) else { break }
            let amplitude = (0.1 + abs(sin(Double.pi * m * timbre.hammer))) / pow(m, slope)
            partials.append((frequency, amplitude, sustain / (1 + pow(frequency / 1500, 1.5))))
        }
        let strongest = partials.map(\.amplitude).max() ?? 1
        let norm = 1 / sqrt(partials.reduce(0) { $0 + $1.amplitude * $1.amplitude })
        let detune = pow(2, timbre.detune / 1200) - 1
        for partial in partials where partial.amplitude >= Self.floor * strongest {
            let phase = Double.random(in: 0 ..< 2 * Double.pi, using: &rng)
            for (share, tau, shift) in [(timbre.prompt, 0.3 * partial.tau, -detune / 2), (1 - timbre.prompt, 1.5 * partial.tau, detune / 2)] {
                // z(t) = A e^{-t/tau} e^{i(2 pi f t + phase)}, advanced by one complex multiply a sample.
                let w = 2 * Double.pi * partial.frequency * (1 + shift) / rate, r = exp(-1 / (tau * rate))
                let stepRe = r * cos(w), stepIm = r * sin(w)
                var re = share * partial.amplitude * norm * cos(phase), im = share * partial.amplitude * norm * sin(phase)
                for i in 0 ..< samples {
                    out[i] += im
                    let next = re * stepRe - im * stepIm
                    im = re * stepIm + im * stepRe
                    re = next
                }
            }
        }
        // Hammer: noise low-passed near the key's range, decaying in about 10 ms.
        let cutoff = min(8000, 6 * f0), smoothing = exp(-2 * Double.pi * cutoff / rate)
        var lowpassed = 0.0
        for i in 0 ..< min(samples, Int(0.06 * rate)) {
            lowpassed = (1 - smoothing) * Double.random(in: -1 ... 1, using: &rng) + smoothing * lowpassed
            out[i] += timbre.noise * (0.3 + loudness) * 4 * lowpassed * exp(-Double(i) / (0.01 * rate))
        }
        // Attack ramp (1-4 ms, shorter when louder), damper after the key is released, level.
        let attack = max(1, Int((0.004 - 0.003 * loudness) * rate)), release = Int(damperEnd * rate)
        let level = 0.12 * pow(loudness, 1.7)
        var result = [Float](repeating: 0, count: samples)
        for i in 0 ..< samples {
            var gain = level
            if i < attack { gain *= 0.5 - 0.5 * cos(Double.pi * Double(i) / Double(attack)) }
            if i > release { gain *= exp(-Double(i - release) / (timbre.damper * rate)) }
            result[i] = Float(out[i] * gain)
        }
        return result
    }
}
