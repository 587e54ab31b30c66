import Foundation

/// What an output head predicts; each kind's behaviour is one `HeadRule`.
public enum HeadKind: String, Sendable, Codable, CaseIterable {
    /// The paper's 128-way softmax: the MIDI note of the step (0 = none), from `<split>_labels`.
    case single
    /// 88 sigmoids: the keys (MIDI 21...108) sounding at the step, from `<split>_notes`.
    case frame
    /// 88 sigmoids: the keys whose note starts at the step, from `<split>_onsets`.
    case onset
    /// 88 sigmoids: the keys whose note ended just before the step (sounding at the previous step
    /// and not at this one, or struck again at it), from `<split>_offsets`.
    case offset

    /// The kind's behaviour.
    public var rule: any HeadRule {
        switch self {
        case .single: SingleLabelRule()
        case .frame: KeySetRule(kind: .frame)
        case .onset: KeySetRule(kind: .onset)
        case .offset: KeySetRule(kind: .offset)
        }
    }

    /// Output units.
    public var outputs: Int { rule.outputs }
}

/// The targets of a batch of examples, every kind a head may train on.
public struct TargetBatch: Sendable {
    /// Examples.
    public var count = 0
    /// The 128-way class per example.
    public var labels: [Int] = []
    /// Sounding keys, count x 88, 0 or 1.
    public var frames: [Float] = []
    /// Starting keys, count x 88, 0 or 1 (empty when the archive has none).
    public var onsets: [Float] = []
    /// Keys whose note ended just before the step, count x 88, 0 or 1 (empty when the archive has none).
    public var offsets: [Float] = []

    /// An empty batch.
    public init() {}

    /// Appends one example's targets (`onsets` and `offsets` may be empty: an archive without them).
    public mutating func append(label: Int, notes: ArraySlice<UInt8>, onsets: ArraySlice<UInt8>, offsets: ArraySlice<UInt8> = []) {
        count += 1
        labels.append(label)
        frames += notes.map(Float.init)
        self.onsets += onsets.map(Float.init)
        self.offsets += offsets.map(Float.init)
    }
}

/// What one head does: its size, its activation, its loss against its target, its decisions and
/// how they are scored. One value per `HeadKind`.
public protocol HeadRule: Sendable {
    /// The kind.
    var kind: HeadKind { get }
    /// Output units per example.
    var outputs: Int { get }
    /// Probabilities from one example's logits (softmax or sigmoids), computed in double.
    func probabilities(_ logits: ArraySlice<Float>) -> [Float]
    /// The mean loss over the batch and its gradient with respect to the logits.
    func loss(_ logits: [Float], targets: TargetBatch) -> (loss: Double, gradient: [Float])
    /// Each example's decision: the class (single) or the keys' indices 0..<88 above 0.5.
    func decisions(_ logits: [Float], count: Int) -> [[Int]]
    /// The true decision of example `i` of `targets`.
    func truth(_ targets: TargetBatch, example i: Int) -> [Int]
    /// Adds one example's decision against its truth to `score`.
    func score(_ decided: [Int], truth: [Int], into score: inout HeadScore)
}

extension HeadRule {
    /// The probabilities of `count` examples, back to back.
    public func probabilities(_ logits: [Float], count: Int) -> [Float] {
        (0 ..< count).flatMap { probabilities(logits[$0 * outputs ..< ($0 + 1) * outputs]) }
    }

    /// Scores a batch; returns the number of examples decided exactly right.
    @discardableResult
    public func score(_ logits: [Float], targets: TargetBatch, into score: inout HeadScore) -> Int {
        let before = score.correct
        for (i, decided) in decisions(logits, count: targets.count).enumerated() {
            self.score(decided, truth: truth(targets, example: i), into: &score)
        }
        return score.correct - before
    }
}

/// The paper's head: softmax cross-entropy over 128 classes.
public struct SingleLabelRule: HeadRule {
    public var kind: HeadKind { .single }
    public var outputs: Int { 128 }

    public func probabilities(_ logits: ArraySlice<Float>) -> [Float] {
        let peak = logits.max()!
        let exps = logits.map { Double(exp($0 - peak)) }
        let total = exps.reduce(0, +)
        return exps.map { Float($0 / total) }
    }

    public func loss(_ logits: [Float], targets: TargetBatch) -> (loss: Double, gradient: [Float]) {
        Loss.softmaxCrossEntropy(logits, labels: targets.labels, classes: outputs)
    }

    public func decisions(_ logits: [Float], count: Int) -> [[Int]] {
        (0 ..< count).map { n in
            let row = logits[n * outputs ..< (n + 1) * outputs]
            return [row.indices.max { row[$0] < row[$1] }! - n * outputs]
        }
    }

    public func truth(_ targets: TargetBatch, example i: Int) -> [Int] { [targets.labels[i]] }

    /// Exact class; wrong ones are sorted into a semitone off, whole octaves off, or note/silence confusions.
    public func score(_ decided: [Int], truth: [Int], into score: inout HeadScore) {
        score.count += 1
        guard decided != truth else { score.correct += 1; return }
        let guess = decided[0], label = truth[0]
        if guess == 0 || label == 0 { score.silenceErrors += 1 }
        else if abs(guess - label) == 1 { score.semitoneErrors += 1 }
        else if abs(guess - label) % 12 == 0 { score.octaveErrors += 1 }
    }
}

/// A head of 88 independent sigmoids (one per key) with binary cross-entropy summed over keys:
/// sounding keys (`frame`), starting keys (`onset`) or ending keys (`offset`).
public struct KeySetRule: HeadRule {
    public let kind: HeadKind
    /// Weight of the positive (sounding or starting) term of the loss, 1 = plain cross-entropy.
    public var positiveWeight = 1.0

    /// A rule of `kind` (frame, onset or offset).
    public init(kind: HeadKind, positiveWeight: Double = 1) {
        self.kind = kind
        self.positiveWeight = positiveWeight
    }
    public var outputs: Int { pianoKeys.count }

    public func probabilities(_ logits: ArraySlice<Float>) -> [Float] { logits.map { Float(1 / (1 + exp(-Double($0)))) } }

    func targets(_ batch: TargetBatch) -> [Float] {
        switch kind {
        case .onset: batch.onsets
        case .offset: batch.offsets
        default: batch.frames
        }
    }

    public func loss(_ logits: [Float], targets: TargetBatch) -> (loss: Double, gradient: [Float]) {
        Loss.sigmoidCrossEntropy(logits, targets: self.targets(targets), batch: targets.count, positiveWeight: positiveWeight)
    }

    public func decisions(_ logits: [Float], count: Int) -> [[Int]] {
        (0 ..< count).map { n in (0 ..< outputs).filter { logits[n * outputs + $0] > 0 } }  // sigmoid > 0.5
    }

    public func truth(_ targets: TargetBatch, example i: Int) -> [Int] {
        let values = self.targets(targets)
        return (0 ..< outputs).filter { values[i * outputs + $0] > 0.5 }
    }

    /// Exact key set, plus (example, key) true/false positives and false negatives.
    public func score(_ decided: [Int], truth: [Int], into score: inout HeadScore) {
        score.count += 1
        if decided == truth { score.correct += 1 }
        let d = Set(decided), t = Set(truth)
        score.truePositives += d.intersection(t).count
        score.falsePositives += d.subtracting(t).count
        score.falseNegatives += t.subtracting(d).count
    }
}

/// One head's scores over a set of examples.
public struct HeadScore: Sendable, Equatable {
    /// The head.
    public var kind: HeadKind
    /// Examples scored.
    public var count = 0
    /// Examples decided exactly right (the class, or the whole key set).
    public var correct = 0
    /// Single: wrong by one semitone.
    public var semitoneErrors = 0
    /// Single: wrong by a whole number of octaves.
    public var octaveErrors = 0
    /// Single: a note where there is none, or none where there is one.
    public var silenceErrors = 0
    /// Key heads: (example, key) pairs decided and true.
    public var truePositives = 0
    /// Key heads: decided, not true.
    public var falsePositives = 0
    /// Key heads: true, not decided.
    public var falseNegatives = 0

    /// An empty score.
    public init(kind: HeadKind) { self.kind = kind }

    /// Exact accuracy (0 with no examples).
    public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }

    /// Key heads: precision, recall and F1 over (example, key) pairs (frame-level measures for `frame`).
    public var keyScores: (precision: Double, recall: Double, f1: Double) {
        let precision = truePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falsePositives)
        let recall = truePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falseNegatives)
        return (precision, recall, harmonicMean(precision, recall))
    }

    /// One line: accuracy, and the error kinds (single) or key precision/recall/F1 (key heads).
    public var summary: String {
        var line = String(format: "%@: accuracy %.4f", kind.rawValue, accuracy)
        if kind == .single {
            line += " (of \(count - correct) errors: \(semitoneErrors) off by a semitone, \(octaveErrors) by octaves, \(silenceErrors) note/silence confusions)"
        } else {
            let k = keyScores
            line += String(format: " (exact key sets); keys: precision %.4f, recall %.4f, F1 %.4f", k.precision, k.recall, k.f1)
        }
        return line
    }
}
