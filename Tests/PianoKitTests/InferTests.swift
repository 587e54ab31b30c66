import Foundation
import Testing
@testable import PianoKit

@Suite struct MetricTests {
    func note(_ onset: Double, _ offset: Double, _ pitch: Int) -> Note { Note(onset: onset, offset: offset, pitch: pitch) }

    /// 50 ms apart matches (mir_eval rounds the distance to 4 decimals first); 50.1 ms does not.
    @Test func onsetToleranceIsInclusive() {
        let reference = [note(1.0, 2.0, 60), note(3.0, 4.0, 62)]
        let estimate = [note(1.05, 2.0, 60), note(3.0501, 4.0, 62)]
        let score = TranscriptionMetrics.score(estimate: estimate, reference: reference)
        #expect(score.note.matched == 1 && score.note.precision == 0.5 && score.note.recall == 0.5 && score.note.f1 == 0.5)
    }

    /// Offsets match within max(20% of the reference duration, 50 ms).
    @Test func offsetToleranceScalesWithDuration() {
        let reference = [note(0, 1, 60), note(2, 2.1, 62), note(3, 3.1, 64)]
        let estimate = [note(0, 1.2, 60), note(2, 2.15, 62), note(3, 3.16, 64)]
        let score = TranscriptionMetrics.score(estimate: estimate, reference: reference)
        #expect(score.note.matched == 3)
        #expect(score.noteWithOffset.matched == 2)  // 3.16 is 60 ms off a 100 ms note: outside
    }

    /// Reference 0 could take either estimate and its earliest candidate (0.97) is the only one
    /// reference 1 can use: a greedy first-come matching finds 1 pair, the maximum matching 2.
    @Test func matchingIsMaximumNotGreedy() {
        let reference = [note(1.00, 2, 60), note(0.93, 2, 60)]
        let estimate = [note(1.04, 2, 60), note(0.97, 2, 60)]
        #expect(TranscriptionMetrics.matchCount(estimate: estimate, reference: reference, offsets: false, parameters: MetricParameters()) == 2)
        let far = [note(1.04, 2, 60), note(1.10, 2, 60)]  // only one estimate is near either reference
        #expect(TranscriptionMetrics.matchCount(estimate: far, reference: reference, offsets: false, parameters: MetricParameters()) == 1)
    }

    @Test func emptySidesScoreZero() {
        let some = [note(0, 1, 60)]
        let none = TranscriptionMetrics.score(estimate: [], reference: some)
        #expect(none.note.f1 == 0 && none.note.precision == 0 && none.frame.recall == 0 && none.frame.reference == 100)
        #expect(TranscriptionMetrics.score(estimate: some, reference: []).note.f1 == 0)
    }

    /// Frames every 10 ms, t_i = i / 100, sounding when onset <= t_i < offset, a set of pitches per frame.
    @Test func framesCountPitchFramePairs() {
        let reference = [note(0, 0.1, 60), note(0.05, 0.1, 64)]  // 10 + 5 pairs
        let estimate = [note(0.05, 0.2, 60), note(0.05, 0.2, 60)]  // the duplicate collapses: 15 pairs
        let frame = TranscriptionMetrics.frameScore(estimate: estimate, reference: reference, hop: 0.01)
        #expect(frame.reference == 15 && frame.estimated == 15 && frame.truePositives == 5)
        #expect(abs(frame.f1 - 1.0 / 3) < 1e-12)
    }

    @Test func stepAccuracyCountsEqualLabels() {
        #expect(TranscriptionMetrics.stepAccuracy([0, 60, 60, 61], [0, 60, 61, 61]) == 0.75)
        #expect(TranscriptionMetrics.stepAccuracy([[60, 64], []], [[60], []]) == 0.5)
    }
}

@Suite struct NoteDecoderTests {
    let grid = TimeGrid(sampleRate: 44100, hop: 441)  // 10 ms steps
    let transform = TransformParameters.pianoCQT(sampleRate: 44100, hop: 441, binsPerOctave: 12)

    /// One head's probabilities as a network's outputs.
    func outputs(_ values: [Float], _ kind: HeadKind) -> HeadOutputs {
        var outputs = HeadOutputs(steps: values.count / kind.outputs, heads: [kind])
        outputs.values[kind] = values
        return outputs
    }

    func single(_ classes: [Int]) -> [Float] {
        classes.flatMap { c -> [Float] in var row = [Float](repeating: 0.001, count: 128); row[c] = 0.9; return row }
    }

    /// Runs of one class become notes; a one-step flicker is voted away; short notes are dropped.
    @Test func singleLabelRunsBecomeNotes() {
        var decoder = NoteDecoder(heads: [.single])
        decoder.minNoteSeconds = 0.05
        let classes = [0, 0] + Array(repeating: 60, count: 10) + [62] + Array(repeating: 60, count: 10) + [0, 0, 0] + Array(repeating: 64, count: 3) + [0, 0]
        let notes = decoder.notes(outputs(single(classes), .single), grid: grid, levels: nil, transform: transform, decibelRange: 80)
        #expect(notes.count == 1)
        #expect(notes.first?.pitch == 60 && abs(notes[0].onset - 0.02) < 1e-9 && abs(notes[0].offset - 0.23) < 1e-9)
        #expect(decoder.stepClasses(single(classes))[12] == 62)  // the raw prediction keeps the flicker
    }

    /// Multi-label: a one-step gap is bridged, and a jump in level at the key's bin splits a held key in two.
    @Test func multiLabelBridgesGapsAndSplitsAtOnsets() {
        let keys = 88, steps = 40, pitch = 69, key = pitch - 21
        var probabilities = [Float](repeating: 0.01, count: steps * keys)
        for k in 5 ..< 35 where k != 12 { probabilities[k * keys + key] = 0.9 }
        let bin = transform.bins(ofPitch: pitch)!.lowerBound + 1
        var levels = [Float](repeating: 0, count: steps * transform.bins)
        for k in 5 ..< 35 { levels[k * transform.bins + bin] = k < 20 ? 0.5 : 0.7 }  // +16 dB at step 20
        let image = LevelImage(bins: transform.bins, frames: steps, levels: levels)
        var decoder = NoteDecoder(heads: [.frame])
        decoder.minNoteSeconds = 0.05
        let notes = decoder.notes(outputs(probabilities, .frame), grid: grid, levels: image, transform: transform, decibelRange: 80)
        #expect(notes.map(\.pitch) == [69, 69])
        #expect(notes.map { Int(($0.onset * 100).rounded()) } == [5, 20] && notes.map { Int(($0.offset * 100).rounded()) } == [20, 35])
        decoder.onsetRise = 0
        #expect(decoder.notes(outputs(probabilities, .frame), grid: grid, levels: image, transform: transform, decibelRange: 80).count == 1)
        #expect(decoder.stepKeys(probabilities)[6] == [69] && decoder.stepKeys(probabilities)[12] == [])
    }

    /// Onset-gated: notes start only at onset peaks and last while the frame holds, up to the key's next peak.
    @Test func onsetGatedDecoding() {
        let keys = 88, steps = 60, a4 = 69 - 21, c4 = 60 - 21, e4 = 64 - 21
        var frames = [Float](repeating: 0.01, count: steps * keys), onsets = frames
        for k in 5 ..< 35 where k != 30 { frames[k * keys + a4] = 0.9 }  // one held run with a one-step dip
        onsets[4 * keys + a4] = 0.3; onsets[5 * keys + a4] = 0.8; onsets[6 * keys + a4] = 0.6  // a peak at 5
        onsets[20 * keys + a4] = 0.7; onsets[21 * keys + a4] = 0.7  // a plateau: its first step is the peak
        for k in 40 ..< 50 { frames[k * keys + c4] = 0.9 }  // frame without onset: no note
        onsets[45 * keys + e4] = 0.9  // onset without frame: one step, shorter than the minimum
        var outputs = HeadOutputs(steps: steps, heads: [.frame, .onset])
        outputs.values = [.frame: frames, .onset: onsets]
        var decoder = NoteDecoder(heads: [.frame, .onset])
        #expect(decoder.threshold == 0.2 && decoder.onsetThreshold == NoteDecoder.defaultOnsetThreshold && decoder.onsetThreshold == 0.4)
        decoder.minNoteSeconds = 0.05
        let notes = decoder.notes(outputs, grid: grid, levels: nil, transform: transform, decibelRange: 80)
        #expect(notes.map(\.pitch) == [69, 69])
        #expect(notes.map { Int(($0.onset * 100).rounded()) } == [5, 20] && notes.map { Int(($0.offset * 100).rounded()) } == [20, 35])
        decoder.gapSteps = 0  // the dip at step 30 now ends the second note
        #expect(decoder.notes(outputs, grid: grid, levels: nil, transform: transform, decibelRange: 80).map { Int(($0.offset * 100).rounded()) } == [20, 30])
        decoder.onsetThreshold = 0.75  // only the first peak is strong enough; its note runs on to the dip
        #expect(decoder.notes(outputs, grid: grid, levels: nil, transform: transform, decibelRange: 80).map { Int(($0.offset * 100).rounded()) } == [30])
    }

    /// The notes `decoder` finds in `outputs`, each as [pitch, onset, offset] with times in
    /// hundredths of a second (steps of the 10 ms test grid).
    func noteTriples(_ decoder: NoteDecoder, _ outputs: HeadOutputs) -> [[Int]] {
        decoder.notes(outputs, grid: grid, levels: nil, transform: transform, decibelRange: 80)
            .map { [$0.pitch, Int(($0.onset * 100).rounded()), Int(($0.offset * 100).rounded())] }
    }

    /// Onset-gated decoding bridges dips of up to `onsetGatedGapSteps` (2) steps by default, frame-only
    /// decoding one step; a longer dip ends the note, and a note the gap makes long enough survives
    /// the minimum length.
    @Test func gapSteps() {
        let keys = 88, steps = 60, a4 = 69 - 21, c4 = 60 - 21
        var frames = [Float](repeating: 0.01, count: steps * keys), onsets = frames
        onsets[5 * keys + a4] = 0.9
        for k in 5 ..< 30 where k != 12 && k != 13 { frames[k * keys + a4] = 0.9 }  // a two-step dip
        onsets[40 * keys + c4] = 0.9
        for k in 40 ..< 55 where !(43 ..< 46).contains(k) { frames[k * keys + c4] = 0.9 }  // a three-step dip after 3 steps
        var outputs = HeadOutputs(steps: steps, heads: [.frame, .onset])
        outputs.values = [.frame: frames, .onset: onsets]
        var decoder = NoteDecoder(heads: [.frame, .onset])
        #expect(decoder.gapSteps == NoteDecoder.onsetGatedGapSteps && decoder.gapSteps == 2)
        #expect(NoteDecoder(heads: [.frame]).gapSteps == NoteDecoder.defaultGapSteps && NoteDecoder.defaultGapSteps == 1)
        decoder.minNoteSeconds = 0.05  // 5 steps of the 10 ms grid
        func notes() -> [[Int]] { noteTriples(decoder, outputs) }
        #expect(notes() == [[69, 5, 30]])  // A4 held across its dip; C4 ends after 3 steps, too short
        decoder.gapSteps = 3
        #expect(notes() == [[69, 5, 30], [60, 40, 55]])
        decoder.gapSteps = 1
        #expect(notes() == [[69, 5, 12]])
    }

    /// The end threshold moves a note's end back to its last step at that frame probability, but
    /// never cuts a note below the minimum length (the same notes are found).
    @Test func endThresholdMovesEnds() {
        let keys = 88, steps = 60, a4 = 69 - 21, c4 = 60 - 21
        var frames = [Float](repeating: 0.01, count: steps * keys), onsets = frames
        onsets[5 * keys + a4] = 0.9
        for k in 5 ..< 15 { frames[k * keys + a4] = 0.9 }
        for k in 15 ..< 30 { frames[k * keys + a4] = 0.3 }  // the tail after the release
        onsets[40 * keys + c4] = 0.9
        for k in 40 ..< 50 { frames[k * keys + c4] = 0.3 }  // a soft note, weak all along
        var outputs = HeadOutputs(steps: steps, heads: [.frame, .onset])
        outputs.values = [.frame: frames, .onset: onsets]
        var decoder = NoteDecoder(heads: [.frame, .onset])
        #expect(decoder.endThreshold == NoteDecoder.defaultEndThreshold && decoder.endThreshold == 0.6)
        decoder.minNoteSeconds = 0.05  // 5 steps of the 10 ms grid
        func notes() -> [[Int]] { noteTriples(decoder, outputs) }
        #expect(notes() == [[69, 5, 15], [60, 40, 45]])  // A4's tail cut; C4 kept at the minimum length
        decoder.endThreshold = nil
        #expect(notes() == [[69, 5, 30], [60, 40, 50]])
        decoder.endThreshold = 0.2  // the frame threshold: nothing moves
        #expect(notes() == [[69, 5, 30], [60, 40, 50]])
        #expect(NoteDecoder(heads: [.frame]).endThreshold == nil)
    }

    /// With an offset head: an offset peak ends a note early, and a note whose sound faded while
    /// its key was held waits up to the hold time for its offset peak.
    @Test func offsetAwareDecoding() {
        let keys = 88, steps = 70, a4 = 69 - 21, c4 = 60 - 21
        var frames = [Float](repeating: 0.01, count: steps * keys), onsets = frames, offsets = frames
        onsets[5 * keys + a4] = 0.9
        for k in 5 ..< 15 { frames[k * keys + a4] = 0.9 }  // the sound fades at 15
        offsets[39 * keys + a4] = 0.6; offsets[40 * keys + a4] = 0.8  // the damper falls at 40
        onsets[50 * keys + c4] = 0.9
        for k in 50 ..< 58 { frames[k * keys + c4] = 0.9 }
        offsets[55 * keys + c4] = 0.7  // released at 55, the sound lingers to 58
        var outputs = HeadOutputs(steps: steps, heads: [.frame, .onset, .offset])
        outputs.values = [.frame: frames, .onset: onsets, .offset: offsets]
        var decoder = NoteDecoder(heads: [.frame, .onset, .offset])
        decoder.minNoteSeconds = 0.05
        func ends() -> [Int] {
            decoder.notes(outputs, grid: grid, levels: nil, transform: transform, decibelRange: 80).map { Int(($0.offset * 100).rounded()) }
        }
        #expect(decoder.offsetThreshold == 0.5 && decoder.offsetHoldSeconds == 0)
        #expect(ends() == [15, 55])  // no hold: the fade ends A4; C4's offset peak cuts its tail
        decoder.offsetHoldSeconds = 0.3
        #expect(ends() == [40, 55])  // A4 waits 25 steps for its offset
        decoder.offsetHoldSeconds = 0.2
        #expect(ends() == [15, 55])  // too long a wait
        decoder.offsetThreshold = 0.75
        #expect(ends() == [15, 58])  // C4's peak is too weak now
        outputs.values[.offset] = nil
        decoder.offsetHoldSeconds = 0.3
        #expect(ends() == [15, 58])  // without offsets, as onset-gated decoding always did
    }

    /// Multi-label: a note's onset moves to the level's rise at its key when the outputs switch on late, but not past the key's previous note.
    @Test func multiLabelOnsetsSnapToTheRise() {
        let keys = 88, steps = 60, pitch = 69, key = pitch - 21
        var probabilities = [Float](repeating: 0.01, count: steps * keys)
        for k in 10 ..< 30 { probabilities[k * keys + key] = 0.9 }  // the network switches on 4 steps late
        for k in 40 ..< 55 { probabilities[k * keys + key] = 0.9 }
        let bin = transform.bins(ofPitch: pitch)!.lowerBound + 1
        var levels = [Float](repeating: 0, count: steps * transform.bins)
        for k in 6 ..< 30 { levels[k * transform.bins + bin] = 0.5 }
        for k in 36 ..< 55 { levels[k * transform.bins + bin] = 0.5 }  // 4 steps early, inside the snap window of 10 steps
        let image = LevelImage(bins: transform.bins, frames: steps, levels: levels)
        var decoder = NoteDecoder(heads: [.frame])
        decoder.minNoteSeconds = 0.05
        #expect(decoder.onsetSnapSeconds == 0.1)
        var onsets: [Int] { decoder.notes(outputs(probabilities, .frame), grid: grid, levels: image, transform: transform, decibelRange: 80).map { Int(($0.onset * 100).rounded()) } }
        #expect(onsets == [6, 36])
        decoder.onsetSnapSeconds = 0.03
        #expect(onsets == [7, 37])  // the window reaches only 3 steps back
        decoder.onsetSnapSeconds = 0
        #expect(onsets == [10, 40])
    }

    @Test func pitchBinsFollowTheTransform() {
        #expect(transform.bins(ofPitch: 21) == 0 ... 1)
        #expect(transform.bins(ofPitch: 69) == 47 ... 49)
        let cqt36 = TransformParameters.pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 36)
        #expect(cqt36.bins(ofPitch: 108) == 260 ... 262 && cqt36.bins(ofPitch: 20) == nil)
        let stft = ShortTimeFourierTransform(covering: cqt36).parameters
        let a4 = stft.bins(ofPitch: 69)!  // 440 Hz at 10.77 Hz per bin: FFT bin 41, first bin 3
        #expect(a4 == 37 ... 39)
    }
}

/// The line infer prints per recording, and pitch names (checked against the MIDI convention: 60 = C4, 21 = A0).
@Suite struct FoundLineTests {
    @Test func pitchNames() {
        #expect([21, 59, 60, 61, 69, 108].map(Note.name(ofPitch:)) == ["A0", "B3", "C4", "C#4", "A4", "C8"])
    }

    @Test func oneLinePerRecording() {
        let notes = [Note(onset: 0, offset: 1, pitch: 57), Note(onset: 1, offset: 2, pitch: 84), Note(onset: 2, offset: 3, pitch: 60)]
        #expect(InferRun.found(notes, in: "song.mp3", seconds: 16.4, took: 0.25) == "song.mp3: 3 notes, A3-C6, 16.4 s of audio, 65.6x real time")
        #expect(InferRun.found([], in: "quiet.wav", seconds: 2, took: 1) == "quiet.wav: 0 notes, 2.0 s of audio, 2.0x real time")
        #expect(InferRun.found([notes[0]], in: "a.wav", seconds: 1, took: 1).hasPrefix("a.wav: 1 note, A3-A3,"))
    }
}

@Suite struct InferTests {
    /// The MIDI file infer writes reads back as the same notes, to the tick (1/1920 s).
    @Test func midiRoundTrip() throws {
        let notes = [Note(onset: 0.011610, offset: 0.5, pitch: 60), Note(onset: 0.5, offset: 0.75, pitch: 60), Note(onset: 0.2, offset: 1.3, pitch: 64)]
        let bytes = MIDIWriter.encode(NoteFiles.midiFile(notes, name: "x"))
        let back = MIDIPerformance(try MIDIReader.parse(bytes)).notes(sustain: true).sorted(by: Note.byOnset)
        let expected = notes.sorted(by: Note.byOnset)
        #expect(back.count == 3)
        for (a, b) in zip(back, expected) {
            #expect(a.pitch == b.pitch && abs(a.onset - b.onset) <= 0.5 / 1920 + 1e-12 && abs(a.offset - b.offset) <= 0.5 / 1920 + 1e-12)
        }
    }

    /// A model file for `archive`'s front end with untrained weights.
    func model(for archive: String, heads: [HeadKind], to path: String) throws {
        let manifest = try ArchiveReader(path: archive).manifest
        let network = Network(.simple, heads: heads, size: manifest.frontEnd.geometry.rows, seed: 3)
        try AtomicWrite.write(try ModelFile.encode(network, frontEnd: manifest.frontEnd), to: path)
    }

    /// Spectro's JPEGs decoded, pack's stored pixels and infer's in-memory thumbnails are the same bytes.
    @Test func inMemoryThumbnailsEqualSpectroAndPack() throws {
        let scratch = try Scratch()
        let spectroTests = SpectroRunTests()
        let map = try NoteMap.read(path: try spectroTests.recording(scratch, seconds: 0.7))
        _ = try spectroTests.spectro(scratch, [scratch.path + "/maps"])
        var options = PackOptions()
        options.ratios = [1, 0, 0]
        _ = try PackRun(output: scratch.path + "/a.npz", options: options).run([scratch.path + "/thumbs"])
        try model(for: scratch.path + "/a.npz", heads: [.single], to: scratch.path + "/m.safetensors")

        let transcriber = try Transcriber(modelPath: scratch.path + "/m.safetensors")
        let audio = try SoundFileReader(path: scratch.path + "/in/\(map.stem).wav").readMono()
        let inMemory = try transcriber.thumbnails(of: transcriber.levels(of: audio, threads: 2), threads: 2)
        #expect(inMemory.count == map.steps * 32 * 32)

        let decoder = try JPEGDecoder()
        for step in 0 ..< map.steps {
            let jpeg = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/thumbs/\(map.stem)/" + String(format: "%06d.jpg", step)))
            #expect(try decoder.decodeGray(jpeg).pixels[...] == inMemory[step * 1024 ..< (step + 1) * 1024], "step \(step)")
        }
        let packed = try #require(try ArchiveReader(path: scratch.path + "/a.npz").examples("train").next())
        #expect(packed.count == map.steps)
        for i in 0 ..< packed.count {
            let step = Int(packed.source[i * 2 + 1])
            #expect(packed.images[i * 1024 ..< (i + 1) * 1024] == inMemory[step * 1024 ..< (step + 1) * 1024], "archive example \(i)")
        }
    }

    /// The stage writes every output, scores against the reference beside the wav, keeps up-to-date
    /// outputs, and transcribes audio at another sample rate (resampled, with a note, not an error).
    @Test func runWritesOutputsAndSkipsUpToDate() throws {
        let scratch = try Scratch()
        let spectroTests = SpectroRunTests()
        let map = try NoteMap.read(path: try spectroTests.recording(scratch))
        _ = try spectroTests.spectro(scratch, [scratch.path + "/maps"])
        var packOptions = PackOptions()
        packOptions.ratios = [1, 0, 0]
        _ = try PackRun(output: scratch.path + "/a.npz", options: packOptions).run([scratch.path + "/thumbs"])
        try model(for: scratch.path + "/a.npz", heads: [.frame], to: scratch.path + "/m.safetensors")
        try WavWriter.write(samples: [Int16](repeating: 0, count: 22050), channels: 1, sampleRate: 22050, to: scratch.path + "/in/slow.wav")

        let transcriber = try Transcriber(modelPath: scratch.path + "/m.safetensors")
        let found = InferRun.items([scratch.path + "/in"], reference: nil, findReferences: true)
        #expect(found.items.map(\.stem) == [map.stem, "slow"] && found.items[0].reference?.hasSuffix(".txt") == true)
        let run = InferRun(outputDirectory: scratch.path + "/out", options: InferOptions(heads: [.frame]), force: false, threads: 2)
        let (summary, metrics) = try run.run(found.items, transcriber: transcriber)
        #expect(summary.made == 2 && summary.failures.isEmpty)
        for path in [run.outputs("slow").midi, run.outputs("slow").roll] { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
        let outputs = run.outputs(map.stem)
        for path in [outputs.midi, outputs.notes, outputs.roll, outputs.metrics] { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
        let written = try RecordingMetrics.read(path: outputs.metrics)
        #expect(metrics == [written] && written.steps == map.steps && written.note.reference == 1)
        #expect(try NoteFiles.read(path: outputs.notes).count == written.note.estimated)

        let again = try run.run([found.items[0]], transcriber: transcriber)
        #expect(again.summary.upToDate == 1 && again.metrics == [written])
        var changed = run
        changed.options.decoder.threshold = 0.9
        #expect(try changed.run([found.items[0]], transcriber: transcriber).summary.made == 1)
    }

    /// A file that is not a model, and a model whose tensors do not fit, are refused naming the file.
    @Test func refusesBadModels() throws {
        let scratch = try Scratch()
        scratch.write("junk.safetensors", "this is not a model")
        #expect(throws: FileError.self) { try Transcriber(modelPath: scratch.path + "/junk.safetensors") }
        let network = Network(.simple, size: 32, seed: 1)
        var frontEnd = ArchiveManifest.FrontEndRecord(transform: .pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 36), decibels: DecibelScale(),
                                                      geometry: ThumbnailGeometry(size: 24), quality: 90, every: 1)
        try AtomicWrite.write(try ModelFile.encode(network, frontEnd: frontEnd), to: scratch.path + "/big.safetensors")
        #expect { try Transcriber(modelPath: scratch.path + "/big.safetensors") } throws: { "\($0)".contains("network input 1x32x32 does not fit the 1x24x24 thumbnails") }
        frontEnd.geometry = ThumbnailGeometry(size: 32)
        frontEnd.transform.bins = 100
        try AtomicWrite.write(try ModelFile.encode(network, frontEnd: frontEnd), to: scratch.path + "/odd.safetensors")
        #expect { try Transcriber(modelPath: scratch.path + "/odd.safetensors") } throws: { "\($0)".contains("cannot be rebuilt") }
    }
}
