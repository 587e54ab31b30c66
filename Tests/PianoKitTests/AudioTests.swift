import Foundation
import Testing
@testable import PianoKit

/// A linear sine sweep from `f0` to `f1` Hz over `seconds`, amplitude `amplitude`, evaluated at
/// time `t`: the exact band-limited signal, so sampling it at any rate above twice `f1` gives
/// the ideal resampler's answer.
private func sweep(_ t: Double, f0: Double = 20, f1: Double = 16000, seconds: Double = 1, amplitude: Double = 0.5) -> Double {
    let rate = (f1 - f0) / seconds
    return amplitude * sin(2 * Double.pi * (f0 * t + rate * t * t / 2))
}

@Suite struct ResamplerTests {
    @Test func outputLengthRoundsHalfUp() {
        #expect(Resampler.outputLength(frames: 48000, from: 48000, to: 44100) == 44100)
        #expect(Resampler.outputLength(frames: 22050, from: 22050, to: 44100) == 44100)
        #expect(Resampler.outputLength(frames: 1, from: 48000, to: 44100) == 1)  // 0.91875 -> 1
        #expect(Resampler.outputLength(frames: 7, from: 48000, to: 44100) == 6)  // 6.43 -> 6
        #expect(Resampler.outputLength(frames: 2, from: 4, to: 1) == 1)  // 0.5 -> 1 (half up)
        #expect(Resampler.outputLength(frames: 0, from: 48000, to: 44100) == 0)
        #expect(Resampler.outputLength(frames: 12345, from: 44100, to: 44100) == 12345)
        #expect(Resampler.outputLength(frames: Int.max / 2, from: 1, to: 96000) == Int.max)  // saturates, no trap
    }

    @Test func equalRatesAreTheIdentity() throws {
        let x: [Float] = [0.1, -0.2, 0.3]
        #expect(try Resampler.resample(x, from: 44100, to: 44100) == x)
    }

    @Test func badRatesAreErrors() {
        #expect { try Resampler(from: 0, to: 44100) } throws: { "\($0)".contains("sample rate 0 Hz is outside the 1000...768000 Hz") }
        #expect { try Resampler(from: 44100, to: 1_000_000) } throws: { "\($0)".contains("sample rate 1000000 Hz is outside") }
        #expect(throws: Never.self) { try Resampler(from: 1000, to: 768_000) }
    }

    /// A sweep of amplitude 0.5 from 20 Hz to `top` sampled at `rate`, resampled to 44.1 kHz,
    /// against the same sweep sampled at 44.1 kHz: the ideal answer, computed independently of
    /// any resampler. Away from the ends (50 ms, far more than the filter's half length) the
    /// largest error must be below 2e-4 (-74 dB of full scale). Why that bound: SOXR_HQ's pass band
    /// (to 91 % of the lower Nyquist) may droop by 0.01 dB, 5.8e-4 at this amplitude, most near its
    /// edge; measured: 1.1e-5 for 16 kHz at 48 and 96 kHz (2/3 of 22.05 kHz), 3.1e-7 for 10 kHz
    /// at 22.05 kHz (upsampling, 91 % of 11.025 kHz), 1.3e-4 for 14 kHz at 32 kHz (88 % of 16 kHz).
    @Test(arguments: [(48000, 16000.0), (22050, 10000.0), (96000, 16000.0), (32000, 14000.0)])
    func sweepMatchesTheIdealResampling(rate: Int, top: Double) throws {
        let seconds = 1.0
        let input = (0 ..< Int(seconds * Double(rate))).map { Float(sweep(Double($0) / Double(rate), f1: top, seconds: seconds)) }
        let output = try Resampler.resample(input, from: rate, to: 44100)
        #expect(output.count == Resampler.outputLength(frames: input.count, from: rate, to: 44100))
        let margin = 44100 / 20
        var worst = 0.0
        for j in margin ..< output.count - margin {
            worst = max(worst, abs(Double(output[j]) - sweep(Double(j) / 44100, f1: top, seconds: seconds)))
        }
        #expect(worst < 2e-4, "largest error \(worst) at \(rate) Hz")
    }

    /// Streaming in blocks of any size gives the same samples as one call.
    @Test func blocksDoNotMatter() throws {
        let input = (0 ..< 30000).map { Float(sweep(Double($0) / 48000)) }
        let whole = try Resampler.resample(input, from: 48000, to: 44100)
        let resampler = try Resampler(from: 48000, to: 44100)
        var pieces: [Float] = []
        var start = 0
        for size in [1, 7, 1000, 4096, 12345] + Array(repeating: 5000, count: 4) where start < input.count {
            pieces += try resampler.process(Array(input[start ..< min(input.count, start + size)]))
            start += size
        }
        pieces += try resampler.finish()
        // soxr's own count (27562 here) can be a sample short of the rounded 27563 that
        // `resample` pads to; every sample both have is the same.
        #expect(abs(pieces.count - whole.count) <= 1)
        #expect(zip(pieces, whole).allSatisfy { $0 == $1 })
    }
}

@Suite struct AudioFilesTests {
    /// Of one stem in one folder in two formats, the earlier in the preference list is kept and
    /// the other warned about; the same stem in another folder is not touched.
    @Test func oneFilePerStemAndFolder() {
        let (files, warnings) = AudioFiles.onePerStem(["a/x.mp3", "a/x.flac", "b/x.mp3", "a/y.WAV", "a/y.ogg", "a/z.opus"])
        #expect(files == ["a/x.flac", "b/x.mp3", "a/y.WAV", "a/z.opus"])
        #expect(warnings.count == 2)
        #expect(warnings[0].hasPrefix("warning: a/x.mp3: skipped, x.flac has the same stem"))
        #expect(warnings[1].hasPrefix("warning: a/y.ogg: skipped, y.WAV has the same stem"))
    }

    /// ingest finds every listed format in a folder and pairs each with its notes; a stem in two
    /// formats is one recording (the wav), with a warning, not a failure.
    @Test func recordingFinderTakesEveryFormat() throws {
        let scratch = try Scratch()
        for name in ["a.flac", "b.ogg", "c.mp3", "d.opus", "e.aiff", "f.wav", "f.mp3"] {
            scratch.write("in/" + name, "audio")  // only names matter here
            scratch.write("in/" + (name as NSString).deletingPathExtension + ".txt", Scratch.goodText)
        }
        let found = RecordingFinder.find([scratch.path + "/in"])
        #expect(found.problems.isEmpty)
        #expect(found.recordings.map { ($0.wav as NSString).lastPathComponent } == ["a.flac", "b.ogg", "c.mp3", "d.opus", "e.aiff", "f.wav"])
        #expect(found.warnings.count == 1 && found.warnings[0].contains("f.mp3: skipped, f.wav"))
    }

    /// A folder named through a symbolic link is searched, and its files keep the name given.
    @Test func folderBehindALinkIsSearched() throws {
        let scratch = try Scratch()
        scratch.write("real/sub/a.wav", "audio")
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/link", withDestinationPath: scratch.path + "/real")
        let found = InputFiles.expand([scratch.path + "/link"], wanted: "audio", accept: AudioFiles.isAudio)
        #expect(found.problems.isEmpty)
        #expect(found.files == [scratch.path + "/link/sub/a.wav"])
        // A link whose target is relative to the link's folder.
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/rel", withDestinationPath: "real")
        #expect(InputFiles.expand([scratch.path + "/rel"], wanted: "audio", accept: AudioFiles.isAudio).files == [scratch.path + "/rel/sub/a.wav"])
    }
}

@Suite struct OtherRateTests {
    /// A 48 kHz and a 22.05 kHz recording of the same second get the note map of the 44.1 kHz
    /// one: the grid at 44.1 kHz, the same steps and labels; only `audio` differs. A version-1
    /// note map (no `sampleRate`) still reads, its grid at the audio's rate.
    @Test func noteMapsKeepTheFrontEndGrid() throws {
        let scratch = try Scratch()
        for rate in [44100, 48000, 22050] {
            try WavWriter.write(samples: [Int16](repeating: 0, count: rate), channels: 1, sampleRate: rate, to: scratch.path + "/in/r\(rate).wav")
            scratch.write("in/r\(rate).txt", Scratch.goodText)
        }
        #expect(try IngestRun(outputDirectory: scratch.path + "/out", options: IngestOptions(), force: false, jobs: 2).run([scratch.path + "/in"]).made == 3)
        let maps = try [44100, 48000, 22050].map { try NoteMap.read(path: scratch.path + "/out/r\($0).notemap.json") }
        for map in maps {
            #expect(map.version == 2 && map.sampleRate == 44100 && map.resampledFrames == 44100)
            #expect(map.steps == maps[0].steps && map.labels == maps[0].labels)
        }
        #expect(maps.map(\.audio.sampleRate) == [44100, 48000, 22050])

        // Version 1: no sampleRate, the grid at the audio's own rate. A 44.1 kHz one reads as before;
        // the 48 kHz map's steps do not fit a 48 kHz grid, so as version 1 it is refused.
        for rate in [44100, 48000] {
            let path = scratch.path + "/out/r\(rate).notemap.json"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let old = text.replacingOccurrences(of: "  \"sampleRate\": 44100,\n", with: "").replacingOccurrences(of: "\"version\": 2", with: "\"version\": 1")
            try old.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let v1 = try NoteMap.read(path: scratch.path + "/out/r44100.notemap.json")
        #expect(v1.version == 1 && v1.sampleRate == 44100 && v1.labels == maps[0].labels)
        #expect(!String(decoding: try v1.encoded(), as: UTF8.self).contains("sampleRate\": 44100,"))
        #expect { try NoteMap.read(path: scratch.path + "/out/r48000.notemap.json") } throws: { "\($0)".contains("steps is 87 but 48000 frames at hop 512 give 94") }
    }
}
