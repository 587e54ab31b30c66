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

@Suite struct InstrumentTests {
    /// Every known instrument has a unique code, a family, and (but the synth) a source file name;
    /// none of the evaluation-only sample sets is among them.
    @Test func knownInstruments() {
        let codes = Instrument.known.map(\.code)
        #expect(Set(codes).count == codes.count)
        #expect(Instrument.known.allSatisfy { !$0.family.isEmpty && ($0.voice == .synth) == $0.source.isEmpty })
        #expect(Instrument.known.allSatisfy { Instrument.freeSources.contains($0.source) })
        #expect(Array(Instrument.known.prefix(2)) == Instrument.fluidR3)
    }

    /// A version 1 manifest's instruments (code, program, name) read as fluidsynth voices, and
    /// describe the same corpus as today's FluidR3 instruments.
    @Test func versionOneManifestReads() throws {
        let v1 = """
        {"format": "piano-corpus", "version": 1, "size": "demo", "seed": 1, "categories": ["ISOL"],
         "instruments": [{"code": "FR3Grand", "program": 0, "name": "Yamaha Grand Piano"}],
         "soundFont": "FluidR3_GM.sf2", "soundFontBytes": 5, "renderer": "x", "sampleRate": 44100, "complete": true}
        """
        let old = try JSONDecoder().decode(CorpusManifest.self, from: Data(v1.utf8))
        #expect(old.instruments[0].voice == .fluidsynth && old.augment == false && old.bassCut == 0)
        let now = CorpusManifest(size: .demo, seed: 1, instruments: [Instrument.fluidR3[0]], categories: ["ISOL"], soundFont: "FluidR3_GM.sf2",
                                 soundFontBytes: 5, renderer: "y", sampleRate: 44100, augment: false)
        #expect(now.sameContent(as: old))
        var augmented = now
        augmented.augment = true
        #expect(!augmented.sameContent(as: old))
        var cut = augmented
        cut.bassCut = 0.3
        #expect(!cut.sameContent(as: augmented))
    }

    /// The synth renders the same samples every time, and each variant differently.
    @Test func synthIsDeterministicPerVariant() {
        let piece = Composer(seed: 3).isolated(pitch: 60, loudness: "F", sustain: false, instrument: Instrument.known.first { $0.voice == .synth }!)
        let a = SynthPiano(variant: 0).render(piece), b = SynthPiano(variant: 0).render(piece), c = SynthPiano(variant: 1).render(piece)
        #expect(a == b && a != c)
        #expect(a.count == 2 * Int((piece.duration * 44100).rounded()))
        #expect(a.allSatisfy { abs($0) < 1 } && a.contains { abs($0) > 0.01 })
    }

    /// An augmentation is a function of the seed and the stem.
    @Test func augmentationIsSeeded() {
        let a = Augmentation(seed: 1, stem: "x", sampleRate: 44100), b = Augmentation(seed: 1, stem: "x", sampleRate: 44100)
        #expect(a == b)
        #expect(a != Augmentation(seed: 2, stem: "x", sampleRate: 44100) && a != Augmentation(seed: 1, stem: "y", sampleRate: 44100))
        let drawn = (0 ..< 200).map { Augmentation(seed: 1, stem: "s\($0)", sampleRate: 44100) }
        #expect(drawn.allSatisfy { abs($0.tuningCents) <= 30 && $0.gain >= 0.25 && $0.gain <= 4 })
        #expect(drawn.contains { $0.reverb == nil } && drawn.contains { $0.reverb != nil } && drawn.contains { $0.noiseSNR != nil })
    }

    /// The bass cut is drawn after everything else: a share of 0 gives no cut and the draws of
    /// before; a share of 1 a cut in range on every recording, the rest unchanged; 0.3 about 30%.
    @Test func bassCutIsDrawnLast() {
        for i in 0 ..< 200 {
            let none = Augmentation(seed: 3, stem: "s\(i)", sampleRate: 44100)
            var all = Augmentation(seed: 3, stem: "s\(i)", sampleRate: 44100, bassCutShare: 1)
            #expect(none.bassCut == nil)
            #expect(all.bassCut.map(Augmentation.bassCutRange.contains) == true)
            all.bassCut = nil
            #expect(all == none)
        }
        let cut = (0 ..< 1000).filter { Augmentation(seed: 3, stem: "s\($0)", sampleRate: 44100, bassCutShare: 0.3).bassCut != nil }.count
        #expect((240 ... 360).contains(cut))
    }

    /// A bass cut at 60 Hz takes a 30 Hz fundamental down by 24.1 dB (1 / (1 + 2^8) in power)
    /// against 1 kHz, and leaves 2 kHz against 1 kHz as it was: a sum of three sines through
    /// `apply`, each one's amplitude read from its DFT bin over the last second (the gain stage
    /// normalises the peak, so components are compared with each other).
    @Test func bassCutRemovesFundamentals() {
        let frequencies = [30.0, 1000, 2000]
        func levels(cut: Double?) -> [Double] {
            var a = Augmentation(seed: 1, stem: "x", sampleRate: 44100)
            a.equaliser = []; a.reverb = nil; a.compressor = nil; a.noiseSNR = nil; a.gain = 1; a.bassCut = cut
            let n = 2 * 44100
            var samples = [Float](repeating: 0, count: 2 * n)
            for i in 0 ..< n {
                let t = Double(i) / 44100
                samples[2 * i] = Float(frequencies.map { sin(2 * Double.pi * $0 * t) }.reduce(0, +) / 3)
                samples[2 * i + 1] = samples[2 * i]
            }
            a.apply(to: &samples, sampleRate: 44100)
            return frequencies.map { f in
                var re = 0.0, im = 0.0
                for i in n / 2 ..< n {
                    let w = 2 * Double.pi * f * Double(i) / 44100
                    re += Double(samples[2 * i]) * cos(w); im += Double(samples[2 * i]) * sin(w)
                }
                return sqrt(re * re + im * im)
            }
        }
        let clean = levels(cut: nil), cut = levels(cut: 60)
        func change(_ k: Int) -> Double { 20 * log10((cut[k] / cut[1]) / (clean[k] / clean[1])) }
        #expect(abs(change(0) + 24.1) < 0.5, "30 Hz against 1 kHz through a 60 Hz cut: \(change(0)) dB")
        #expect(abs(change(2)) < 0.05, "2 kHz against 1 kHz through a 60 Hz cut: \(change(2)) dB")
    }
}

@Suite struct BiquadTests {
    /// |H(e^jw)| of the RBJ designs: the peak's gain at its centre, unity far from it; shelves
    /// reach their gain on their side and unity on the other.
    @Test func responses() {
        func magnitude(_ f: Biquad, at frequency: Double) -> Double {
            let w = 2 * Double.pi * frequency / 44100
            func poly(_ c0: Double, _ c1: Double, _ c2: Double) -> (Double, Double) { (c0 + c1 * cos(-w) + c2 * cos(-2 * w), c1 * sin(-w) + c2 * sin(-2 * w)) }
            let (nr, ni) = poly(f.b0, f.b1, f.b2), (dr, di) = poly(1, f.a1, f.a2)
            return 20 * log10(sqrt(nr * nr + ni * ni) / sqrt(dr * dr + di * di))
        }
        let peak = Biquad.peak(frequency: 1000, gain: 6, q: 1, sampleRate: 44100)
        #expect(abs(magnitude(peak, at: 1000) - 6) < 1e-6)
        #expect(abs(magnitude(peak, at: 20)) < 0.05 && abs(magnitude(peak, at: 20000)) < 0.1)
        let low = Biquad.shelf(frequency: 200, gain: -9, high: false, sampleRate: 44100)
        #expect(abs(magnitude(low, at: 10) + 9) < 0.05 && abs(magnitude(low, at: 15000)) < 0.05)
        let high = Biquad.shelf(frequency: 4000, gain: 5, high: true, sampleRate: 44100)
        #expect(abs(magnitude(high, at: 20000) - 5) < 0.2 && abs(magnitude(high, at: 50)) < 0.05)
        // Fourth-order Butterworth: |H|^2 = 1 / (1 + (fc/f)^8), so -3.01 dB at the cut-off,
        // -24.1 dB an octave below, flat a decade above.
        let cut = Biquad.butterworthHighPass(frequency: 100, sampleRate: 44100)
        func butterworth(_ f: Double) -> Double { cut.map { magnitude($0, at: f) }.reduce(0, +) }
        for f in [50.0, 100, 1000] {
            #expect(abs(butterworth(f) + 10 * log10(1 + pow(100 / f, 8))) < 0.05, "at \(f) Hz: \(butterworth(f))")
        }
        // Filtered, a unit step settles at the DC gain (unity for a peaking band).
        var step = [Float](repeating: 1, count: 20000)
        peak.process(&step)
        #expect(abs(step.last! - 1) < 1e-3)
    }
}
