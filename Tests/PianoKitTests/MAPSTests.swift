import Testing
@testable import PianoKit

@Suite struct MAPSNoteListTests {
    @Test func toleratesCRLFBlankLinesAndTrailingSpaces() throws {
        let text = "OnsetTime\tOffsetTime\tMidiPitch\r\n0.5\t1.25\t60  \r\n\r\n   \n0.25\t2\t21\t\r\n\n"
        let notes = try MAPSNoteList.parse(text, path: "x.txt")
        #expect(notes == [Note(onset: 0.25, offset: 2, pitch: 21), Note(onset: 0.5, offset: 1.25, pitch: 60)])
    }

    @Test func formatThenParseIsTheSame() throws {
        let notes = [Note(onset: 0.1, offset: 0.2, pitch: 30), Note(onset: 1.123456, offset: 2.5, pitch: 108)]
        let text = MAPSNoteList.format(notes)
        #expect(text.hasPrefix("OnsetTime\tOffsetTime\tMidiPitch\n0.100000\t0.200000\t30\n"))
        #expect(try MAPSNoteList.parse(text, path: "x") == notes)
    }

    @Test(arguments: [
        ("OnsetTime\tOffsetTime\tMidiPitch\n0.5\t1.0\n", 2, "expected 3"),
        ("OnsetTime\tOffsetTime\tMidiPitch\n0.5\t1.0\t60\nabc\t1\t60\n", 3, "onset 'abc'"),
        ("OnsetTime\tOffsetTime\tMidiPitch\n1.5\t1.0\t60\n", 2, "before onset"),
        ("OnsetTime\tOffsetTime\tMidiPitch\n0.5\t1.0\t200\n", 2, "pitch '200'"),
        ("Time\tPitch\n", 1, "expected the header"),
    ] as [(String, Int, String)])
    func malformedLineNamesFileAndLine(text: String, line: Int, expected: String) {
        #expect {
            _ = try MAPSNoteList.parse(text, path: "bad.txt")
        } throws: { error in
            let e = error as? FileError
            return e?.path == "bad.txt" && e?.line == line && e!.message.contains(expected)
        }
    }
}

@Suite struct MAPSNameTests {
    @Test func isolatedNote() {
        let name = MAPSName(stem: "MAPS_ISOL_NO_F_S1_M60_AkPnBcht")
        #expect(name.category == "ISOL" && name.playStyle == "NO" && name.loudness == "F" && name.sustain == true && name.pitch == 60 && name.instrument == "AkPnBcht")
        #expect(MAPSName(stem: "MAPS_ISOL_NO_M_S0_M21_X").loudness == "M")
    }

    @Test func randomAndUsualChords() {
        let rand = MAPSName(stem: "MAPS_RAND_P2_M21-108_I32-96_S0_n3_AkPnBcht")
        #expect(rand.category == "RAND" && rand.polyphony == 2 && rand.pitchRange == [21, 108] && rand.velocityRange == [32, 96] && rand.index == 3)
        let ucho = MAPSName(stem: "MAPS_UCHO_C0-5-9_I32-96_S0_n13_AkPnBcht")
        #expect(ucho.category == "UCHO" && ucho.chord == [0, 5, 9] && ucho.index == 13 && ucho.sustain == false)
    }

    @Test func musicAndOther() {
        let mus = MAPSName(stem: "MAPS_MUS-chpn_op25_e1_ENSTDkCl")
        #expect(mus.category == "MUS" && mus.piece == "chpn_op25_e1" && mus.instrument == "ENSTDkCl")
        #expect(MAPSName(stem: "my_recording").category == "other")
        #expect(MAPSName(stem: "MAPS_ISOL_NO_F_S0_Mxx_AkPn").category == "other")
    }

    @Test func stemsRoundTrip() {
        let stem = MAPSName.randomChordStem(polyphony: 4, pitchRange: 36 ... 95, velocityRange: 60 ... 68, sustain: true, index: 2, instrument: "FR3Grand")
        #expect(stem == "MAPS_RAND_P4_M36-95_I60-68_S1_n2_FR3Grand")
        #expect(MAPSName(stem: stem).polyphony == 4)
    }
}
