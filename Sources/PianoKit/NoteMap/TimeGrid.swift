/// The pipeline's time grid: step k is the spectrogram frame centred at sample k * hop.
///
/// A recording of `frames` samples has `frames / hop + 1` steps (centred frames, as librosa
/// counts them with `center=True`).
public struct TimeGrid: Sendable, Equatable {
    /// Samples per second.
    public var sampleRate: Int
    /// Samples between steps.
    public var hop: Int

    /// Creates a grid.
    public init(sampleRate: Int, hop: Int) {
        precondition(sampleRate > 0 && hop > 0)
        self.sampleRate = sampleRate
        self.hop = hop
    }

    /// Seconds between steps.
    public var stepDuration: Double { Double(hop) / Double(sampleRate) }

    /// Number of steps for a recording of `frames` samples.
    public func stepCount(frames: Int) -> Int { frames / hop + 1 }

    /// The time of step `k` in seconds.
    public func time(ofStep k: Int) -> Double { Double(k * hop) / Double(sampleRate) }

    /// The first step at or after `seconds`: the smallest k with k * hop >= seconds * sampleRate.
    ///
    /// Comparisons are made in samples with a tolerance of 1e-6 sample, so a time that is
    /// exactly a step's time (up to float rounding) counts as that step.
    public func firstStep(atOrAfter seconds: Double) -> Int {
        let position = seconds * Double(sampleRate) / Double(hop)
        let step = (position - 1e-6 / Double(hop)).rounded(.up)
        // Saturates where Int(_:) would trap: a time beyond Int.max steps (or NaN) is no step of a recording.
        guard step > 0 else { return 0 }
        return step < Double(Int.max) ? Int(step) : Int.max
    }

    /// The half-open range of steps k with onset <= time(k) < offset.
    public func steps(from onset: Double, to offset: Double) -> Range<Int> {
        let first = firstStep(atOrAfter: onset)
        let end = firstStep(atOrAfter: offset)
        return first ..< Swift.max(first, end)
    }
}
