import Testing
@testable import PianoKit

/// Delta time (one or two bytes) then a message's bytes.
func event(_ delta: Int, _ bytes: [UInt8]) -> [UInt8] {
    (delta < 0x80 ? [UInt8(delta)] : [UInt8(0x80 | delta >> 7), UInt8(delta & 0x7F)]) + bytes
}

/// piano-midi.de's layout: each hand on its own track, both on channel 0. One hand releases a key
/// at the tick the other strikes it; the new note must keep its real length.
/// Files are built byte by byte (`SMF`), so the reader is checked against the spec, not the writer.
@Suite struct TwoHandTests {

    /// The minimal case: format 1, 480 ticks a quarter (960 ticks a second at 120 BPM),
    /// track 0 has C4 on at 480 and off at 960, track 1 has C4 on at 0 and off at 480.
    static let minimal: [UInt8] = SMF.header(format: 1, tracks: 2, division: 480)
        + SMF.track(event(480, [0x90, 60, 100]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)
        + SMF.track(event(0, [0x90, 60, 90]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)

    @Test func minimalCaseKeepsBothNotes() throws {
        let notes = MIDIPerformance(try MIDIReader.parse(Self.minimal)).notes(sustain: false)
        #expect(notes == [Note(onset: 0, offset: 0.5, pitch: 60, velocity: 90), Note(onset: 0.5, offset: 1.0, pitch: 60, velocity: 100)])
    }

    /// The same hand-over written every way a file can: the releasing hand's track first or
    /// second, note-off or velocity-0 note-on, running status, format 0 with the strike written
    /// before the release at the tick, and with the pedal down around it.
    @Test(arguments: [
        ("striking hand in track 0", SMF.header(format: 1, tracks: 2, division: 480)
            + SMF.track(event(480, [0x90, 60, 100]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)
            + SMF.track(event(0, [0x90, 60, 90]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)),
        ("releasing hand in track 0", SMF.header(format: 1, tracks: 2, division: 480)
            + SMF.track(event(0, [0x90, 60, 90]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)
            + SMF.track(event(480, [0x90, 60, 100]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)),
        ("velocity 0 and running status", SMF.header(format: 1, tracks: 3, division: 480)
            + SMF.track(SMF.endOfTrack)
            + SMF.track(event(480, [0x90, 60, 100]) + event(480, [60, 0]) + SMF.endOfTrack)
            + SMF.track(event(0, [0x90, 60, 90]) + event(480, [60, 0]) + SMF.endOfTrack)),
        ("format 0, strike before release", SMF.header(format: 0, tracks: 1, division: 480)
            + SMF.track(event(0, [0x90, 60, 90]) + event(480, [0x90, 60, 100]) + event(0, [0x80, 60, 64]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)),
        ("a third track's notes between", SMF.header(format: 1, tracks: 3, division: 480)
            + SMF.track(event(480, [0x90, 60, 100]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)
            + SMF.track(event(0, [0x90, 64, 70]) + event(480, [0x80, 64, 0]) + event(0, [0x90, 64, 70]) + event(480, [0x80, 64, 0]) + SMF.endOfTrack)
            + SMF.track(event(0, [0x90, 60, 90]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)),
    ] as [(String, [UInt8])])
    func handOverKeepsTheNewNote(name: String, bytes: [UInt8]) throws {
        let notes = MIDIPerformance(try MIDIReader.parse(bytes)).notes(sustain: false).filter { $0.pitch == 60 }
        #expect(notes == [Note(onset: 0, offset: 0.5, pitch: 60, velocity: 90), Note(onset: 0.5, offset: 1.0, pitch: 60, velocity: 100)], "\(name)")
    }

    /// With the pedal down over the hand-over the first note is cut at the second's onset, and the
    /// second lasts until the pedal comes up (tick 1440 = 1.5 s).
    @Test func handOverUnderThePedal() throws {
        let bytes = SMF.header(format: 1, tracks: 2, division: 480)
            + SMF.track(event(0, [0xB0, 64, 127]) + event(480, [0x90, 60, 100]) + event(480, [0x80, 60, 64]) + event(480, [0xB0, 64, 0]) + SMF.endOfTrack)
            + SMF.track(event(0, [0x90, 60, 90]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)
        let notes = MIDIPerformance(try MIDIReader.parse(bytes)).notes(sustain: true)
        #expect(notes == [Note(onset: 0, offset: 0.5, pitch: 60, velocity: 90), Note(onset: 0.5, offset: 1.5, pitch: 60, velocity: 100)])
    }

    /// Both hands strike one key at one tick: one stroke, ended by the first release.
    @Test func doubledStrikeIsOneNote() throws {
        let bytes = SMF.header(format: 1, tracks: 2, division: 480)
            + SMF.track(event(0, [0x90, 60, 100]) + event(480, [0x80, 60, 64]) + SMF.endOfTrack)
            + SMF.track(event(0, [0x90, 60, 90]) + event(960, [0x80, 60, 64]) + SMF.endOfTrack)
        #expect(MIDIPerformance(try MIDIReader.parse(bytes)).notes(sustain: false) == [Note(onset: 0, offset: 0.5, pitch: 60, velocity: 100)])
    }

    /// A track that writes a key's note-on and then its note-off at one tick wrote a zero-length
    /// note: it stays zero-length (it sounds at no step) instead of lasting to the next event.
    @Test func zeroLengthNoteInOneTrackStaysZeroLength() throws {
        let bytes = SMF.header(format: 0, tracks: 1, division: 480)
            + SMF.track(event(480, [0x90, 60, 100]) + event(0, [0x80, 60, 64]) + event(480, [0x90, 62, 100]) + event(480, [0x80, 62, 64]) + SMF.endOfTrack)
        let notes = MIDIPerformance(try MIDIReader.parse(bytes)).notes(sustain: false)
        #expect(notes == [Note(onset: 0.5, offset: 0.5, pitch: 60, velocity: 100), Note(onset: 1.0, offset: 1.5, pitch: 62, velocity: 100)])
    }

    /// Random two-hand pieces: for each of a few keys a chain of presses that never overlap but
    /// often touch (one ends at the tick the next begins, in either hand), on a coarse tick grid so
    /// that releases and strikes of different keys share ticks too, with tempo changes and pedal.
    static func randomPiece(_ number: Int, rng: inout SeededGenerator) -> Piece {
        var presses: [TickPress] = []
        for pitch in (0 ..< Int.random(in: 2 ... 6, using: &rng)).map({ 55 + $0 * 2 }) {
            var tick = 120 * Int.random(in: 0 ... 8, using: &rng)
            for _ in 0 ..< Int.random(in: 1 ... 12, using: &rng) {
                let length = Bool.random(using: &rng) ? 120 * Int.random(in: 1 ... 6, using: &rng) : Int.random(in: 1 ... 700, using: &rng)
                presses.append(TickPress(start: tick, end: tick + length, pitch: pitch, velocity: Int.random(in: 1 ... 127, using: &rng), track: Int.random(in: 1 ... 2, using: &rng)))
                tick += length + (Int.random(in: 0 ..< 3, using: &rng) == 0 ? 120 * Int.random(in: 1 ... 3, using: &rng) : 0)
            }
        }
        let style = MIDIStyle(format: Int.random(in: 0 ... 1, using: &rng), runningStatus: .random(using: &rng),
                              velocityZeroNoteOff: .random(using: &rng), sysex: .random(using: &rng))
        var piece = Piece(stem: "two-hands-\(number)", folder: "", program: 0, presses: presses.shuffled(using: &rng), style: style)
        if Bool.random(using: &rng) { piece.tempos.append((tick: 120 * Int.random(in: 1 ... 20, using: &rng), tempo: Int.random(in: 300_000 ... 900_000, using: &rng))) }
        if Bool.random(using: &rng) {
            let down = 120 * Int.random(in: 0 ... 10, using: &rng)
            piece.pedal = [(down: down, up: down + 120 * Int.random(in: 1 ... 10, using: &rng))]
        }
        return piece
    }

    /// The round trip: the corpus's MIDI writer (`Piece.midiFile`, `MIDIWriter`) writes each
    /// random piece; the reader must return exactly the presses and (pedal applied) notes it was
    /// written from. Also counts the hand-overs met, and the notes made zero-length (must be 0).
    @Test func writerRoundTripOfRandomTwoHandPieces() throws {
        var rng = SeededGenerator(seed: 17)
        var handOvers = 0, sameTrackHandOvers = 0, zeroLength = 0, pieces = 0, formats = Set<Int>()
        for number in 0 ..< 300 {
            let piece = Self.randomPiece(number, rng: &rng)
            let bytes = MIDIWriter.encode(piece.midiFile, runningStatus: piece.style.runningStatus)
            let performance = MIDIPerformance(try MIDIReader.parse(bytes))
            let tempo = TempoMap(piece.midiFile)
            let expected = piece.presses.map {
                KeyPress(onset: tempo.seconds(atTick: $0.start), release: tempo.seconds(atTick: $0.end), pitch: $0.pitch, velocity: $0.velocity)
            }.sorted { ($0.onset, $0.pitch) < ($1.onset, $1.pitch) }
            #expect(performance.presses == expected, "piece \(number) (format \(piece.style.format))")
            #expect(performance.notes(sustain: true) == piece.notes, "piece \(number) with the pedal")
            zeroLength += performance.notes(sustain: false).filter { $0.onset == $0.offset }.count
            for a in piece.presses {
                for b in piece.presses where b.pitch == a.pitch && b.start == a.end {
                    if a.track == b.track { sameTrackHandOvers += 1 } else { handOvers += 1 }
                }
            }
            pieces += 1
            formats.insert(piece.style.format)
        }
        print("two-hand round trip: \(pieces) pieces, \(handOvers) hand-overs between tracks, \(sameTrackHandOvers) within a track, \(zeroLength) notes made zero-length")
        #expect(zeroLength == 0)
        #expect(handOvers > 100 && sameTrackHandOvers > 100 && formats == [0, 1])
    }
}
