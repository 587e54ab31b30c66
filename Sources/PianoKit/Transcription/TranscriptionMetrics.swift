import Foundation

/// The tolerances of the note and frame metrics: mir_eval's defaults (MIREX note tracking).
public struct MetricParameters: Codable, Sendable, Equatable {
    /// Onsets match within this many seconds.
    public var onsetTolerance = 0.05
    /// With offsets: an offset matches within this fraction of the reference note's duration...
    public var offsetRatio = 0.2
    /// ...or within this many seconds, whichever is larger.
    public var offsetMinTolerance = 0.05
    /// Frame metrics sample the notes every this many seconds.
    public var frameHop = 0.01

    /// mir_eval's defaults and a 10 ms frame grid.
    public init() {}
}

/// Precision, recall and F1 of note matching, with the counts they come from.
public struct NoteScore: Codable, Sendable, Equatable {
    /// Matched / estimated (0 when nothing was estimated).
    public var precision: Double
    /// Matched / reference (0 when the reference is empty).
    public var recall: Double
    /// Harmonic mean of precision and recall (0 when both are 0).
    public var f1: Double
    /// Size of the maximum one-to-one matching.
    public var matched: Int
    /// Estimated notes.
    public var estimated: Int
    /// Reference notes.
    public var reference: Int

    init(matched: Int, estimated: Int, reference: Int) {
        self.matched = matched
        self.estimated = estimated
        self.reference = reference
        // mir_eval returns zeros when either side is empty.
        precision = estimated == 0 || reference == 0 ? 0 : Double(matched) / Double(estimated)
        recall = estimated == 0 || reference == 0 ? 0 : Double(matched) / Double(reference)
        f1 = harmonicMean(precision, recall)
    }
}

/// Precision, recall and F1 over (frame, pitch) pairs.
public struct FrameScore: Codable, Sendable, Equatable {
    /// True positives / estimated pairs.
    public var precision: Double
    /// True positives / reference pairs.
    public var recall: Double
    /// Harmonic mean of precision and recall.
    public var f1: Double
    /// Pairs sounding in both.
    public var truePositives: Int
    /// Pairs sounding in the estimate.
    public var estimated: Int
    /// Pairs sounding in the reference.
    public var reference: Int
}

/// The note and frame metrics of one estimate against its reference.
public struct TranscriptionScore: Codable, Sendable, Equatable {
    /// Onset and pitch (offsets ignored).
    public var note: NoteScore
    /// Onset, pitch and offset.
    public var noteWithOffset: NoteScore
    /// Frame-level multi-pitch.
    public var frame: FrameScore
}

func harmonicMean(_ a: Double, _ b: Double) -> Double { a + b == 0 ? 0 : 2 * a * b / (a + b) }

/// Transcription metrics that agree with `mir_eval.transcription` and `mir_eval.multipitch`.
public enum TranscriptionMetrics {
    /// Scores `estimate` against `reference`.
    public static func score(estimate: [Note], reference: [Note], parameters: MetricParameters = MetricParameters()) -> TranscriptionScore {
        TranscriptionScore(
            note: NoteScore(matched: matchCount(estimate: estimate, reference: reference, offsets: false, parameters: parameters),
                            estimated: estimate.count, reference: reference.count),
            noteWithOffset: NoteScore(matched: matchCount(estimate: estimate, reference: reference, offsets: true, parameters: parameters),
                                      estimated: estimate.count, reference: reference.count),
            frame: frameScore(estimate: estimate, reference: reference, hop: parameters.frameHop))
    }

    /// mir_eval rounds time differences to 4 decimals (numpy.around: scale, round half to even,
    /// unscale) before comparing them with a tolerance, so that 50 ms apart counts as within 50 ms.
    static func rounded(_ distance: Double) -> Double { (distance * 1e4).rounded(.toNearestOrEven) / 1e4 }

    /// The size of a maximum matching between reference and estimated notes, each used at most
    /// once: same pitch (within 50 cents, i.e. equal MIDI numbers), onsets within the tolerance,
    /// and with `offsets` offsets within max(ratio x reference duration, minimum).
    public static func matchCount(estimate: [Note], reference: [Note], offsets: Bool, parameters: MetricParameters) -> Int {
        guard !estimate.isEmpty, !reference.isEmpty else { return 0 }
        // Candidate estimates of each reference note; estimates sorted by onset are searched by bisection.
        let order = estimate.indices.sorted { estimate[$0].onset < estimate[$1].onset }
        let onsets = order.map { estimate[$0].onset }
        var candidates = [[Int]](repeating: [], count: reference.count)
        for (r, ref) in reference.enumerated() {
            // Rounding can admit a distance a hair above the tolerance: search a slightly wider window.
            let window = parameters.onsetTolerance + 1e-3
            var i = lowerBound(onsets, ref.onset - window)
            while i < onsets.count, onsets[i] <= ref.onset + window {
                let e = order[i], est = estimate[e]
                i += 1
                guard est.pitch == ref.pitch, rounded(abs(ref.onset - est.onset)) <= parameters.onsetTolerance else { continue }
                if offsets {
                    let tolerance = max(parameters.offsetRatio * (ref.offset - ref.onset), parameters.offsetMinTolerance)
                    guard rounded(abs(ref.offset - est.offset)) <= tolerance else { continue }
                }
                candidates[r].append(e)
            }
        }
        return BipartiteMatching(candidates: candidates, right: estimate.count).size
    }

    /// Frame metrics: the notes sampled at t_i = i x hop for i in 0 ..< ceil(last offset / hop) + 1,
    /// a pitch sounding at t_i when onset <= t_i < offset; each frame holds a set of pitches.
    public static func frameScore(estimate: [Note], reference: [Note], hop: Double) -> FrameScore {
        let end = (estimate + reference).map(\.offset).max()
        let frames = end.map { Int(($0 / hop).rounded(.up)) + 1 } ?? 0
        let est = PitchFrames(estimate, frames: frames, hop: hop), ref = PitchFrames(reference, frames: frames, hop: hop)
        var truePositives = 0
        for i in 0 ..< est.bits.count { truePositives += (est.bits[i] & ref.bits[i]).nonzeroBitCount }
        let precision = est.count == 0 ? 0 : Double(truePositives) / Double(est.count)
        let recall = ref.count == 0 ? 0 : Double(truePositives) / Double(ref.count)
        return FrameScore(precision: precision, recall: recall, f1: harmonicMean(precision, recall),
                          truePositives: truePositives, estimated: est.count, reference: ref.count)
    }

    /// The paper's step accuracy: the fraction of steps whose predicted label equals the reference's.
    public static func stepAccuracy<Label: Equatable>(_ predicted: [Label], _ reference: [Label]) -> Double {
        guard !predicted.isEmpty else { return 0 }
        precondition(predicted.count == reference.count)
        return Double(zip(predicted, reference).filter { $0 == $1 }.count) / Double(predicted.count)
    }

    static func lowerBound(_ sorted: [Double], _ value: Double) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// A set of MIDI pitches (0...127) per frame, as two 64-bit words a frame.
struct PitchFrames {
    var bits: [UInt64]
    var count = 0

    init(_ notes: [Note], frames: Int, hop: Double) {
        bits = [UInt64](repeating: 0, count: frames * 2)
        // The first frame whose time t = Double(i) * hop (computed exactly so) is at or after `seconds`.
        func firstFrame(atOrAfter seconds: Double) -> Int {
            var i = max(0, Int((seconds / hop).rounded(.up)))
            while i > 0, Double(i - 1) * hop >= seconds { i -= 1 }
            while Double(i) * hop < seconds { i += 1 }
            return i
        }
        for note in notes where (0 ... 127).contains(note.pitch) {
            let word = note.pitch / 64, bit = UInt64(1) << UInt64(note.pitch % 64)
            for i in firstFrame(atOrAfter: note.onset) ..< min(firstFrame(atOrAfter: note.offset), frames) { bits[i * 2 + word] |= bit }
        }
        count = bits.reduce(0) { $0 + $1.nonzeroBitCount }
    }
}

/// A maximum bipartite matching by augmenting paths (Kuhn's algorithm; Hopcroft-Karp would be
/// asymptotically faster, but note graphs are sparse and small).
struct BipartiteMatching {
    /// Matched pairs.
    let size: Int

    /// Matches left vertices (`candidates.count`) to right vertices 0 ..< right along the given edges.
    init(candidates: [[Int]], right: Int) {
        var owner = [Int](repeating: -1, count: right)  // right vertex -> left vertex
        var size = 0
        var visited = [Int](repeating: -1, count: right)
        for start in candidates.indices where !candidates[start].isEmpty {
            // Iterative depth-first search for an augmenting path from `start`.
            var stack: [(left: Int, next: Int)] = [(start, 0)]
            var via: [Int] = []  // right vertex taken at each stack level
            var found = false
            while let top = stack.last, !found {
                let edges = candidates[top.left]
                if top.next == edges.count {
                    stack.removeLast()
                    if !via.isEmpty { via.removeLast() }
                    continue
                }
                stack[stack.count - 1].next += 1
                let r = edges[top.next]
                guard visited[r] != start else { continue }
                visited[r] = start
                via.append(r)
                if owner[r] == -1 {
                    found = true
                } else {
                    stack.append((owner[r], 0))
                }
            }
            if found {
                // Flip the path: stack level i's left vertex takes via[i].
                for (level, r) in via.enumerated() { owner[r] = stack[level].left }
                size += 1
            }
        }
        self.size = size
    }
}

/// What `infer score` prints: the metrics of one estimate file against one reference file.
public struct ScoreReport: Codable, Sendable, Equatable {
    /// The estimate file.
    public var estimate: String
    /// The reference file.
    public var reference: String
    /// Notes by onset and pitch.
    public var note: NoteScore
    /// Notes by onset, pitch and offset.
    public var noteWithOffset: NoteScore
    /// Frame multi-pitch scores.
    public var frame: FrameScore
    /// The tolerances.
    public var parameters: MetricParameters

    /// Scores `estimated` (read from `estimate`) against `referenced` (read from `reference`).
    public init(estimate: String, reference: String, estimated: [Note], referenced: [Note], parameters: MetricParameters = MetricParameters()) {
        let score = TranscriptionMetrics.score(estimate: estimated, reference: referenced, parameters: parameters)
        self.estimate = estimate
        self.reference = reference
        note = score.note
        noteWithOffset = score.noteWithOffset
        frame = score.frame
        self.parameters = parameters
    }

    /// Pretty, key-sorted JSON.
    public func encoded() throws -> Data {
        try prettyJSON()
    }

    /// A three-row table of precision, recall and F1.
    public var table: String {
        // Padded in Swift: `%-18@` does not pad on Linux's Foundation.
        func row(_ name: String, _ figures: String, _ counts: String) -> String {
            name.padding(toLength: 18, withPad: " ", startingAt: 0) + figures + "   " + counts + "\n"
        }
        func figures(_ p: Double, _ r: Double, _ f: Double) -> String { String(format: "%10.4f %7.4f %7.4f", p, r, f) }
        var text = row("metric", " precision  recall      F1", "(matched / est / ref)")
        for (name, s) in [("note (onset)", note), ("note with offset", noteWithOffset)] {
            text += row(name, figures(s.precision, s.recall, s.f1), "(\(s.matched) / \(s.estimated) / \(s.reference))")
        }
        text += row("frame", figures(frame.precision, frame.recall, frame.f1),
                    "(\(frame.truePositives) / \(frame.estimated) / \(frame.reference) pitch-frames of 10 ms)")
        return text
    }
}
