/// How large a corpus to render.
public enum CorpusSize: String, Sendable, CaseIterable, Codable {
    /// A few minutes of audio per instrument: every key at two loudnesses plus a few chords and pieces. Renders in seconds.
    case demo
    /// Every key at three loudnesses with and without pedal, 60 random and 64 usual chords, 24 pieces per instrument.
    case full
}

/// The list of pieces a corpus of a given size holds.
public enum CorpusPlan {
    /// Every piece for `size`, for each of `instruments`, restricted to `categories`.
    public static func pieces(size: CorpusSize, seed: UInt64, instruments: [Instrument], categories: Set<String>) -> [Piece] {
        let composer = Composer(seed: seed)
        var pieces: [Piece] = []
        for instrument in instruments {
            if categories.contains("ISOL") {
                for pitch in pianoKeys {
                    switch size {
                    case .demo:
                        for code in ["P", "F"] { pieces.append(composer.isolated(pitch: pitch, loudness: code, sustain: false, instrument: instrument)) }
                        if pitch % 8 == 0 { pieces.append(composer.isolated(pitch: pitch, loudness: "M", sustain: true, instrument: instrument)) }
                    case .full:
                        for code in ["P", "M", "F"] {
                            for sustain in [false, true] { pieces.append(composer.isolated(pitch: pitch, loudness: code, sustain: sustain, instrument: instrument)) }
                        }
                    }
                }
            }
            if categories.contains("RAND") {
                let perPolyphony = size == .demo ? 1 : 10
                for polyphony in 2 ... 7 {
                    for n in 1 ... perPolyphony {
                        let range = n % 2 == 1 ? 21 ... 108 : 36 ... 95
                        let velocities = n % 3 == 0 ? 60 ... 68 : 32 ... 96
                        pieces.append(composer.randomChord(polyphony: polyphony, range: range, velocities: velocities, sustain: n % 4 == 0, index: n, instrument: instrument))
                    }
                }
            }
            if categories.contains("UCHO") {
                let chords = size == .demo ? Array(Composer.usualChords.prefix(6)) : Composer.usualChords
                for (c, chord) in chords.enumerated() {
                    for n in 1 ... (size == .demo ? 1 : 4) {
                        let velocities = (n + c) % 3 == 0 ? 60 ... 68 : 32 ... 96
                        pieces.append(composer.usualChord(chord, velocities: velocities, sustain: (n + c) % 4 == 0, index: n, instrument: instrument))
                    }
                }
            }
            if categories.contains("MUS") {
                let count = size == .demo ? 4 : 24
                for number in 1 ... count {
                    pieces.append(composer.music(number: number, bars: size == .demo ? 4 : 8, instrument: instrument))
                }
            }
        }
        return pieces
    }

    /// The MAPS categories a corpus can hold.
    public static let categories = ["ISOL", "RAND", "UCHO", "MUS"]
}
