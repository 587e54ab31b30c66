/// The per-step training labels of a recording, derived from its notes on a time grid.
public struct StepLabels: Codable, Sendable, Equatable {
    /// The paper's 128-way label: the highest piano key sounding at each step, 0 when none.
    public var single: [Int]
    /// The polyphonic label: every piano key (21...108) sounding at each step, ascending.
    public var multi: [[Int]]

    /// Creates labels from their arrays.
    public init(single: [Int], multi: [[Int]]) {
        self.single = single
        self.multi = multi
    }

    /// Labels `steps` steps of `grid` from `notes`: a note sounds at step k when onset <= time(k) < offset.
    ///
    /// Notes outside the piano's 88 keys are left out of both labels.
    public init(notes: [Note], grid: TimeGrid, steps: Int) {
        var sounding = [Set<Int>](repeating: [], count: steps)
        for note in notes where pianoKeys.contains(note.pitch) {
            let range = grid.steps(from: note.onset, to: note.offset).clamped(to: 0 ..< steps)
            for k in range { sounding[k].insert(note.pitch) }
        }
        multi = sounding.map { $0.sorted() }
        single = multi.map { $0.last ?? 0 }
    }

    /// The keys whose note starts at each of `steps` steps: the first step at which the note
    /// sounds by the rule above (the first k with time(k) >= onset), ascending. A note that
    /// sounds at no step (shorter than a step, or outside the recording) starts nowhere, so every
    /// onset is also a sounding key of its step.
    public static func onsets(notes: [Note], grid: TimeGrid, steps: Int) -> [[Int]] {
        var starting = [Set<Int>](repeating: [], count: steps)
        for note in notes where pianoKeys.contains(note.pitch) {
            let range = grid.steps(from: note.onset, to: note.offset).clamped(to: 0 ..< steps)
            if let first = range.first { starting[first].insert(note.pitch) }
        }
        return starting.map { $0.sorted() }
    }
}
