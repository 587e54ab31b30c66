import Foundation

extension TemporalStage {
    /// A recording to train or choose the threshold on: the stage's inputs and the reference's
    /// single label per step (`StepLabels.single`: the highest key sounding, MIDI pitch, 0 for none).
    public struct Example: Sendable {
        /// The stage's inputs.
        public let inputs: Inputs
        /// Steps of reference labels, one per step of `inputs`.
        public let labels: [Int]
        /// A name for messages (the recording's stem).
        public let name: String

        /// An example; `labels` must have `inputs.steps` values.
        public init(inputs: Inputs, labels: [Int], name: String) {
            precondition(labels.count == inputs.steps)
            self.inputs = inputs
            self.labels = labels
            self.name = name
        }
    }

    /// How a stage is trained.
    public struct Training: Sendable, Equatable {
        /// Passes over every (recording, candidate key, step) row, each in a new shuffled order.
        public var epochs = 24
        /// Rows per Adam step.
        public var batch = 1024
        /// Adam's learning rate (no weight decay).
        public var learningRate: Float = 0.003
        /// Seeds the initial weights and the order of the rows.
        public var seed: UInt64 = 1
        /// Thresholds tried on the development recordings; the best step accuracy's is kept (of
        /// equal ones the highest).
        public var thresholds: [Float] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]

        /// Default training.
        public init() {}
    }

    /// What training found.
    public struct Report: Sendable {
        /// Rows trained on and the share of them whose key was held.
        public var rows: Int, positiveShare: Double
        /// Mean loss of each epoch.
        public var epochLosses: [Double]
        /// Single-label step accuracy on the development recordings at each threshold tried.
        public var development: [ThresholdAccuracy]
    }

    /// Trains a stage of `settings` (its threshold replaced by the one chosen) on `examples`, then
    /// chooses the threshold by single-label step accuracy on `development` (the threshold kept
    /// when `development` is empty). `progress` hears the epoch and its mean loss.
    public static func train(_ settings: Settings, on examples: [Example], development: [Example], training: Training = Training(),
                             progress: (Int, Double) -> Void = { _, _ in }) throws -> (stage: TemporalStage, report: Report) {
        if let problem = settings.problem { throw FormatError("temporal stage: \(problem)") }
        // Every candidate key of every recording as padded series; rows are (series, step) pairs.
        var series: [KeySeries] = [], targets: [[Float]] = []
        for example in examples {
            for key in example.inputs.candidates(floor: settings.candidateFloor) {
                series.append(KeySeries(example.inputs, key: key, settings: settings))
                targets.append(example.labels.map { $0 == pianoKeys.lowerBound + key ? 1 : 0 })
            }
        }
        var rows: [(series: Int32, step: Int32)] = []
        for (s, one) in series.enumerated() { for t in 0 ..< one.steps { rows.append((Int32(s), Int32(t))) } }
        guard !rows.isEmpty else { throw FormatError("no training rows: no key of the training recordings reaches the candidate floor \(settings.candidateFloor)") }
        let positives = targets.reduce(0) { $0 + $1.reduce(0, +) }

        var generator = SeededGenerator(seed: training.seed)
        let n = settings.features, h = settings.hidden
        func uniform(_ count: Int, _ fanIn: Int) -> [Float] {
            let bound = 1 / Float(fanIn).squareRoot()  // PyTorch's default for linear layers
            return (0 ..< count).map { _ in Float.random(in: -bound ... bound, using: &generator) }
        }
        let initial = try TemporalStage(settings: settings, hiddenWeight: uniform(h * n, n), hiddenBias: [Float](repeating: 0, count: h),
                                        outputWeight: uniform(h, h), outputBias: 0)
        let perceptron = initial.perceptron(), parameters = perceptron.parameters
        let adam = Adam(weightDecay: 0)
        var x = [Float](repeating: 0, count: training.batch * n), y = [Float](repeating: 0, count: training.batch)
        var losses: [Double] = []
        for epoch in 1 ... training.epochs {
            rows.shuffle(using: &generator)
            var sum = 0.0, batches = 0
            for start in stride(from: 0, to: rows.count, by: training.batch) {
                let count = min(training.batch, rows.count - start)
                x.withUnsafeMutableBufferPointer { xp in
                    for i in 0 ..< count {
                        let (s, t) = (Int(rows[start + i].series), Int(rows[start + i].step))
                        series[s].features(at: t, into: xp.baseAddress! + i * n, span: settings.span)
                        y[i] = targets[s][t]
                    }
                }
                parameters.zeroGradients()
                let logits = perceptron.forward(Array(x[0 ..< count * n]), batch: count)
                let (loss, gradient) = Loss.sigmoidCrossEntropy(logits, targets: Array(y[0 ..< count]), batch: count)
                perceptron.backward(gradient)
                adam.step(parameters, learningRate: training.learningRate)
                sum += loss
                batches += 1
            }
            losses.append(sum / Double(batches))
            progress(epoch, sum / Double(batches))
        }
        var stage = try TemporalStage(settings: settings, perceptron)
        let estimates = development.map { stage.probabilities($0.inputs) }, references = development.flatMap(\.labels)
        let grid = training.thresholds.map { threshold in
            ThresholdAccuracy(threshold: threshold, accuracy: TranscriptionMetrics.stepAccuracy(estimates.flatMap { Self.labels($0, threshold: threshold) }, references))
        }
        if let best = Self.best(grid) { stage.settings.threshold = best.threshold }
        return (stage, Report(rows: rows.count, positiveShare: Double(positives) / Double(rows.count), epochLosses: losses, development: grid))
    }

    /// The single-label step accuracy (pooled over steps) at one threshold.
    public struct ThresholdAccuracy: Codable, Sendable, Equatable {
        public var threshold: Float, accuracy: Double
    }

    /// The entry of highest accuracy, of equal ones the highest threshold: the one `train` keeps.
    public static func best(_ grid: [ThresholdAccuracy]) -> ThresholdAccuracy? {
        grid.max { ($0.accuracy, $0.threshold) < ($1.accuracy, $1.threshold) }
    }
}
