import Foundation

/// Turns per-step network outputs into notes, by one of three rules chosen by the heads a model has:
///
/// - `single` only (the paper's softmax): monophonic. Each step takes its most probable class, a
///   majority vote over `smoothing` steps removes one-step flickers, and every run of one note
///   becomes a note (`monophonicRuns`).
/// - `frame` without `onset`: polyphonic by frames. A key sounds where its probability reaches
///   `threshold`, gaps of up to `gapSteps` are bridged (`keyRuns`), each note's onset moves to the
///   steepest rise of the spectrogram level at its fundamental within `onsetSnapSeconds` (the
///   network sees a window of frames around each step, so its outputs switch on somewhere near
///   the onset; the spectrogram says exactly where: `snapOnset`), and a run is split where that
///   level rises by at least `onsetRise` dB (a re-struck key, which frame labels cannot show:
///   `splitAtRises`).
/// - `frame` and `onset`: onset-gated, as Onsets and Frames and basic-pitch decode. A note may
///   start only at a peak of its key's onset probability (a local maximum over steps at or above
///   `onsetThreshold`), and lasts while the frame probability stays at or above `threshold`,
///   bridging gaps of up to `gapSteps`, until the key's next onset peak (`onsetGatedRuns`).
///   With an `offset` head too, a peak of the key's offset probability at or above
///   `offsetThreshold` ends the note there, and a note whose frame probability has fallen below
///   the threshold is held for up to `offsetHoldSeconds` waiting for one (a key held while its
///   sound dies away ends where the damper falls, not where the sound fades). `endThreshold`
///   moves each note's end back to its last step at that frame probability.
///
/// Notes shorter than `minNoteSeconds` are dropped. With the level image, each note gets a MIDI
/// velocity from the level at its fundamental over its first steps (`velocity`).
public struct NoteDecoder: Codable, Sendable, Equatable {
    /// Single: a step's class counts only with at least this probability (else silence). Frame: a key sounds at this probability.
    public var threshold: Float
    /// Onset-gated decoding: an onset peak starts a note at this probability.
    public var onsetThreshold: Float = defaultOnsetThreshold
    /// The default `onsetThreshold`; with it, 0.2 is the default frame threshold (`init(heads:)`).
    public static let defaultOnsetThreshold: Float = 0.4
    /// Onset-gated decoding: a note's end moves back to its last step whose frame probability
    /// reaches this (nil: `threshold`, no move). The frame threshold decides how long a note
    /// holds together; a higher end threshold cuts the tail where the sound dies after the
    /// release. A note ended by an offset peak keeps its end.
    public var endThreshold: Float?
    /// Offset-aware decoding: an offset peak ends a note at this probability.
    public var offsetThreshold: Float = 0.5
    /// Offset-aware decoding: how long a note whose frame probability has fallen below the
    /// threshold may still be extended to an offset peak (0: offsets only end notes early).
    public var offsetHoldSeconds = 0.0
    /// Notes shorter than this are dropped.
    public var minNoteSeconds = 0.05
    /// Steps in the single-label majority vote (1 = none).
    public var smoothing = 3
    /// Frame: runs of at most this many steps below the threshold inside a note are bridged
    /// (0: none). A longer note also outlives `minNoteSeconds`, so this changes which notes are found.
    public var gapSteps = Self.defaultGapSteps
    /// The default `gapSteps` of frame-only decoding: a single step's dip.
    public static let defaultGapSteps = 1
    /// Frame without onset: a rise of at least this many dB over two steps at the key's fundamental starts a new note (0 = never split).
    public var onsetRise = 6.0
    /// Frame without onset: a note's onset moves to the steepest rise at its fundamental within this many seconds (0 = never).
    public var onsetSnapSeconds = 0.1

    /// Defaults for a model with `heads`: threshold 0 (argmax) for a single-label model; for a
    /// frame head 0.8 without an onset head (on a piano the model was not trained on its sigmoids
    /// are over-confident: 0.7-0.9 gave the best note F1, 0.5 the worst, on two models; see
    /// README, "Earlier: FR3Grand to FR3Brght") and 0.2 with one (the onset head decides where notes start; 0.2
    /// and onset threshold 0.4 were the best of the grid on the bundled model's development
    /// pianos by note F1 averaged over the MAPS categories, docs/model-card.md). With an onset
    /// head, `endThreshold` is `defaultEndThreshold` and `gapSteps` `onsetGatedGapSteps`.
    public init(heads: [HeadKind]) {
        if !heads.contains(.frame) { threshold = 0 } else { threshold = heads.contains(.onset) ? 0.2 : 0.8 }
        if heads.contains(.frame), heads.contains(.onset) {
            endThreshold = Self.defaultEndThreshold
            gapSteps = Self.onsetGatedGapSteps
        }
    }

    /// The default `gapSteps` of onset-gated decoding (23 ms at the bundled model's 11.6 ms step):
    /// on the bundled model's development pianos (onset 0.4, frame 0.2, ends not moved) the best
    /// of 1, 2, 4, 7 and 11 by note F1 averaged over the MAPS categories (0.9215 against 0.9206
    /// for 1 and 0.9152-0.9171 for 4-11; frame F1 rises with longer gaps, 0.8709 at 1 to 0.8792
    /// at 11) (docs/model-card.md; `bench/pianos.sh` stage 4).
    public static let onsetGatedGapSteps = 2

    /// The default `endThreshold` of onset-gated decoding: on the bundled model's development
    /// pianos (onset 0.4, frame 0.2, gap 2) the best of 0.2 (no move) and 0.4-0.8 by frame F1
    /// averaged over the MAPS categories (0.8709 against 0.8666; the notes found are the same; the
    /// previous bundled model chose it too, 0.851 against 0.844) (README, "Pianos never heard";
    /// `bench/pianos.sh` stage 4).
    public static let defaultEndThreshold: Float = 0.6

    /// The raw per-step prediction of single-label outputs: the most probable class, 0 below the threshold.
    public func stepClasses(_ probabilities: [Float]) -> [Int] {
        stride(from: 0, to: probabilities.count, by: 128).map { start in
            let row = probabilities[start ..< start + 128]
            let best = row.indices.max { row[$0] < row[$1] }!
            return row[best] >= threshold ? best - start : 0
        }
    }

    /// The raw per-step prediction of key outputs: the keys at or above the threshold, ascending.
    public func stepKeys(_ probabilities: [Float]) -> [[Int]] {
        let keys = pianoKeys.count
        return stride(from: 0, to: probabilities.count, by: keys).map { start in
            (0 ..< keys).filter { probabilities[start + $0] >= threshold }.map { $0 + pianoKeys.lowerBound }
        }
    }

    /// The notes of a recording's outputs on `grid`; `levels` (the level image) enables onset
    /// snapping and splitting for frame-only outputs.
    public func notes(_ outputs: HeadOutputs, grid: TimeGrid, levels: LevelImage?, transform: TransformParameters, decibelRange: Double) -> [Note] {
        let minSteps = max(1, Int((minNoteSeconds / grid.stepDuration).rounded(.up)))
        let snapSteps = Int((onsetSnapSeconds / grid.stepDuration).rounded())
        var runs: [(pitch: Int, steps: Range<Int>)] = []
        if let frames = outputs[.frame] {
            let keys = pianoKeys.count
            for key in 0 ..< keys {
                let pitch = key + pianoKeys.lowerBound
                let frame = (0 ..< outputs.steps).map { frames[$0 * keys + key] }
                if let onsets = outputs[.onset] {
                    let onset = (0 ..< outputs.steps).map { onsets[$0 * keys + key] }
                    let offset = outputs[.offset].map { offsets in (0 ..< outputs.steps).map { offsets[$0 * keys + key] } }
                    let holdSteps = Int((offsetHoldSeconds / grid.stepDuration).rounded())
                    runs += onsetGatedRuns(frame: frame, onset: onset, offset: offset, holdSteps: holdSteps, minSteps: minSteps).map { (pitch, $0) }
                    continue
                }
                let found = keyRuns(frame)
                guard !found.isEmpty else { continue }
                let rise = levels.flatMap { onsetRise > 0 || snapSteps > 0 ? riseCurve($0, pitch: pitch, transform: transform, decibelRange: decibelRange) : nil }
                var previousEnd = 0
                for run in found {
                    var steps = run
                    if let rise, snapSteps > 0 { steps = snapOnset(steps, rise: rise, within: snapSteps, after: previousEnd) }
                    if let rise, onsetRise > 0 {
                        runs += splitAtRises(steps, rise: rise, minSteps: minSteps).map { (pitch, $0) }
                    } else {
                        runs.append((pitch, steps))
                    }
                    previousEnd = run.upperBound
                }
            }
        } else if let single = outputs[.single] {
            runs = monophonicRuns(single)
        }
        return runs.filter { $0.steps.count >= minSteps }
            .map { run in
                Note(onset: grid.time(ofStep: run.steps.lowerBound), offset: grid.time(ofStep: run.steps.upperBound), pitch: run.pitch,
                     velocity: levels.flatMap { velocity($0, pitch: run.pitch, steps: run.steps, transform: transform, decibelRange: decibelRange) })
            }
            .sorted(by: Note.byOnset)
    }

    /// A MIDI velocity 1...127 for a note of `pitch` over `steps`: the highest level at its
    /// fundamental's bins over its first four steps, in dB below the recording's peak, mapped
    /// linearly with 0 dB = 127 and -50 dB = 1 (levels are relative to the loudest moment of the
    /// recording, so this is the note's loudness within the recording, not an absolute one).
    /// nil when the pitch is outside the transform's range.
    func velocity(_ image: LevelImage, pitch: Int, steps: Range<Int>, transform: TransformParameters, decibelRange: Double) -> Int? {
        guard let bins = transform.bins(ofPitch: pitch) else { return nil }
        let last = min(steps.lowerBound + 4, steps.upperBound, image.frames)
        guard steps.lowerBound < last else { return nil }
        var peak: Float = 0
        for t in steps.lowerBound ..< last { for b in bins { peak = max(peak, image.levels[t * image.bins + b]) } }
        let decibels = (Double(peak) - 1) * decibelRange
        return min(127, max(1, Int((127 + decibels * 126 / 50).rounded())))
    }

    /// Single-label outputs: runs of one class after the majority vote, silence dropped.
    func monophonicRuns(_ probabilities: [Float]) -> [(pitch: Int, steps: Range<Int>)] {
        equalRuns(majorityVote(stepClasses(probabilities), window: smoothing)).filter { $0.value != 0 }.map { ($0.value, $0.steps) }
    }

    /// One key's frame probabilities: the runs at or above the threshold, gaps of up to `gapSteps` bridged.
    func keyRuns(_ frame: [Float]) -> [Range<Int>] {
        var active = frame.map { $0 >= threshold }
        guard active.contains(true) else { return [] }
        bridgeGaps(&active, upTo: gapSteps)
        return equalRuns(active).filter(\.value).map(\.steps)
    }

    /// A run whose start has moved to the steepest rise within `within` steps of it, no earlier
    /// than `after` (the key's previous note's end) and before the run's end (earliest on ties).
    func snapOnset(_ run: Range<Int>, rise: [Double], within: Int, after: Int) -> Range<Int> {
        let window = max(after, run.lowerBound - within) ... min(run.upperBound - 1, run.lowerBound + within)
        let start = window.max { rise[$0] < rise[$1] || (rise[$0] == rise[$1] && $0 > $1) }!
        return start ..< run.upperBound
    }

    /// A run split at the local maxima of the rise of at least `onsetRise` dB that leave both parts at least `minSteps` long.
    func splitAtRises(_ run: Range<Int>, rise: [Double], minSteps: Int) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = run.lowerBound, j = start + minSteps
        let end = run.upperBound
        while j <= end - minSteps {
            if rise[j] >= onsetRise, rise[j] >= rise[j - 1], j + 1 >= rise.count || rise[j] >= rise[j + 1] {
                parts.append(start ..< j)
                start = j
                j += minSteps
            } else {
                j += 1
            }
        }
        return parts + [start ..< end]
    }

    /// One key's notes from its onset and frame probabilities: each onset peak (a step at or above
    /// `onsetThreshold` not below its neighbours, the first of equal ones) starts a note that lasts
    /// while the frame probability stays at or above `threshold` (gaps of up to `gapSteps` bridged,
    /// the peak's own step always included), ending at the next peak.
    ///
    /// With `offset` probabilities, an offset peak (found the same way at `offsetThreshold`) after
    /// the onset ends the note at its step (an offset at step t: the note sounded up to t - 1).
    /// After the frame probability falls below the threshold, the note waits up to
    /// max(`gapSteps`, `holdSteps`) steps for an offset peak (and extends to it) or for the frame
    /// probability to come back (and goes on); if neither comes it ends where the frame
    /// probability last reached the threshold.
    ///
    /// With `endThreshold`, a note not ended by an offset peak then ends after its last step whose
    /// frame probability reaches `endThreshold`, but is never cut below `minSteps` steps (so the
    /// same notes are found, only their ends move).
    func onsetGatedRuns(frame: [Float], onset: [Float], offset: [Float]? = nil, holdSteps: Int = 0, minSteps: Int = 1) -> [Range<Int>] {
        let steps = frame.count
        func peaks(_ p: [Float], at level: Float) -> [Bool] {
            (0 ..< steps).map { t in p[t] >= level && (t == 0 || p[t] > p[t - 1]) && (t + 1 == steps || p[t] >= p[t + 1]) }
        }
        let starts = peaks(onset, at: onsetThreshold).enumerated().filter(\.element).map(\.offset)
        let ends = offset.map { peaks($0, at: offsetThreshold) }
        let wait = ends == nil ? gapSteps : max(gapSteps, holdSteps)
        var runs: [Range<Int>] = []
        for (i, peak) in starts.enumerated() {
            let limit = i + 1 < starts.count ? starts[i + 1] : steps
            var end = peak + 1, t = peak + 1, gap = 0, byOffset = false
            while t < limit {
                if let ends, ends[t] { end = t; byOffset = true; break }
                if frame[t] >= threshold {
                    end = t + 1
                    gap = 0
                } else {
                    gap += 1
                    if gap > wait { break }
                }
                t += 1
            }
            if let endThreshold, !byOffset {
                while end - peak > minSteps, frame[end - 1] < endThreshold { end -= 1 }
            }
            runs.append(peak ..< max(peak + 1, end))
        }
        return runs
    }

    /// Rise in dB at `pitch`'s fundamental from two steps before to each step (max over the key's bins).
    func riseCurve(_ image: LevelImage, pitch: Int, transform: TransformParameters, decibelRange: Double) -> [Double]? {
        guard let bins = transform.bins(ofPitch: pitch) else { return nil }
        let level = (0 ..< image.frames).map { t in bins.map { image.levels[t * image.bins + $0] }.max()! }
        return (0 ..< image.frames).map { t in t < 2 ? 0 : Double(level[t] - level[t - 2]) * decibelRange }
    }
}

/// Replaces each value by the most frequent one in the `window` centred on it (ties keep the value).
func majorityVote(_ values: [Int], window: Int) -> [Int] {
    let half = window / 2
    guard half > 0 else { return values }
    return values.indices.map { k in
        var counts: [Int: Int] = [:]
        for j in max(0, k - half) ... min(values.count - 1, k + half) { counts[values[j], default: 0] += 1 }
        let own = counts[values[k]]!
        let best = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!
        return best.value > own ? best.key : values[k]
    }
}

/// The maximal runs of equal consecutive values, in order.
func equalRuns<Value: Equatable>(_ values: [Value]) -> [(value: Value, steps: Range<Int>)] {
    var runs: [(value: Value, steps: Range<Int>)] = []
    var start = 0
    for k in values.indices.dropFirst() where values[k] != values[start] {
        runs.append((values[start], start ..< k))
        start = k
    }
    if !values.isEmpty { runs.append((values[start], start ..< values.count)) }
    return runs
}

/// Sets inactive runs of at most `gap` steps that lie between active steps.
func bridgeGaps(_ active: inout [Bool], upTo gap: Int) {
    guard gap > 0 else { return }
    for run in equalRuns(active) where !run.value && run.steps.count <= gap && run.steps.lowerBound > 0 && run.steps.upperBound < active.count {
        for k in run.steps { active[k] = true }
    }
}

extension TransformParameters {
    /// The bins nearest `pitch`'s fundamental (the centre one and its neighbours), or nil outside the range.
    public func bins(ofPitch pitch: Int) -> ClosedRange<Int>? {
        let centre = Int(bin(ofPitch: Double(pitch)).rounded())
        guard centre >= 0, centre < bins else { return nil }
        return max(0, centre - 1) ... min(bins - 1, centre + 1)
    }

    /// Where the fundamental of a (fractional) MIDI pitch falls on the bin axis: bin k's centre
    /// is k (the CQT's bins are `binsPerOctave` to the octave from `fmin`; the STFT's are FFT
    /// bins, the first the one nearest `fmin`).
    public func bin(ofPitch pitch: Double) -> Double {
        let frequency = 440 * exp2((pitch - 69) / 12)
        if transform == "stft", let fftSize {
            let resolution = Double(sampleRate) / Double(fftSize)
            return frequency / resolution - (fmin / resolution).rounded()
        }
        return Double(binsPerOctave) * log2(frequency / fmin)
    }
}
