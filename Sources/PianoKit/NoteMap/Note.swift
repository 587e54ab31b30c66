/// A sounding note: when it starts and stops (seconds), which MIDI key, and how hard it was struck.
public struct Note: Codable, Sendable, Equatable, Hashable {
    /// Start time in seconds.
    public var onset: Double
    /// End time in seconds, sustain pedal included where it applies.
    public var offset: Double
    /// MIDI note number (60 = middle C).
    public var pitch: Int
    /// MIDI velocity 1...127, or nil when the source (a MAPS txt) has none.
    public var velocity: Int?

    /// The scientific name of MIDI pitch `pitch`: 60 is "C4", 21 "A0", 61 "C#4" (sharps only).
    public static func name(ofPitch pitch: Int) -> String {
        let names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
        return names[((pitch % 12) + 12) % 12] + String(Int((Double(pitch) / 12).rounded(.down)) - 1)
    }

    /// Creates a note.
    public init(onset: Double, offset: Double, pitch: Int, velocity: Int? = nil) {
        self.onset = onset
        self.offset = offset
        self.pitch = pitch
        self.velocity = velocity
    }

    /// Orders notes by onset, then pitch, then offset: the order of a MAPS txt.
    public static func byOnset(_ a: Note, _ b: Note) -> Bool {
        (a.onset, a.pitch, a.offset) < (b.onset, b.pitch, b.offset)
    }
}

/// The 88 keys of a piano as MIDI note numbers: A0 (21) to C8 (108).
public let pianoKeys: ClosedRange<Int> = 21 ... 108
