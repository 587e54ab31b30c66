/// Composes the corpus's recordings: isolated notes, random chords, usual chords and generated music.
///
/// Every piece is drawn from a generator seeded by the corpus seed and the piece's stem, so a
/// piece's content does not depend on which other pieces are rendered.
public struct Composer: Sendable {
    /// The corpus seed.
    public var seed: UInt64
    /// Ticks per quarter note in every file.
    static let division = 480
    /// Ticks per second at the default tempo of 120 BPM.
    static let ticksPerSecond = 960

    /// Creates a composer.
    public init(seed: UInt64) { self.seed = seed }

    /// MAPS loudness codes and the velocity range each stands for.
    public static let loudness: [(code: String, velocities: ClosedRange<Int>)] = [("P", 30 ... 45), ("M", 60 ... 75), ("F", 95 ... 115)]

    func generator(_ stem: String) -> SeededGenerator { SeededGenerator(seed: seed, name: stem) }

    func style(_ rng: inout SeededGenerator) -> MIDIStyle {
        MIDIStyle(format: Int.random(in: 0 ... 1, using: &rng), runningStatus: Bool.random(using: &rng),
                  velocityZeroNoteOff: Bool.random(using: &rng), sysex: Int.random(in: 0 ..< 4, using: &rng) == 0)
    }

    func ticks(_ seconds: Double) -> Int { Int((seconds * Double(Self.ticksPerSecond)).rounded()) }

    /// An isolated note (MAPS ISOL/NO): silence, one key held, optionally the pedal holding it longer.
    public func isolated(pitch: Int, loudness code: String, sustain: Bool, instrument: Instrument) -> Piece {
        let stem = MAPSName.isolatedStem(loudness: code, sustain: sustain, pitch: pitch, instrument: instrument.code)
        var rng = generator(stem)
        let velocities = Self.loudness.first { $0.code == code }!.velocities
        let start = ticks(Double.random(in: 0.25 ... 0.45, using: &rng))
        let hold = ticks(Double.random(in: 0.5 ... 0.9, using: &rng))
        let press = TickPress(start: start, end: start + hold, pitch: pitch, velocity: Int.random(in: velocities, using: &rng))
        var piece = Piece(stem: stem, folder: "\(instrument.code)/ISOL/NO", program: instrument.program, presses: [press], style: style(&rng))
        if sustain {
            piece.presses[0].end = start + ticks(0.3)
            piece.pedal = [(start - ticks(0.15), start + hold + ticks(Double.random(in: 0.1 ... 0.4, using: &rng)))]
        }
        return piece
    }

    /// A chord struck at once and held, as MAPS's RAND and UCHO recordings are.
    func chord(_ pitches: [Int], stem: String, folder: String, velocities: ClosedRange<Int>, sustain: Bool, instrument: Instrument, rng: inout SeededGenerator) -> Piece {
        let start = ticks(Double.random(in: 0.25 ... 0.45, using: &rng))
        let hold = ticks(Double.random(in: 0.8 ... 1.4, using: &rng))
        let presses = pitches.map { TickPress(start: start, end: start + hold, pitch: $0, velocity: Int.random(in: velocities, using: &rng)) }
        var piece = Piece(stem: stem, folder: folder, program: instrument.program, presses: presses, style: style(&rng))
        if sustain {
            for i in piece.presses.indices { piece.presses[i].end = start + ticks(0.4) }
            piece.pedal = [(start - ticks(0.15), start + hold + ticks(Double.random(in: 0.1 ... 0.4, using: &rng)))]
        }
        return piece
    }

    /// A random chord (MAPS RAND): `polyphony` distinct keys drawn from `range`, velocities from `velocities`.
    public func randomChord(polyphony: Int, range: ClosedRange<Int>, velocities: ClosedRange<Int>, sustain: Bool, index: Int, instrument: Instrument) -> Piece {
        let stem = MAPSName.randomChordStem(polyphony: polyphony, pitchRange: range, velocityRange: velocities, sustain: sustain, index: index, instrument: instrument.code)
        var rng = generator(stem)
        var pitches = Set<Int>()
        while pitches.count < polyphony { pitches.insert(Int.random(in: range, using: &rng)) }
        let folder = "\(instrument.code)/RAND/M\(range.lowerBound)-\(range.upperBound)/I\(velocities.lowerBound)-\(velocities.upperBound)/P\(polyphony)"
        return chord(pitches.sorted(), stem: stem, folder: folder, velocities: velocities, sustain: sustain, instrument: instrument, rng: &rng)
    }

    /// The usual chords of MAPS UCHO, as semitones above the root.
    public static let usualChords: [[Int]] = [
        [0, 4, 7], [0, 3, 7], [0, 3, 6], [0, 4, 8], [0, 5, 9], [0, 4, 9], [0, 3, 8], [0, 5, 8],
        [0, 4, 7, 10], [0, 3, 7, 10], [0, 4, 7, 11], [0, 3, 6, 9], [0, 7], [0, 12], [0, 24], [0, 4, 7, 12],
    ]

    /// A usual chord (MAPS UCHO) on a random root that keeps it on the keyboard.
    public func usualChord(_ intervals: [Int], velocities: ClosedRange<Int>, sustain: Bool, index: Int, instrument: Instrument) -> Piece {
        let stem = MAPSName.usualChordStem(chord: intervals, velocityRange: velocities, sustain: sustain, index: index, instrument: instrument.code)
        var rng = generator(stem)
        let root = Int.random(in: 28 ... (pianoKeys.upperBound - 6 - intervals.last!), using: &rng)
        let folder = "\(instrument.code)/UCHO/I\(velocities.lowerBound)-\(velocities.upperBound)/C\(intervals.map(String.init).joined(separator: "-"))"
        return chord(intervals.map { root + $0 }, stem: stem, folder: folder, velocities: velocities, sustain: sustain, instrument: instrument, rng: &rng)
    }
}
