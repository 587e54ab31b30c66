/// How a recording's MIDI and MAPS txt agree: notes matched by pitch and onset, then offsets compared.
public struct CrossCheck: Codable, Sendable, Equatable {
    /// Largest onset difference (seconds) for two notes to be the same note.
    public var onsetTolerance: Double
    /// Largest offset difference (seconds) before a matched pair is reported.
    public var offsetTolerance: Double
    /// Notes found in both.
    public var matched: Int
    /// Notes in the txt with no partner in the MIDI.
    public var onlyInTxt: [Note]
    /// Notes in the MIDI with no partner in the txt.
    public var onlyInMid: [Note]
    /// Matched pairs whose offsets differ by more than the tolerance: the txt note, then the MIDI note.
    public var offsetMismatches: [[Note]]

    /// Whether the two sources agree within the tolerances.
    public var agree: Bool { onlyInTxt.isEmpty && onlyInMid.isEmpty && offsetMismatches.isEmpty }

    /// Compares the two note lists. Each txt note takes the unmatched MIDI note of the same pitch with the nearest onset.
    public init(txt: [Note], mid: [Note], onsetTolerance: Double = 0.01, offsetTolerance: Double = 0.01) {
        self.onsetTolerance = onsetTolerance
        self.offsetTolerance = offsetTolerance
        var unmatchedMid = Dictionary(grouping: mid.indices, by: { mid[$0].pitch })
        var onlyInTxt: [Note] = []
        var mismatches: [[Note]] = []
        var matched = 0
        for note in txt.sorted(by: Note.byOnset) {
            let candidates = unmatchedMid[note.pitch] ?? []
            guard let best = candidates.min(by: { abs(mid[$0].onset - note.onset) < abs(mid[$1].onset - note.onset) }),
                  abs(mid[best].onset - note.onset) <= onsetTolerance
            else {
                onlyInTxt.append(note)
                continue
            }
            unmatchedMid[note.pitch]!.removeAll { $0 == best }
            matched += 1
            if abs(mid[best].offset - note.offset) > offsetTolerance { mismatches.append([note, mid[best]]) }
        }
        self.matched = matched
        self.onlyInTxt = onlyInTxt
        self.onlyInMid = unmatchedMid.values.flatMap { $0 }.map { mid[$0] }.sorted(by: Note.byOnset)
        offsetMismatches = mismatches
    }

    /// A one-line summary of the disagreement, for warnings.
    public var summary: String {
        var parts: [String] = []
        if !onlyInTxt.isEmpty { parts.append("\(onlyInTxt.count) notes only in txt") }
        if !onlyInMid.isEmpty { parts.append("\(onlyInMid.count) notes only in mid") }
        if !offsetMismatches.isEmpty { parts.append("\(offsetMismatches.count) offsets differ by more than \(offsetTolerance) s") }
        return parts.isEmpty ? "txt and mid agree (\(matched) notes)" : "txt and mid disagree: " + parts.joined(separator: ", ") + " (\(matched) matched)"
    }

    enum CodingKeys: String, CodingKey {
        case onsetTolerance, offsetTolerance, matched, onlyInTxt, onlyInMid, offsetMismatches, agree
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(onsetTolerance, forKey: .onsetTolerance)
        try c.encode(offsetTolerance, forKey: .offsetTolerance)
        try c.encode(matched, forKey: .matched)
        try c.encode(onlyInTxt, forKey: .onlyInTxt)
        try c.encode(onlyInMid, forKey: .onlyInMid)
        try c.encode(offsetMismatches, forKey: .offsetMismatches)
        try c.encode(agree, forKey: .agree)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        onsetTolerance = try c.decode(Double.self, forKey: .onsetTolerance)
        offsetTolerance = try c.decode(Double.self, forKey: .offsetTolerance)
        matched = try c.decode(Int.self, forKey: .matched)
        onlyInTxt = try c.decode([Note].self, forKey: .onlyInTxt)
        onlyInMid = try c.decode([Note].self, forKey: .onlyInMid)
        offsetMismatches = try c.decode([[Note]].self, forKey: .offsetMismatches)
    }
}
