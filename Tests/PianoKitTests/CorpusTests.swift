import Foundation
import Testing
@testable import PianoKit

@Suite struct CorpusPlanTests {
    let demo = CorpusPlan.pieces(size: .demo, seed: 1, instruments: Instrument.fluidR3, categories: Set(CorpusPlan.categories))

    @Test func demoCoversEveryKeyAtTwoLoudnessesForBothInstruments() {
        for instrument in Instrument.fluidR3 {
            let isolated = demo.filter { $0.stem.hasPrefix("MAPS_ISOL_NO_") && $0.stem.hasSuffix(instrument.code) }
            for code in ["P", "F"] {
                let pitches = Set(isolated.compactMap { piece -> Int? in
                    let name = MAPSName(stem: piece.stem)
                    return name.loudness == code && name.sustain == false ? name.pitch : nil
                })
                #expect(pitches == Set(pianoKeys))
            }
        }
        #expect(Set(demo.map(\.stem)).count == demo.count)
    }

    @Test func stemsAndFoldersFollowMAPS() {
        for piece in demo {
            let name = MAPSName(stem: piece.stem)
            #expect(name.category != "other", "\(piece.stem)")
            #expect(piece.folder.hasPrefix(name.instrument! + "/" + name.category), "\(piece.folder)")
            #expect(piece.notes.allSatisfy { pianoKeys.contains($0.pitch) && $0.offset > $0.onset }, "\(piece.stem)")
            #expect(piece.duration > (piece.notes.map(\.offset).max() ?? 0))
        }
        let rand = demo.first { $0.stem.hasPrefix("MAPS_RAND_P5") }!
        #expect(rand.presses.count == 5 && rand.folder.hasSuffix("/P5"))
        let ucho = demo.first { $0.stem.hasPrefix("MAPS_UCHO_C0-4-7_") }!
        let pitches = ucho.presses.map(\.pitch).sorted()
        #expect(pitches.map { $0 - pitches[0] } == [0, 4, 7])
    }

    @Test func samePieceWhateverElseIsPlanned() {
        let alone = Composer(seed: 1).music(number: 3, bars: 4, instrument: Instrument.fluidR3[0])
        let inPlan = demo.first { $0.stem == alone.stem }!
        #expect(alone.notes == inPlan.notes)
        let otherSeed = Composer(seed: 2).music(number: 3, bars: 4, instrument: Instrument.fluidR3[0])
        #expect(otherSeed.notes != alone.notes)
    }

    /// The corpus's txt is computed from the composed presses; its MIDI file, read back, must say the same.
    @Test func everyPieceMIDIReadsBackAsItsNoteList() throws {
        var formats = Set<Int>(), runningStatus = Set<Bool>(), tempoChanges = 0, pedalled = 0
        for piece in demo {
            let bytes = MIDIWriter.encode(piece.midiFile, runningStatus: piece.style.runningStatus)
            let read = MIDIPerformance(try MIDIReader.parse(bytes)).notes(sustain: true)
            let expected = piece.notes
            #expect(read.count == expected.count, "\(piece.stem)")
            for (a, b) in zip(read, expected) {
                #expect(a.pitch == b.pitch && a.velocity == b.velocity && abs(a.onset - b.onset) < 1e-9 && abs(a.offset - b.offset) < 1e-9, "\(piece.stem)")
            }
            formats.insert(piece.style.format)
            runningStatus.insert(piece.style.runningStatus)
            if piece.tempos.count > 1 { tempoChanges += 1 }
            if !piece.pedal.isEmpty { pedalled += 1 }
        }
        // The corpus exercises every form the reader must handle.
        #expect(formats == [0, 1] && runningStatus == [false, true] && tempoChanges > 0 && pedalled > 10)
    }
}
