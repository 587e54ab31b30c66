/// Generated music for the MUS category: scales, arpeggios, melodies over an accompaniment and
/// chord progressions, in random keys and tempos, some with the sustain pedal and tempo changes.
extension Composer {
    /// The kinds of piece, cycled through by piece number.
    public static let musicKinds = ["scales", "arpeggios", "melody", "chords"]

    /// Scale steps of the major and harmonic minor modes.
    static let modes: [(name: String, steps: [Int])] = [("major", [0, 2, 4, 5, 7, 9, 11]), ("minor", [0, 2, 3, 5, 7, 8, 11])]

    /// Chord progressions as scale degrees (0 = tonic), one chord a bar.
    static let progressions: [[Int]] = [[0, 3, 4, 0], [0, 5, 3, 4], [0, 3, 0, 4], [5, 3, 0, 4], [0, 1, 4, 0]]

    /// The name of piece number `number` (1-based), e.g. `scales_01`.
    public static func musicName(_ number: Int) -> String {
        let kind = musicKinds[(number - 1) % musicKinds.count]
        return kind + "_" + (number < 10 ? "0" : "") + String(number)
    }

    /// Piece number `number` played on `instrument`.
    public func music(number: Int, bars: Int, instrument: Instrument) -> Piece {
        let name = Self.musicName(number)
        let stem = MAPSName.musicStem(piece: name, instrument: instrument.code)
        var rng = generator(stem)
        let mode = Self.modes.randomElement(using: &rng)!
        let tonic = 48 + Int.random(in: 0 ..< 12, using: &rng)  // C3...B3
        let bpm = Int.random(in: 72 ... 144, using: &rng)
        let progression = Self.progressions.randomElement(using: &rng)!
        let q = Self.division, bar = 4 * q
        let lead = q / 2  // a short silence before the first note
        // Pitch of scale degree `d` (any integer) above `base`.
        func pitch(_ d: Int, base: Int = tonic) -> Int {
            let octave = Int((Double(d) / 7).rounded(.down))
            return base + 12 * octave + mode.steps[d - 7 * octave]
        }
        func velocity(_ around: Int) -> Int { max(1, min(127, around + Int.random(in: -8 ... 8, using: &rng))) }
        let loud = Int.random(in: 50 ... 95, using: &rng)
        var presses: [TickPress] = []
        var pedal: [(down: Int, up: Int)] = []
        let usePedal: Bool

        switch name.split(separator: "_")[0] {
        case "scales":
            usePedal = false
            let span = 14 + 7 * Int.random(in: 0 ... 1, using: &rng)  // two or three octaves
            let up = Array(0 ... span), path = up + up.reversed().dropFirst()
            let step = q / 2
            for (i, d) in path.enumerated() where lead + i * step < lead + bars * bar {
                let t = lead + i * step
                presses.append(TickPress(start: t, end: t + step - 20, pitch: pitch(d, base: tonic + 12), velocity: velocity(loud)))
            }
            for b in 0 ..< bars {
                presses.append(TickPress(start: lead + b * bar, end: lead + b * bar + bar - 30, pitch: tonic - 12, velocity: velocity(loud - 10), track: 2))
            }
        case "arpeggios":
            usePedal = true
            let step = q / 4
            for b in 0 ..< bars {
                let degree = progression[b % progression.count]
                let chord = [0, 2, 4, 7, 9, 11, 14, 11, 9, 7, 4, 2, 0, 2, 4, 7].map { pitch(degree + $0, base: tonic - 12) }
                for (i, p) in chord.enumerated() {
                    let t = lead + b * bar + i * step
                    presses.append(TickPress(start: t, end: t + step - 10, pitch: p, velocity: velocity(loud), track: i < 8 ? 2 : 1))
                }
            }
        case "melody":
            usePedal = Bool.random(using: &rng)
            var degree = 7 + Int.random(in: 0 ... 4, using: &rng)
            for b in 0 ..< bars {
                let chordDegree = progression[b % progression.count]
                var t = lead + b * bar
                while t < lead + (b + 1) * bar {
                    let length = [q / 2, q, q, 2 * q].randomElement(using: &rng)!
                    let end = min(t + length, lead + (b + 1) * bar)
                    degree = max(3, min(17, degree + Int.random(in: -2 ... 2, using: &rng)))
                    presses.append(TickPress(start: t, end: end - 15, pitch: pitch(degree), velocity: velocity(loud + 10)))
                    t = end
                }
                for (i, d) in [0, 4, 2, 4, 0, 4, 2, 4].enumerated() {  // Alberti bass
                    let s = lead + b * bar + i * q / 2
                    presses.append(TickPress(start: s, end: s + q / 2 - 15, pitch: pitch(chordDegree + d, base: tonic - 12), velocity: velocity(loud - 15), track: 2))
                }
            }
        default:  // chords: block chords, two a bar
            usePedal = true
            for b in 0 ..< bars {
                let degree = progression[b % progression.count]
                for half in 0 ..< 2 {
                    let t = lead + b * bar + half * 2 * q
                    let end = t + 2 * q - (usePedal ? q : 20)
                    for d in [0, 2, 4] { presses.append(TickPress(start: t, end: end, pitch: pitch(degree + d), velocity: velocity(loud))) }
                    presses.append(TickPress(start: t, end: end, pitch: pitch(degree, base: tonic - 24), velocity: velocity(loud), track: 2))
                }
            }
        }
        if usePedal {
            // Syncopated (legato) pedalling: up just after each bar line, down again a little later.
            for b in 0 ..< bars {
                let down = lead + b * bar + q / 4
                pedal.append((down, lead + (b + 1) * bar + q / 16))
            }
        }
        var tempos = [(tick: 0, tempo: 60_000_000 / bpm)]
        if Bool.random(using: &rng) {  // ritardando over the last bar, one change a beat
            for beat in 0 ..< 4 {
                tempos.append((lead + (bars - 1) * bar + beat * q, 60_000_000 / bpm * (100 + 12 * (beat + 1)) / 100))
            }
        }
        return Piece(stem: stem, folder: "\(instrument.code)/MUS", program: instrument.program, division: Self.division,
                     tempos: tempos, presses: presses, pedal: pedal, tail: 1.0, style: style(&rng))
    }
}
