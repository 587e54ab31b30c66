import Testing
@testable import PianoKit

@Suite struct TimeGridTests {
    let grid = TimeGrid(sampleRate: 44100, hop: 512)

    @Test func stepCountFollowsCentredFrames() {
        #expect(grid.stepCount(frames: 0) == 1)
        #expect(grid.stepCount(frames: 511) == 1)
        #expect(grid.stepCount(frames: 512) == 2)
        #expect(grid.stepCount(frames: 44100) == 87)  // 44100 / 512 = 86.13
    }

    /// A note from 1.000 s to 1.500 s at hop 512 and 44.1 kHz. By hand: step k is at k * 512 / 44100 s.
    /// 86 * 512 / 44100 = 0.99846 < 1.0 <= 87 * 512 / 44100 = 1.01007, so the first step is 87;
    /// 129 * 512 / 44100 = 1.49769 < 1.5 <= 130 * 512 / 44100 = 1.50929, so the last is 129: 43 steps.
    @Test func handCheckedNote() {
        #expect(grid.steps(from: 1.0, to: 1.5) == 87 ..< 130)
        let labels = StepLabels(notes: [Note(onset: 1.0, offset: 1.5, pitch: 60)], grid: grid, steps: 200)
        #expect(labels.single.firstIndex(of: 60) == 87)
        #expect(labels.single.lastIndex(of: 60) == 129)
        #expect(labels.single.filter { $0 == 60 }.count == 43)
        #expect(labels.multi[86] == [] && labels.multi[87] == [60] && labels.multi[130] == [])
    }

    @Test func noteStartingExactlyOnAStepIncludesIt() {
        // 441 * 512 / 44100 = 5.12 s exactly: step 441. A note ending at a step's time excludes it.
        #expect(grid.steps(from: 5.12, to: 5.12 + 2 * 512.0 / 44100) == 441 ..< 443)
    }

    /// The pedal holds the key released at 1.2 s until the pedal comes up at 1.5 s: same steps as above.
    @Test func pedalExtendsTheNote() {
        let notes = SustainPedal.apply([KeyPress(onset: 1.0, release: 1.2, pitch: 60, velocity: 80)],
                                       pedal: [PedalSpan(down: 0.9, up: 1.5)])
        #expect(notes == [Note(onset: 1.0, offset: 1.5, pitch: 60, velocity: 80)])
        let labels = StepLabels(notes: notes, grid: grid, steps: 200)
        #expect(labels.single.filter { $0 == 60 }.count == 43)
        // Without the pedal the note ends at 1.2 s: steps 87 ..< ceil(1.2 * 44100 / 512) = 104.
        let dry = StepLabels(notes: [Note(onset: 1.0, offset: 1.2, pitch: 60)], grid: grid, steps: 200)
        #expect(dry.single.filter { $0 == 60 }.count == 104 - 87)
    }

    @Test func singleLabelIsTheHighestKeyAndIgnoresNonPianoKeys() {
        let notes = [Note(onset: 0, offset: 1, pitch: 48), Note(onset: 0, offset: 0.5, pitch: 67), Note(onset: 0, offset: 1, pitch: 110)]
        let labels = StepLabels(notes: notes, grid: grid, steps: 100)
        #expect(labels.multi[0] == [48, 67])
        #expect(labels.single[0] == 67)
        #expect(labels.single[60] == 48)  // 60 * 512 / 44100 = 0.697 s: only 48 sounds
        #expect(labels.single[99] == 0)
    }
}

@Suite struct SustainPedalTests {
    @Test func releaseOutsidePedalIsUnchanged() {
        let notes = SustainPedal.apply([KeyPress(onset: 0, release: 0.5, pitch: 60, velocity: 1)], pedal: [PedalSpan(down: 0.6, up: 2)])
        #expect(notes[0].offset == 0.5)
    }

    @Test func pedalOnAnotherChannelDoesNothing() {
        let notes = SustainPedal.apply([KeyPress(onset: 0, release: 0.5, pitch: 60, velocity: 1, channel: 0)],
                                       pedal: [PedalSpan(down: 0, up: 2, channel: 1)])
        #expect(notes[0].offset == 0.5)
    }

    @Test func restrikeEndsTheSustainedNote() {
        let presses = [KeyPress(onset: 0, release: 0.3, pitch: 60, velocity: 1), KeyPress(onset: 1.0, release: 1.2, pitch: 60, velocity: 2)]
        let notes = SustainPedal.apply(presses, pedal: [PedalSpan(down: 0.1, up: 3)])
        #expect(notes.map(\.offset) == [1.0, 3])
    }

    @Test func pedalDownAtTheReleaseTickCatchesTheKey() {
        let notes = SustainPedal.apply([KeyPress(onset: 0, release: 0.5, pitch: 60, velocity: 1)], pedal: [PedalSpan(down: 0.5, up: 1)])
        #expect(notes[0].offset == 1)
        let upAtRelease = SustainPedal.apply([KeyPress(onset: 0, release: 0.5, pitch: 60, velocity: 1)], pedal: [PedalSpan(down: 0.2, up: 0.5)])
        #expect(upAtRelease[0].offset == 0.5)
    }

    /// A note starts at the first step it sounds; notes that sound at no step start nowhere; a
    /// re-struck key starts again.
    @Test func onsetsAreFirstSoundingSteps() {
        let grid = TimeGrid(sampleRate: 100, hop: 10)  // 0.1 s steps
        let notes = [Note(onset: 0.0, offset: 0.35, pitch: 60), Note(onset: 0.35, offset: 0.6, pitch: 60),
                     Note(onset: 0.21, offset: 0.29, pitch: 64),  // sounds at no step: 0.3 is its offset
                     Note(onset: 0.25, offset: 0.5, pitch: 67), Note(onset: 0.9, offset: 1.5, pitch: 72), Note(onset: 0.1, offset: 0.2, pitch: 10)]
        let onsets = StepLabels.onsets(notes: notes, grid: grid, steps: 10)
        #expect(onsets == [[60], [], [], [67], [60], [], [], [], [], [72]])
        let labels = StepLabels(notes: notes, grid: grid, steps: 10)
        for k in 0 ..< 10 { #expect(Set(onsets[k]).isSubset(of: labels.multi[k])) }
    }
}
