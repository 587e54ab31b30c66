/// What a MAPS file name says about a recording: its category, instrument and contents.
///
/// The four layouts are
/// `MAPS_ISOL_<style>_<loudness>_S<0|1>_M<pitch>_<inst>`,
/// `MAPS_RAND_P<polyphony>_M<lo>-<hi>_I<vlo>-<vhi>_S<0|1>_n<index>_<inst>`,
/// `MAPS_UCHO_C<intervals>_I<vlo>-<vhi>_S<0|1>_n<index>_<inst>` and
/// `MAPS_MUS-<piece>_<inst>`. Any other stem parses as category `other`.
public struct MAPSName: Codable, Sendable, Equatable {
    /// ISOL, RAND, UCHO, MUS or other.
    public var category: String
    /// The instrument code (last `_` field), e.g. `AkPnBcht`.
    public var instrument: String?
    /// ISOL play style: NO, LG, ST, RE, CH or TR.
    public var playStyle: String?
    /// ISOL loudness: P, M or F.
    public var loudness: String?
    /// Whether the sustain pedal is used (the S0/S1 field).
    public var sustain: Bool?
    /// ISOL: the MIDI pitch.
    public var pitch: Int?
    /// RAND: the number of notes.
    public var polyphony: Int?
    /// RAND: the lowest and highest pitch allowed.
    public var pitchRange: [Int]?
    /// RAND and UCHO: the velocity range.
    public var velocityRange: [Int]?
    /// UCHO: the chord as semitones above its root.
    public var chord: [Int]?
    /// RAND and UCHO: the index of the draw (`n`).
    public var index: Int?
    /// MUS: the piece name.
    public var piece: String?

    /// Creates a name of category `other` with no fields.
    public init(category: String = "other") { self.category = category }

    /// Parses a stem (file name without extension).
    public init(stem: String) {
        self.init()
        guard stem.hasPrefix("MAPS_") else { return }
        if stem.hasPrefix("MAPS_MUS-") {
            guard let split = stem.lastIndex(of: "_"), split > stem.index(stem.startIndex, offsetBy: 9) else { return }
            category = "MUS"
            piece = String(stem[stem.index(stem.startIndex, offsetBy: 9) ..< split])
            instrument = String(stem[stem.index(after: split)...])
            return
        }
        let fields = stem.split(separator: "_").map(String.init)
        guard fields.count >= 4 else { return }
        var parsed = MAPSName(category: fields[1])
        parsed.instrument = fields.last
        let middle = fields[2 ..< fields.count - 1]
        for field in middle {
            guard let head = field.first else { return }
            let rest = String(field.dropFirst())
            switch (parsed.category, head) {
            case ("ISOL", _) where parsed.playStyle == nil: parsed.playStyle = field
            case ("ISOL", _) where parsed.loudness == nil && ["P", "M", "F"].contains(field): parsed.loudness = field
            case (_, "S") where rest == "0" || rest == "1": parsed.sustain = rest == "1"
            case ("ISOL", "M"): guard let p = Int(rest) else { return }; parsed.pitch = p
            case ("RAND", "P"): guard let p = Int(rest) else { return }; parsed.polyphony = p
            case ("RAND", "M"): guard let r = Self.range(rest) else { return }; parsed.pitchRange = r
            case (_, "I"): guard let r = Self.range(rest) else { return }; parsed.velocityRange = r
            case ("UCHO", "C"):
                let steps = rest.split(separator: "-").compactMap { Int($0) }
                guard !steps.isEmpty, steps.count == rest.split(separator: "-").count else { return }
                parsed.chord = steps
            case (_, "n"): guard let n = Int(rest) else { return }; parsed.index = n
            default: return
            }
        }
        guard ["ISOL", "RAND", "UCHO"].contains(parsed.category) else { return }
        self = parsed
    }

    private static func range(_ text: String) -> [Int]? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        return parts.count == 2 && parts[0] <= parts[1] ? parts : nil
    }

    /// The stem of an isolated note.
    public static func isolatedStem(style: String = "NO", loudness: String, sustain: Bool, pitch: Int, instrument: String) -> String {
        "MAPS_ISOL_\(style)_\(loudness)_S\(sustain ? 1 : 0)_M\(pitch)_\(instrument)"
    }

    /// The stem of a random chord.
    public static func randomChordStem(polyphony: Int, pitchRange: ClosedRange<Int>, velocityRange: ClosedRange<Int>, sustain: Bool, index: Int, instrument: String) -> String {
        "MAPS_RAND_P\(polyphony)_M\(pitchRange.lowerBound)-\(pitchRange.upperBound)_I\(velocityRange.lowerBound)-\(velocityRange.upperBound)_S\(sustain ? 1 : 0)_n\(index)_\(instrument)"
    }

    /// The stem of a usual chord.
    public static func usualChordStem(chord: [Int], velocityRange: ClosedRange<Int>, sustain: Bool, index: Int, instrument: String) -> String {
        "MAPS_UCHO_C\(chord.map(String.init).joined(separator: "-"))_I\(velocityRange.lowerBound)-\(velocityRange.upperBound)_S\(sustain ? 1 : 0)_n\(index)_\(instrument)"
    }

    /// The stem of a piece of music.
    public static func musicStem(piece: String, instrument: String) -> String {
        "MAPS_MUS-\(piece)_\(instrument)"
    }
}
