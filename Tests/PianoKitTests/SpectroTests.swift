import Foundation
import Testing
@testable import PianoKit

@Suite struct AreaResizeTests {
    @Test func shrinkingAveragesWholeAndPartialCells() {
        let resize = AreaResize(from: 88, to: 32)  // 2.75 source cells per output cell
        #expect(resize.cells.count == 32)
        for cell in resize.cells { #expect(abs(cell.weights.reduce(0, +) - 1) < 1e-5) }
        #expect(resize.cells[0].start == 0 && resize.cells[0].weights.count == 3)
        #expect(abs(resize.cells[0].weights[2] - Float(0.75 / 2.75)) < 1e-6)
        #expect(resize.cells[31].start == 85)
    }

    @Test func growingRepeatsOrSplitsCells() {
        let resize = AreaResize(from: 16, to: 32)
        for (i, cell) in resize.cells.enumerated() {
            #expect(cell.start == i / 2 && cell.weights == [1])
        }
        let odd = AreaResize(from: 3, to: 2)  // output 0 covers [0, 1.5): cell 0 whole, half of cell 1
        #expect(odd.cells[0].start == 0 && odd.cells[0].weights.map { ($0 * 3).rounded() } == [2, 1])
    }
}

@Suite struct ThumbnailTests {
    /// A level image with one bright bin: it must land in the row its frequency maps to, at the
    /// frames it occupies, with high frequencies at the top.
    @Test func brightBinLandsWhereExpected() {
        let bins = 64, frames = 40
        var levels = [Float](repeating: 0, count: bins * frames)
        for t in 20 ..< 40 { levels[t * bins + 60] = 1 }  // bin 60 of 64 from frame 20 on
        let thumbs = Thumbnailer(LevelImage(bins: bins, frames: frames, levels: levels), geometry: ThumbnailGeometry(size: 32, context: 16))
        let pixels = thumbs.thumbnail(step: 20)  // frames 12 ..< 28: columns 0...15 before the note, 16...31 during
        // Bin 60 is in output row 30 of 32 counted from the bottom (60 / 2), so image row 32 - 1 - 30 = 1.
        #expect(pixels[1 * 32 + 31] == 128)  // half of the two-bin cell is bright
        #expect(pixels[1 * 32 + 0] == 0)
        #expect(pixels[1 * 32 + 16] == 128 && pixels[1 * 32 + 15] == 0)
        #expect(pixels.enumerated().filter { $0.element > 0 }.allSatisfy { $0.offset / 32 == 1 })
    }

    /// Rows equal to the bins and columns equal to the context: every pixel is one level, unsqueezed.
    @Test func nonSquareThumbnailsFollowTheBins() {
        let bins = 12, frames = 30
        let levels = (0 ..< bins * frames).map { Float(($0 * 37) % 101) / 100 }
        let geometry = ThumbnailGeometry(rows: bins, columns: 8, context: 8)
        let pixels = Thumbnailer(LevelImage(bins: bins, frames: frames, levels: levels), geometry: geometry).thumbnail(step: 10)
        #expect(pixels.count == 12 * 8)
        for r in 0 ..< 12 {
            for c in 0 ..< 8 {
                let frame = 10 - 4 + c, bin = 11 - r  // row 0 is the highest bin
                #expect(pixels[r * 8 + c] == UInt8((levels[frame * bins + bin] * 255).rounded()), "row \(r) column \(c)")
            }
        }
        // Rows three bins each (36 bins per octave to one row per key): each row is the mean of its three bins.
        let perKey = Thumbnailer(LevelImage(bins: bins, frames: frames, levels: levels), geometry: ThumbnailGeometry(rows: 4, columns: 8, context: 8)).thumbnail(step: 10)
        for r in 0 ..< 4 {
            let bin = 3 * (3 - r), frame = 6
            let mean = (levels[frame * bins + bin] + levels[frame * bins + bin + 1] + levels[frame * bins + bin + 2]) / 3
            #expect(abs(Int(perKey[r * 8]) - Int((mean * 255).rounded())) <= 1, "row \(r)")
        }
    }

    /// `ROWSxCOLS`, one number for a square, and nothing else; one default, shared by the CLI.
    @Test func geometryParsingAndDefaults() {
        #expect(ThumbnailGeometry(parsing: "88x16") == ThumbnailGeometry(rows: 88, columns: 16))
        #expect(ThumbnailGeometry(parsing: "32") == ThumbnailGeometry(size: 32))
        #expect(ThumbnailGeometry(parsing: "264X16", context: 8) == ThumbnailGeometry(rows: 264, columns: 16, context: 8))
        for bad in ["", "x", "88x", "x16", "88x16x2", "a", "8.5"] { #expect(ThumbnailGeometry(parsing: bad) == nil, "\(bad)") }
        #expect(ThumbnailGeometry().context == 16 && ThumbnailGeometry(size: 24).context == ThumbnailGeometry.defaultContext)
        #expect(SpectroOptions().geometry == ThumbnailGeometry(size: ThumbnailGeometry.defaultSize, context: ThumbnailGeometry.defaultContext))
        // Version 1 files wrote a square `size`; it still reads.
        let old = try? JSONDecoder().decode(ThumbnailGeometry.self, from: Data(#"{"size": 24, "context": 32}"#.utf8))
        #expect(old == ThumbnailGeometry(rows: 24, columns: 24, context: 32))
        #expect(throws: FormatError.self) {
            try FrontEnd(transform: "cqt", sampleRate: 44100, hop: 512, binsPerOctave: 36, geometry: ThumbnailGeometry(rows: 88, columns: 0))
        }
    }

    @Test func framesOutsideTheRecordingAreBlack() {
        let image = LevelImage(bins: 32, frames: 4, levels: [Float](repeating: 1, count: 128))
        let pixels = Thumbnailer(image, geometry: ThumbnailGeometry(size: 32, context: 8)).thumbnail(step: 0)
        // Frames -4 ..< 4: the left half (frames -4...-1) is black, the right half white.
        #expect(pixels[0] == 0 && pixels[15] == 0 && pixels[16] == 255 && pixels[31] == 255)
    }

    @Test func decibelLevels() {
        let levels = DecibelScale().levels([1, 0.1, 1e-4, 0])
        #expect(levels[0] == 1)
        #expect(abs(levels[1] - 0.75) < 1e-6)  // -20 dB of 80
        #expect(levels[2] == 0 && levels[3] == 0)  // -80 dB and silence
        #expect(DecibelScale().levels([1e-6, 1e-7]).allSatisfy { $0 < 0.6 })  // a near-silent file is not brightened to white
    }

    @Test func jpegRoundTripIsCloseAndDeterministic() throws {
        let pixels = (0 ..< 1024).map { UInt8(($0 * 7) % 256) }
        let encoder = try JPEGEncoder(quality: 100)
        let a = try encoder.encode(gray: pixels, width: 32, height: 32)
        #expect(a == (try encoder.encode(gray: pixels, width: 32, height: 32)))
        let decoded = try JPEGDecoder().decodeGray(a)
        #expect(decoded.width == 32 && decoded.height == 32)
        #expect(zip(decoded.pixels, pixels).map { abs(Int($0) - Int($1)) }.max()! <= 12)
        #expect(throws: FormatError.self) { try JPEGDecoder().decodeGray(Data("not a jpeg".utf8)) }
    }
}

@Suite struct ConstantQTests {
    /// A pure tone at a bin's centre frequency peaks in that bin, at every octave.
    @Test(arguments: [12, 36])
    func sinePeaksInItsBin(binsPerOctave: Int) throws {
        let parameters = TransformParameters.pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: binsPerOctave)
        let cqt = try ConstantQTransform(parameters)
        for bin in stride(from: 0, to: parameters.bins, by: binsPerOctave / 12 * 7) {
            let f = parameters.fmin * exp2(Double(bin) / Double(binsPerOctave))
            let signal = (0 ..< 44100).map { Float(0.5 * sin(2 * Double.pi * f * Double($0) / 44100)) }
            let spectrogram = cqt.magnitudes(of: signal)
            let frame = 43
            let column = (0 ..< parameters.bins).map { spectrogram[frame, $0] }
            #expect(column.indices.max { column[$0] < column[$1] } == bin, "bin \(bin) at \(f) Hz")
        }
    }

    @Test func frameCountFollowsTheTimeGrid() throws {
        let cqt = try ConstantQTransform(.pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 12))
        for count in [1, 511, 512, 513, 44100] {
            #expect(cqt.magnitudes(of: [Float](repeating: 0.1, count: count)).frames == count / 512 + 1)
        }
    }

    @Test func threadsDoNotChangeTheResult() throws {
        let cqt = try ConstantQTransform(.pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 24))
        var rng = SeededGenerator(seed: 7)
        let noise = (0 ..< 30000).map { _ in Float.random(in: -1 ... 1, using: &rng) }
        #expect(cqt.magnitudes(of: noise, threads: 1) == cqt.magnitudes(of: noise, threads: 2))
    }

    @Test func refusesBinsPastNyquist() {
        #expect(throws: FormatError.self) { try ConstantQTransform(.pianoCQT(sampleRate: 8000, hop: 512, binsPerOctave: 12)) }
    }
}

@Suite struct SpectroRunTests {
    /// Makes a recording with a 440 Hz tone under the note it is labelled with, and its note map.
    func recording(_ scratch: Scratch, stem: String = "MAPS_ISOL_NO_F_S0_M69_Test", seconds: Double = 0.5) throws -> String {
        let frames = Int(seconds * 44100)
        let samples = (0 ..< frames).flatMap { i -> [Int16] in
            let v = Int16(8000 * sin(2 * Double.pi * 440 * Double(i) / 44100))
            return [v, v]
        }
        try WavWriter.write(samples: samples, channels: 2, sampleRate: 44100, to: scratch.path + "/in/\(stem).wav")
        scratch.write("in/\(stem).txt", "OnsetTime\tOffsetTime\tMidiPitch\n0.1\t0.4\t69\n")
        _ = try IngestRun(outputDirectory: scratch.path + "/maps", options: IngestOptions(), force: false, jobs: 1).run([scratch.path + "/in"])
        return scratch.path + "/maps/\(stem).notemap.json"
    }

    func spectro(_ scratch: Scratch, _ inputs: [String], options: SpectroOptions = SpectroOptions(), force: Bool = false) throws -> BatchSummary {
        try SpectroRun(outputDirectory: scratch.path + "/thumbs", options: options, force: force, jobs: 2).run(inputs)
    }

    @Test func writesOneThumbnailPerStepWithLabels() throws {
        let scratch = try Scratch()
        let map = try NoteMap.read(path: try recording(scratch))
        #expect(try spectro(scratch, [scratch.path + "/maps"]).made == 1)
        let folder = scratch.path + "/thumbs/" + map.stem
        let jpegs = scratch.files(containing: ".jpg").filter { !$0.hasSuffix("preview.jpg") }
        #expect(jpegs.count == map.steps)
        let labels = try String(contentsOfFile: folder + "/labels.tsv", encoding: .utf8).split(separator: "\n")
        #expect(labels.count == map.steps + 1)
        // The note (A4 from 0.1 s) starts at step 9, the first at or after 0.1 s (0.104 s), and sounds on at step 10.
        #expect(labels[0] == "step\ttime\tfile\tlabel\tnotes\tonsets")
        #expect(labels[9] == "8\t\(String(format: "%.6f", 8 * 512 / 44100.0))\t000008.jpg\t0\t\t")
        #expect(labels[10] == "9\t\(String(format: "%.6f", 9 * 512 / 44100.0))\t000009.jpg\t69\t69\t69")
        #expect(labels[11] == "10\t\(String(format: "%.6f", 10 * 512 / 44100.0))\t000010.jpg\t69\t69\t")
        let set = try ThumbnailSet.read(path: folder + "/thumbs.json")
        #expect(set.images == map.steps && set.transform.bins == 264)
        // pack reads the step back from a JPEG's name without building names: the inverse of imageName.
        #expect(set.digits == 6)
        for k in [0, 9, 123_456, 1_234_567] { #expect(set.imageStep(Array(set.imageName(step: k).utf8)) == k) }
        for other in ["42.jpg", "0000042.jpg", "000042.png", "00004a.jpg", "000042.jpg.tmp", ".jpg", ""] {
            #expect(set.imageStep(Array(other.utf8)) == nil, "\(other)")
        }
        #expect(set.imageStep(Array("000042.jpg".utf8)) == 42)
        #expect(try spectro(scratch, [scratch.path + "/maps"]).upToDate == 1)
        var every = SpectroOptions()
        every.every = 4
        #expect(try spectro(scratch, [scratch.path + "/maps"], options: every).made == 1)  // other settings: remade
        #expect(scratch.files(containing: ".jpg").count == (map.steps + 3) / 4 + 1)
    }

    /// What spectro wrote is exactly what the front end makes from raw audio, as infer will call it.
    @Test func stageAndLibraryFunctionGiveIdenticalPixels() throws {
        let scratch = try Scratch()
        let path = try recording(scratch)
        _ = try spectro(scratch, [path])
        let map = try NoteMap.read(path: path)
        let frontEnd = try FrontEnd(transform: "cqt", sampleRate: 44100, hop: 512, binsPerOctave: 36)
        let audio = try SoundFileReader(path: scratch.path + "/in/\(map.stem).wav").readMono()
        let thumbnailer = Thumbnailer(frontEnd.levels(of: frontEnd.spectrogram(of: audio)), geometry: frontEnd.geometry)
        let encoder = try JPEGEncoder(quality: 90)
        for step in [0, 9, 20, map.steps - 1] {
            let file = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/thumbs/\(map.stem)/" + String(format: "%06d.jpg", step)))
            #expect(file == (try encoder.encode(gray: thumbnailer.thumbnail(step: step), width: 32, height: 32)))
        }
    }

    @Test func badInputsFailCleanly() throws {
        let scratch = try Scratch()
        let good = try recording(scratch)
        let missing = try recording(scratch, stem: "missing")
        let corrupt = try recording(scratch, stem: "corrupt")
        let rate = try recording(scratch, stem: "rate")
        let empty = try recording(scratch, stem: "empty")
        // Spoil the wavs only now: each recording() call re-ingests the whole folder.
        try FileManager.default.removeItem(atPath: scratch.path + "/in/missing.wav")
        scratch.write("in/corrupt.wav", "RIFF garbage")
        try WavWriter.write(samples: [Int16](repeating: 0, count: 44100), channels: 2, sampleRate: 22050, to: scratch.path + "/in/rate.wav")
        try WavWriter.write(samples: [], channels: 2, sampleRate: 44100, to: scratch.path + "/in/empty.wav")
        scratch.write("maps/broken.notemap.json", "{\"format\": \"piano-notemap\"")
        let summary = try spectro(scratch, [good, missing, corrupt, rate, empty, scratch.path + "/maps/broken.notemap.json"])
        let messages = summary.failures.map(\.description)
        #expect(summary.made == 1 && messages.count == 5)
        #expect(messages.contains { $0.contains("missing.wav") && $0.contains("no such audio file") })
        #expect(messages.contains { $0.contains("corrupt.wav") && $0.contains("not readable audio") })
        #expect(messages.contains { $0.contains("rate.wav") && $0.contains("22050 Hz differs from the note map's 44100 Hz") })
        #expect(messages.contains { $0.contains("empty.wav") && ($0.contains("zero-length") || $0.contains("frames")) })
        #expect(messages.contains { $0.contains("broken.notemap.json") && $0.contains("not a note map") })
        let folders = try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/thumbs")
        #expect(folders == ["MAPS_ISOL_NO_F_S0_M69_Test"])
    }
}
