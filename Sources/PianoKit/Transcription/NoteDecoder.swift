import Foundation

/// Turns per-step network outputs into notes.
///
/// Single-label outputs (softmax over MIDI notes, 0 = none) are monophonic: each step takes its
/// most probable class, a majority vote over `smoothing` steps removes one-step flickers, and
/// every run of one note becomes a note. Multi-label outputs (a sigmoid per key) are polyphonic:
/// a key sounds where its probability reaches the threshold, gaps of up to `gapSteps` are bridged,
/// and a sounding run is split where the spectrogram level at the key's fundamental jumps by at
/// least `onsetRise` decibels (a re-struck key the labels cannot show, since a held note and a
/// repeated one light the same key), and each note's onset moves to the steepest rise at its
/// fundamental within `onsetSnapSeconds` (the network sees a window of frames around each step, so
/// its outputs switch on somewhere near the onset; the spectrogram says exactly where). Notes
/// shorter than `minNoteSeconds` are dropped.
public struct NoteDecoder: Codable, Sendable, Equatable {
    /// Single: a step's class counts only with at least this probability (else silence). Multi: a key sounds at this probability.
    public var threshold: Float
    /// Notes shorter than this are dropped.
    public var minNoteSeconds = 0.05
    /// Steps in the single-label majority vote (1 = none).
    public var smoothing = 3
    /// Multi: silent runs of at most this many steps inside a note are bridged.
    public var gapSteps = 1
    /// Multi: a rise of at least this many dB over two steps at the key's fundamental starts a new note (0 = never split).
    public var onsetRise = 6.0
    /// Multi: a note's onset moves to the steepest rise at its fundamental within this many seconds (0 = never).
    public var onsetSnapSeconds = 0.1

    /// Defaults for a label kind: threshold 0 (argmax) for single, 0.8 for multi (on a piano the
    /// model was not trained on its sigmoids are over-confident: 0.7-0.9 gave the best note F1,
    /// 0.5 the worst, on two models; see README, "Beyond the paper").
    public init(labels: LabelKind) {
        threshold = labels == .single ? 0 : 0.8
    }

    /// The raw per-step prediction of single-label outputs: the most probable class, 0 below the threshold.
    public func stepClasses(_ probabilities: [Float]) -> [Int] {
        stride(from: 0, to: probabilities.count, by: 128).map { start in
            let row = probabilities[start ..< start + 128]
            let best = row.indices.max { row[$0] < row[$1] }!
            return row[best] >= threshold ? best - start : 0
        }
    }

    /// The raw per-step prediction of multi-label outputs: the keys at or above the threshold, ascending.
    public func stepKeys(_ probabilities: [Float]) -> [[Int]] {
        let keys = pianoKeys.count
        return stride(from: 0, to: probabilities.count, by: keys).map { start in
            (0 ..< keys).filter { probabilities[start + $0] >= threshold }.map { $0 + pianoKeys.lowerBound }
        }
    }

    /// The notes of a recording's outputs on `grid`; `levels` (the level image) enables onset splitting for multi-label outputs.
    public func notes(_ probabilities: [Float], labels: LabelKind, grid: TimeGrid, levels: LevelImage?, transform: TransformParameters, decibelRange: Double) -> [Note] {
        let minSteps = max(1, Int((minNoteSeconds / grid.stepDuration).rounded(.up)))
        let snapSteps = Int((onsetSnapSeconds / grid.stepDuration).rounded())
        var runs: [(pitch: Int, steps: Range<Int>)] = []
        switch labels {
        case .single:
            for run in equalRuns(majorityVote(stepClasses(probabilities), window: smoothing)) where run.value != 0 {
                runs.append((run.value, run.steps))
            }
        case .multi:
            let keys = pianoKeys.count, steps = probabilities.count / keys
            for key in 0 ..< keys {
                let pitch = key + pianoKeys.lowerBound
                var active = (0 ..< steps).map { probabilities[$0 * keys + key] >= threshold }
                guard active.contains(true) else { continue }
                bridgeGaps(&active, upTo: gapSteps)
                let rise = levels.flatMap { onsetRise > 0 || snapSteps > 0 ? riseCurve($0, pitch: pitch, transform: transform, decibelRange: decibelRange) : nil }
                var previousEnd = 0
                for run in equalRuns(active) where run.value {
                    var start = run.steps.lowerBound
                    let end = run.steps.upperBound
                    defer { previousEnd = end }
                    if let rise, snapSteps > 0 {
                        // The steepest rise near the run's start, between the key's previous note and this run's end (earliest on ties).
                        let window = max(previousEnd, start - snapSteps) ... min(end - 1, start + snapSteps)
                        start = window.max { rise[$0] < rise[$1] || (rise[$0] == rise[$1] && $0 > $1) }!
                    }
                    if let rise, onsetRise > 0 {
                        // Split at local maxima of the rise that leave both parts at least minSteps long.
                        var j = start + minSteps
                        while j <= end - minSteps {
                            if rise[j] >= onsetRise, rise[j] >= rise[j - 1], j + 1 >= steps || rise[j] >= rise[j + 1] {
                                runs.append((pitch, start ..< j))
                                start = j
                                j += minSteps
                            } else {
                                j += 1
                            }
                        }
                    }
                    runs.append((pitch, start ..< end))
                }
            }
        }
        return runs.filter { $0.steps.count >= minSteps }
            .map { Note(onset: grid.time(ofStep: $0.steps.lowerBound), offset: grid.time(ofStep: $0.steps.upperBound), pitch: $0.pitch) }
            .sorted(by: Note.byOnset)
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
        let frequency = 440 * exp2(Double(pitch - 69) / 12)
        let centre: Int
        if transform == "stft", let fftSize {
            let resolution = Double(sampleRate) / Double(fftSize)
            centre = Int((frequency / resolution).rounded()) - Int((fmin / resolution).rounded())
        } else {
            centre = Int((Double(binsPerOctave) * log2(frequency / fmin)).rounded())
        }
        guard centre >= 0, centre < bins else { return nil }
        return max(0, centre - 1) ... min(bins - 1, centre + 1)
    }
}
