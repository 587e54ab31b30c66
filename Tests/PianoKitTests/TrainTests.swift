import Foundation
import Testing
@testable import PianoKit

@Suite struct TrainTests {
    /// Packs the six-recording archive of PackTests.
    func archive(_ scratch: Scratch) throws -> String {
        let thumbs = try PackTests().thumbnails(scratch, size: 16)
        var options = PackOptions()
        options.ratios = [4, 1, 1]
        _ = try PackRun(output: scratch.path + "/a.npz", options: options).run([thumbs])
        return scratch.path + "/a.npz"
    }

    func options(steps: Int) -> TrainOptions {
        var options = TrainOptions()
        options.steps = steps
        options.batch = 32
        options.evalEvery = 20
        options.distort = false
        options.shuffleBuffer = 500
        options.learningRate = 0.02
        options.threads = 1
        return options
    }

    /// A tiny archive is learnt to 100% train accuracy through the whole stage, and its outputs are complete.
    @Test func overfitsATinyArchive() throws {
        let scratch = try Scratch()
        let path = try archive(scratch)
        let run = TrainRun(archivePath: path, output: scratch.path + "/m.safetensors", options: options(steps: 120))
        let (_, log) = try run.run()
        let trainer = try Trainer(archive: try ArchiveReader(path: path), options: options(steps: 120))
        let (network, _, metadata) = try ModelFile.read(path: scratch.path + "/m.safetensors")
        for (a, b) in zip(trainer.network.parameters, network.parameters) { a.value = b.value }
        let accuracy = try trainer.evaluate("train").accuracy
        #expect(accuracy == 1, "train accuracy \(accuracy)")
        #expect(network.spec == .named(.simple) && metadata["steps"] == "120")
        #expect(log.last?.step == 120 && log.contains { $0.validAccuracy != nil })
        let csv = try String(contentsOfFile: run.logPath, encoding: .utf8)
        #expect(csv.hasPrefix(TrainRun.header) && csv.split(separator: "\n").count == log.count + 1)
        #expect(try String(contentsOfFile: run.plotPath, encoding: .utf8).contains("<polyline"))
        #expect(FileManager.default.fileExists(atPath: run.checkpointPath))
    }

    /// A multi-label network learns the tiny archive; its key counts add up to the sounding keys the archive holds.
    @Test func multiLabelReportsKeyScores() throws {
        let scratch = try Scratch()
        let path = try archive(scratch)
        var options = options(steps: 150)
        options.network = .named(.simple, heads: [.frame])
        let (test, _) = try TrainRun(archivePath: scratch.path + "/a.npz", output: scratch.path + "/m.safetensors", options: options).run()
        let reader = try ArchiveReader(path: path)
        var sounding = 0
        let stream = try reader.examples("test")
        while let chunk = try stream.next() { sounding += chunk.notes.filter { $0 > 0 }.count }
        #expect(test.heads[0].truePositives + test.heads[0].falseNegatives == sounding)
        let trainer = try Trainer(archive: reader, options: options)
        let (network, _, _) = try ModelFile.read(path: scratch.path + "/m.safetensors")
        for (a, b) in zip(trainer.network.parameters, network.parameters) { a.value = b.value }
        let train = try trainer.evaluate("train")
        #expect(train.keyScores.f1 > 0.95, "train key F1 \(train.keyScores.f1)")
        #expect(train.keyScores.f1 <= 1 && train.accuracy > 0.9)
    }

    /// A run resumes from its step-20 checkpoint and carries its log on to step 40; a model file
    /// (no momentum, no step) is refused as a checkpoint.
    @Test func resumesFromACheckpoint() throws {
        let scratch = try Scratch()
        let path = try archive(scratch)
        var twenty = options(steps: 20)
        twenty.shuffleBuffer = 1
        _ = try TrainRun(archivePath: path, output: scratch.path + "/a.safetensors", options: twenty).run()
        var forty = options(steps: 40)
        forty.shuffleBuffer = 1
        let resumed = TrainRun(archivePath: path, output: scratch.path + "/a.safetensors", options: forty, resume: scratch.path + "/a.checkpoint.safetensors")
        let (_, log) = try resumed.run()
        #expect(log.first?.step == 20 && log.last?.step == 40)
        let bad = TrainRun(archivePath: path, output: scratch.path + "/b.safetensors", options: forty, resume: scratch.path + "/a.safetensors")
        #expect { try bad.run() } throws: { "\($0)".contains("not a training checkpoint") }
    }

    /// A run resumed from its step-20 checkpoint ends with the model an uninterrupted run of 40
    /// steps writes, byte for byte: the shuffle buffer and the distortions draw again what they drew
    /// (`Trainer.replay`), with a shuffle buffer larger than a batch and distortion on.
    @Test func resumedRunEqualsAnUninterruptedOne() throws {
        let scratch = try Scratch()
        let path = try archive(scratch)
        func run(_ steps: Int, output: String, resume: String? = nil) throws {
            var options = options(steps: steps)
            options.distort = true
            options.flip = true
            _ = try TrainRun(archivePath: path, output: output, options: options, resume: resume).run()
        }
        try run(40, output: scratch.path + "/whole.safetensors")
        try run(20, output: scratch.path + "/part.safetensors")
        try run(40, output: scratch.path + "/part.safetensors", resume: scratch.path + "/part.checkpoint.safetensors")
        let whole = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/whole.safetensors"))
        let resumed = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/part.safetensors"))
        let same = whole == resumed  // a Bool: a failed == on the bytes would make the test diff them (quadratic)
        #expect(same, "the resumed run's model differs from the uninterrupted run's")
    }

    /// The checkpoint holds its own log. A CSV beside it that another run left (what a kill
    /// between a checkpoint and its log could leave) is not carried into the resumed run's log.
    @Test func resumeTakesTheLogFromTheCheckpointNotTheCSV() throws {
        let scratch = try Scratch()
        let path = try archive(scratch)
        var twenty = options(steps: 20)
        twenty.shuffleBuffer = 1
        twenty.evalEvery = 10
        let first = TrainRun(archivePath: path, output: scratch.path + "/a.safetensors", options: twenty)
        let (_, original) = try first.run()
        #expect(original.map(\.step) == [10, 20])
        // The checkpoint's log is the run's, but for images/s.
        let (_, meta) = try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: first.checkpointPath)))
        let embedded = first.parseLog(try #require(meta["log"]))
        let written = try first.readLog()
        #expect(embedded.count == 2 && zip(embedded, written).allSatisfy { TrainRun.sameRun($0, $1) && $0.imagesPerSecond.isNaN })
        // Another run's log takes the CSV's place.
        let foreign = written.map { var row = $0; row.crossEntropy = 9.5; row.trainAccuracy = 0.125; return row } + [
            TrainLogRow(step: 30, crossEntropy: 9.5, totalLoss: 9.5, learningRate: 1, trainAccuracy: 0.125, validAccuracy: nil, imagesPerSecond: 1),
        ]
        try first.writeLog(foreign)
        var thirty = options(steps: 30)
        thirty.shuffleBuffer = 1
        thirty.evalEvery = 10
        let resumed = TrainRun(archivePath: path, output: scratch.path + "/a.safetensors", options: thirty, resume: first.checkpointPath)
        let (_, log) = try resumed.run()
        #expect(log.map(\.step) == [10, 20, 30])
        #expect(zip(log.prefix(2), written).allSatisfy { TrainRun.sameRun($0, $1) }, "\(log)")
        #expect(!log.contains { $0.crossEntropy == 9.5 })
        #expect(log.prefix(2).allSatisfy { $0.imagesPerSecond.isNaN })  // the foreign CSV's rates were not taken either
        #expect(try resumed.readLog().map(\.step) == [10, 20, 30])
    }

    @Test func learningRateDecaysInSteps() {
        var options = TrainOptions()
        options.learningRate = 0.1
        options.decaySteps = 100
        options.decayRate = 0.5
        #expect(options.learningRate(at: 0) == 0.1 && options.learningRate(at: 99) == 0.1)
        #expect(abs(options.learningRate(at: 100) - 0.05) < 1e-7 && abs(options.learningRate(at: 250) - 0.025) < 1e-7)
    }

    @Test func pipelineStandardisesAndCrops() {
        var rng = SeededGenerator(seed: 1)
        let pixels = (0 ..< 1024).map { UInt8($0 % 256) }
        let plain = InputPipeline(size: 32, distort: false).prepare(pixels[...], training: true, rng: &rng)
        let mean = plain.reduce(0, +) / 1024, variance = plain.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 1024
        #expect(abs(mean) < 1e-5 && abs(variance - 1) < 1e-3)
        let cropped = InputPipeline(size: 32, crop: 24).prepare(pixels[...], training: false, rng: &rng)
        #expect(cropped.count == 576)
        let flat = InputPipeline(size: 32, distort: false).prepare([UInt8](repeating: 7, count: 1024)[...], training: true, rng: &rng)
        #expect(flat.allSatisfy { abs($0) < 1e-4 })  // no division by zero on a flat image
    }
}
