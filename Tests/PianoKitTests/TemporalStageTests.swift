import Foundation
import Testing
@testable import PianoKit

@Suite struct TemporalStageTests {
    /// Onset memory against its definition, computed the slow way: for each t the largest onset of
    /// t - span ... t (0 before the recording; of equal ones the earliest), its age / span, and the
    /// largest frame value from max(0, its step) to t. Values repeat (ties) and start at 0.
    @Test func onsetMemoryIsItsDefinition() {
        var generator = SeededGenerator(seed: 5)
        for (steps, span) in [(1, 1), (7, 3), (60, 10), (300, 40), (50, 400)] {
            let frame = (0 ..< steps).map { _ in Float(Int.random(in: 0 ... 6, using: &generator)) / 6 }
            let onset = (0 ..< steps).map { _ in Float(Int.random(in: 0 ... 4, using: &generator)) / 4 }
            let memory = TemporalStage.KeySeries.memory(frame: frame, onset: onset, span: span)
            for t in 0 ..< steps {
                var best: Float = -1, at = 0
                for s in t - span ... t where (s < 0 ? 0 : onset[s]) > best { (best, at) = (s < 0 ? 0 : onset[s], s) }
                let since = frame[max(0, at) ... t].max()!
                #expect(memory[3 * t] == best && memory[3 * t + 1] == Float(t - at) / Float(span) && memory[3 * t + 2] == since,
                        "steps \(steps), span \(span), t \(t)")
            }
        }
    }

    @Test func rangeMaximaOfEveryRange() {
        var generator = SeededGenerator(seed: 2)
        let values = (0 ..< 37).map { _ in Float.random(in: -1 ... 1, using: &generator) }
        let maxima = RangeMaxima(values)
        for a in values.indices { for b in a ..< values.count { #expect(maxima.max(from: a, through: b) == values[a ... b].max()!) } }
    }

    /// A step's feature row: the padded windows and the memory in the documented order.
    @Test func featureRowLayout() {
        var settings = TemporalStage.Settings()
        (settings.window, settings.memory) = (1, 2)
        let steps = 3, keys = pianoKeys.count
        var frame = [Float](repeating: 0, count: steps * keys), onset = frame, levels = frame
        for t in 0 ..< steps { (frame[t * keys + 5], onset[t * keys + 5], levels[t * keys + 5]) = (Float(t + 1) / 10, Float(t + 1) / 100, Float(t + 1)) }
        let series = TemporalStage.KeySeries(TemporalStage.Inputs(steps: steps, frame: frame, onset: onset, levels: levels), key: 5, settings: settings)
        var row = [Float](repeating: -1, count: settings.features)
        row.withUnsafeMutableBufferPointer { series.features(at: 0, into: $0.baseAddress!, span: settings.span) }
        // t = 0: windows cover steps -1, 0, 1; the strongest onset so far is step 0's (age 0).
        #expect(row == [0, 0.1, 0.2, 0, 0.01, 0.02, 0.01, 0, 0.1, 0, 1, 2])
    }

    /// The reading takes the highest candidate, the lowest key of equal ones, and silence below the threshold.
    @Test func singleLabels() {
        let keys = pianoKeys.count
        var p = [Float](repeating: 0, count: 4 * keys)
        (p[0 * keys + 10], p[0 * keys + 30]) = (0.6, 0.7)  // key 30 wins
        (p[1 * keys + 12], p[1 * keys + 40]) = (0.8, 0.8)  // a tie: the lower key
        p[2 * keys + 3] = 0.29  // below 0.3: silence
        #expect(TemporalStage.labels(p, threshold: 0.3) == [51, 33, 0, 0])
        #expect(TemporalStage.labels(p, threshold: 0) == [51, 33, 24, 0])
    }

    /// Trained on recordings where a key is held exactly while its level is high and the heads say
    /// nothing useful (noise), the stage learns to read the level: near-perfect on other
    /// recordings, where the frame head's own argmax would not be.
    @Test func trainingLearnsFromTheLevels() throws {
        var generator = SeededGenerator(seed: 3)
        let keys = pianoKeys.count
        func example(_ n: Int) -> TemporalStage.Example {
            let steps = 120, key = Int.random(in: 0 ..< keys, using: &generator), start = Int.random(in: 10 ..< 40, using: &generator)
            let end = start + Int.random(in: 20 ..< 70, using: &generator)
            var frame = [Float](repeating: 0, count: steps * keys), onset = frame, levels = frame, labels = [Int](repeating: 0, count: steps)
            for t in 0 ..< steps {
                for k in [key, (key + 12) % keys] { frame[t * keys + k] = Float.random(in: 0.2 ... 0.9, using: &generator) }
                onset[t * keys + key] = Float.random(in: 0 ... 0.3, using: &generator)
                levels[t * keys + key] = (start ..< end).contains(t) ? 0.8 : 0.1
                if (start ..< end).contains(t) { labels[t] = pianoKeys.lowerBound + key }
            }
            return TemporalStage.Example(inputs: TemporalStage.Inputs(steps: steps, frame: frame, onset: onset, levels: levels), labels: labels, name: "\(n)")
        }
        var settings = TemporalStage.Settings()
        (settings.window, settings.memory, settings.hidden) = (4, 30, 8)
        var training = TemporalStage.Training()
        (training.epochs, training.batch, training.learningRate) = (6, 64, 0.01)
        let train = (0 ..< 40).map(example), dev = (40 ..< 50).map(example), test = (50 ..< 60).map(example)
        let (stage, report) = try TemporalStage.train(settings, on: train, development: dev, training: training)
        #expect(report.rows == 40 * 2 * 120 && report.epochLosses.last! < report.epochLosses.first! / 2)
        #expect(report.development.map(\.threshold) == training.thresholds)
        let references = test.flatMap(\.labels)
        let accuracy = TranscriptionMetrics.stepAccuracy(test.flatMap { stage.labels(stage.probabilities($0.inputs)) }, references)
        let argmax = TranscriptionMetrics.stepAccuracy(test.flatMap { ex in
            stride(from: 0, to: ex.inputs.frame.count, by: keys).map { s in 21 + (0 ..< keys).max { ex.inputs.frame[s + $0] < ex.inputs.frame[s + $1] }! }
        }, references)
        #expect(accuracy > 0.97 && argmax < 0.5, "stage \(accuracy), frame argmax \(argmax)")
    }

    /// The model file carries the stage: written and read back equal; refused when its tensors or
    /// metadata do not fit, or the front end has no row per key.
    @Test func modelFileRoundTrip() throws {
        let scratch = try Scratch()
        let spec = try NetworkSpec.decode(Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../networks/piano88-slide.json").standardized))
        let network = try Network(spec, input: ActivationShape(channels: 1, height: 88, width: 16), seed: 1)
        let frontEnd = ArchiveManifest.FrontEndRecord(transform: .pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 36), decibels: DecibelScale(),
                                                      geometry: ThumbnailGeometry(rows: 88, columns: 16), quality: 90, every: 1)
        var settings = TemporalStage.Settings()
        (settings.window, settings.hidden, settings.threshold) = (2, 3, 0.4)
        let stage = try TemporalStage(settings: settings, hiddenWeight: (0 ..< 3 * settings.features).map { Float($0) / 100 }, hiddenBias: [1, 2, 3],
                                      outputWeight: [0.5, -0.5, 0.25], outputBias: -1)
        let path = scratch.path + "/m.safetensors"
        try AtomicWrite.write(try ModelFile.encode(network, frontEnd: frontEnd, stage: stage), to: path)
        #expect(try ModelFile.readWithStage(path: path).stage == stage)
        #expect(try Transcriber(modelPath: path).stage == stage)
        try AtomicWrite.write(try ModelFile.encode(network, frontEnd: frontEnd), to: path)
        #expect(try ModelFile.readWithStage(path: path).stage == nil)

        // A stage tensor of the wrong shape, or without its settings.
        var (tensors, metadata) = try SafeTensors.decode(ModelFile.encode(network, frontEnd: frontEnd, stage: stage))
        tensors["temporal.output.weight"] = Tensor(shape: [3, 1], values: [0.5, -0.5, 0.25])
        try SafeTensors.encode(tensors, metadata: metadata).write(to: URL(fileURLWithPath: path))
        #expect { try ModelFile.read(path: path) } throws: { "\($0)".contains("m.safetensors") && "\($0)".contains("temporal.output.weight has shape [3, 1]") }
        metadata["temporalStage"] = nil
        try SafeTensors.encode(tensors, metadata: metadata).write(to: URL(fileURLWithPath: path))
        #expect { try ModelFile.read(path: path) } throws: { "\($0)".contains("belong to a temporal stage") }
        // A network without an onset head cannot carry one.
        var frameOnly = spec
        frameOnly.heads.removeAll { $0.kind == .onset }
        try AtomicWrite.write(try ModelFile.encode(Network(frameOnly, input: network.input, seed: 1), frontEnd: frontEnd, stage: stage), to: path)
        #expect { try ModelFile.read(path: path) } throws: { "\($0)".contains("reads frame and onset heads") }
        // A front end without a row per key cannot carry one.
        var square = frontEnd
        square.geometry = ThumbnailGeometry(size: 32)
        #expect(TemporalStage.refusal(square) != nil && TemporalStage.refusal(frontEnd) == nil)
        #expect(throws: FormatError.self) { try ModelFile.encode(Network(.simple, size: 32, seed: 1), frontEnd: square, stage: stage) }
    }
}
