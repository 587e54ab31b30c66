import Foundation

/// A learned stage that reads a per-key model's outputs along time, for the paper's single-label
/// task (which key is held at each step, or none).
///
/// The network sees 16 frames (186 ms) per step: too little to tell a held note whose sound has
/// faded from a released one. The stage looks further. For each *candidate* key of a recording
/// (one whose frame probability reaches `Settings.candidateFloor` at some step), a perceptron with
/// one hidden layer reads, around each step t:
///
/// - the key's frame probabilities at steps t - window ... t + window (2 window + 1 values, 0 outside the recording),
/// - its onset probabilities over the same steps,
/// - the strongest onset probability of steps t - memory ... t (steps before the recording count
///   as 0; of equal ones the earliest), how long ago it was as a share of `memory` (0...1), and the
///   highest frame probability from that step (or the first step) to t,
/// - its spectrogram level over the same 2 window + 1 steps: the pixel of the key's row of the
///   thumbnail strip (the model's front end, 0...255) over 255, 0 outside the recording,
///
/// in that order (`Settings.features` values), and gives the probability that the key is held at
/// t. The level is what tells a released note (its sound falls fast, dampers down) from a held one
/// that decays slowly. The single-label reading of a step is the candidate of highest probability
/// (of equal ones the lowest) when it reaches `Settings.threshold`, else silence.
///
/// Stored in the model file beside the network (Schemas/model.md: metadata `temporalStage`, tensors
/// `temporal.hidden.*` and `temporal.output.*`); trained by `train-stage` (`TemporalStage+Training`).
public struct TemporalStage: Sendable, Equatable {
    /// The stage's shape and decision settings, as stored in the model's `temporalStage` metadata.
    public struct Settings: Codable, Sendable, Equatable {
        /// Steps each side of t whose frame, onset and level values are read (48: ±0.56 s at 11.6 ms steps).
        public var window = 48
        /// Steps back over which the strongest onset is found (400: 4.6 s).
        public var memory = 400
        /// Hidden units.
        public var hidden = 32
        /// A key is a candidate when its frame probability reaches this at some step of the recording.
        public var candidateFloor: Float = 0.1
        /// A step's best candidate is its label when its probability reaches this (chosen on
        /// development recordings by `train-stage`); else the step is silence.
        public var threshold: Float = 0.5

        /// Default settings.
        public init() {}

        /// Inputs of the perceptron: frame, onset and level windows and the three onset-memory values.
        public var features: Int { 3 * span + 3 }
        /// 2 window + 1.
        var span: Int { 2 * window + 1 }

        /// Why these settings cannot be used, or nil.
        public var problem: String? {
            guard (0 ... 1000).contains(window) else { return "window \(window) is not in 0...1000" }
            guard (1 ... 100_000).contains(memory) else { return "memory \(memory) is not in 1...100000" }
            guard (1 ... 4096).contains(hidden) else { return "hidden \(hidden) is not in 1...4096" }
            guard (0 ... 1).contains(candidateFloor), (0 ... 1).contains(threshold) else {
                return "candidateFloor \(candidateFloor) and threshold \(threshold) must lie in 0...1"
            }
            return nil
        }
    }

    /// The settings.
    public var settings: Settings
    /// [hidden, features], row-major.
    public var hiddenWeight: [Float]
    /// [hidden].
    public var hiddenBias: [Float]
    /// [1, hidden].
    public var outputWeight: [Float]
    /// [1].
    public var outputBias: Float

    /// A stage of `settings` with these weights; throws `FormatError` when the shapes do not fit.
    public init(settings: Settings, hiddenWeight: [Float], hiddenBias: [Float], outputWeight: [Float], outputBias: Float) throws {
        if let problem = settings.problem { throw FormatError("temporal stage: \(problem)") }
        let h = settings.hidden
        guard hiddenWeight.count == h * settings.features, hiddenBias.count == h, outputWeight.count == h else {
            throw FormatError("temporal stage: weights of \(hiddenWeight.count), \(hiddenBias.count) and \(outputWeight.count) values do not fit \(h) hidden units over \(settings.features) features")
        }
        self.settings = settings
        self.hiddenWeight = hiddenWeight
        self.hiddenBias = hiddenBias
        self.outputWeight = outputWeight
        self.outputBias = outputBias
    }

    // MARK: - Inputs

    /// Why a model with this front end cannot carry a stage (its thumbnails need one row per piano
    /// key, A0 to C8, the highest first, and one column per frame, so that a key's level at a step
    /// is one pixel of the strip), or nil.
    public static func refusal(_ frontEnd: ArchiveManifest.FrontEndRecord) -> String? {
        let t = frontEnd.transform
        let keys = t.binsPerOctave > 0 && t.bins * 12 % t.binsPerOctave == 0 ? t.bins * 12 / t.binsPerOctave : 0
        let g = frontEnd.geometry
        guard g.rows == pianoKeys.count, abs(t.fmin - 27.5) < 0.01, keys == pianoKeys.count, g.columns == g.context else {
            return "a temporal stage needs thumbnails of one row per key (88 rows, fmin 27.5 Hz, 88 semitones of bins) and one column per frame; this model's are \(g.rows) x \(g.columns) over \(g.context) frames, from \(t.fmin) Hz over \(t.bins) bins at \(t.binsPerOctave) per octave"
        }
        return nil
    }

    /// One recording as the stage reads it: per step the frame and onset probabilities of the 88
    /// keys (A0 first) and the key rows' levels (0...1, A0 first), steps x 88 each, step-major.
    public struct Inputs: Sendable {
        /// Steps.
        public let steps: Int
        /// Frame probabilities, steps x 88.
        public let frame: [Float]
        /// Onset probabilities, steps x 88.
        public let onset: [Float]
        /// Levels, steps x 88.
        public let levels: [Float]

        /// Inputs from a model's head outputs and its thumbnail strip (`Thumbnailer.strip(before:
        /// 0, after: 0)`: 88 rows x steps pixels, the highest key first); nil when the outputs lack
        /// a frame or an onset head.
        public init?(outputs: HeadOutputs, strip: [UInt8]) {
            guard let frame = outputs[.frame], let onset = outputs[.onset] else { return nil }
            let steps = outputs.steps, keys = pianoKeys.count
            precondition(strip.count == keys * steps && frame.count == keys * steps && onset.count == keys * steps)
            var levels = [Float](repeating: 0, count: keys * steps)
            for row in 0 ..< keys {
                let key = keys - 1 - row
                for t in 0 ..< steps { levels[t * keys + key] = Float(strip[row * steps + t]) / 255 }
            }
            self.init(steps: steps, frame: frame, onset: onset, levels: levels)
        }

        /// Inputs from their arrays (steps x 88 each).
        public init(steps: Int, frame: [Float], onset: [Float], levels: [Float]) {
            precondition(frame.count == steps * pianoKeys.count && onset.count == frame.count && levels.count == frame.count)
            self.steps = steps
            self.frame = frame
            self.onset = onset
            self.levels = levels
        }

        /// Key indices (0 = A0) whose frame probability reaches `floor` at some step, ascending.
        public func candidates(floor: Float) -> [Int] {
            (0 ..< pianoKeys.count).filter { key in (0 ..< steps).contains { frame[$0 * pianoKeys.count + key] >= floor } }
        }

        /// One key's column, `steps` values.
        func column(_ values: [Float], key: Int) -> [Float] { (0 ..< steps).map { values[$0 * pianoKeys.count + key] } }
    }

    /// One key's series, padded so that every step's window is a contiguous run: the frame, onset
    /// and level columns with `window` zeros each side, and the three onset-memory values per step.
    struct KeySeries: Sendable {
        let steps: Int
        let frame: [Float], onset: [Float], levels: [Float]
        /// Per step: strongest onset, its age / memory, highest frame probability since.
        let memory: [Float]

        init(_ inputs: Inputs, key: Int, settings: Settings) {
            let w = settings.window, steps = inputs.steps
            self.steps = steps
            let frame = inputs.column(inputs.frame, key: key), onset = inputs.column(inputs.onset, key: key)
            let pad = [Float](repeating: 0, count: w)
            self.frame = pad + frame + pad
            self.onset = pad + onset + pad
            levels = pad + inputs.column(inputs.levels, key: key) + pad
            memory = Self.memory(frame: frame, onset: onset, span: settings.memory)
        }

        /// Steps x 3: for each t the strongest onset of t - span ... t (before the recording: 0; ties:
        /// the earliest), (t - its step) / span, and the highest frame value from max(0, its step) to t.
        static func memory(frame: [Float], onset: [Float], span: Int) -> [Float] {
            let steps = frame.count
            var out = [Float](repeating: 0, count: 3 * steps)
            let maxima = RangeMaxima(frame)
            // Sliding maximum over the padded onsets (span zeros, then the recording): a deque of
            // padded indices whose values never increase, so its front is the earliest maximum.
            var deque = [Int](repeating: 0, count: span + steps), head = 0, tail = 0
            func value(_ i: Int) -> Float { i < span ? 0 : onset[i - span] }
            for i in 0 ..< span + steps {
                while tail > head, value(deque[tail - 1]) < value(i) { tail -= 1 }
                deque[tail] = i
                tail += 1
                guard i >= span else { continue }
                let t = i - span
                while deque[head] < t { head += 1 }  // the window is padded indices t ... t + span
                let j = deque[head], source = j - span
                out[3 * t] = value(j)
                out[3 * t + 1] = Float(t - source) / Float(span)
                out[3 * t + 2] = maxima.max(from: max(0, source), through: t)
            }
            return out
        }

        /// Writes step t's features (`Settings.features` values) to `row`.
        func features(at t: Int, into row: UnsafeMutablePointer<Float>, span: Int) {
            frame.withUnsafeBufferPointer { row.update(from: $0.baseAddress! + t, count: span) }
            onset.withUnsafeBufferPointer { (row + span).update(from: $0.baseAddress! + t, count: span) }
            for j in 0 ..< 3 { row[2 * span + j] = memory[3 * t + j] }
            levels.withUnsafeBufferPointer { (row + 2 * span + 3).update(from: $0.baseAddress! + t, count: span) }
        }
    }

    // MARK: - Outputs

    /// The perceptron as the network library's layers, holding these weights: a `Dense` of
    /// `hidden` units, a `ReLU`, a `Dense` of one output (the logit). What `train` updates and
    /// `probabilities` runs; the layers keep a batch's activations, so each use builds its own.
    struct Perceptron {
        let hidden: Dense, relu: ReLU, output: Dense

        /// The parameters: hidden weight and bias, output weight and bias.
        var parameters: [Parameter] { hidden.parameters + output.parameters }

        /// The logits of `batch` feature rows (batch x features, row-major).
        func forward(_ x: [Float], batch: Int) -> [Float] {
            output.forward(relu.forward(hidden.forward(x, batch: batch), batch: batch), batch: batch)
        }

        /// Adds the parameter gradients of the loss whose gradient with respect to the logits is `dz`.
        func backward(_ dz: [Float]) { _ = hidden.backward(relu.backward(output.backward(dz))) }
    }

    /// The perceptron holding this stage's weights.
    func perceptron() -> Perceptron {
        let h = settings.hidden
        let hidden = Dense(name: Self.names.hiddenLayer, inputs: settings.features, outputs: h) { _, _ in hiddenWeight }
        let output = Dense(name: Self.names.outputLayer, inputs: h, outputs: 1) { _, _ in outputWeight }
        hidden.bias.value = hiddenBias
        output.bias.value = [outputBias]
        return Perceptron(hidden: hidden, relu: ReLU(ActivationShape(channels: h, height: 1, width: 1)), output: output)
    }

    /// A stage of `settings` holding the perceptron's weights.
    init(settings: Settings, _ perceptron: Perceptron) throws {
        try self.init(settings: settings, hiddenWeight: perceptron.hidden.weight.value, hiddenBias: perceptron.hidden.bias.value,
                      outputWeight: perceptron.output.weight.value, outputBias: perceptron.output.bias.value[0])
    }

    /// Per step and key (steps x 88, step-major) the probability that the key is held; 0 for keys
    /// that are not candidates.
    public func probabilities(_ inputs: Inputs) -> [Float] {
        let keys = pianoKeys.count, steps = inputs.steps, span = settings.span, n = settings.features
        var out = [Float](repeating: 0, count: steps * keys)
        let chunk = 4096, perceptron = perceptron()
        for key in inputs.candidates(floor: settings.candidateFloor) {
            let series = KeySeries(inputs, key: key, settings: settings)
            for start in stride(from: 0, to: steps, by: chunk) {
                let count = min(chunk, steps - start)
                let rows = [Float](unsafeUninitializedCapacity: count * n) { r, initialized in
                    for i in 0 ..< count { series.features(at: start + i, into: r.baseAddress! + i * n, span: span) }
                    initialized = count * n
                }
                let p = KeySetRule(kind: .frame).probabilities(perceptron.forward(rows, batch: count)[...])
                for i in 0 ..< count { out[(start + i) * keys + key] = p[i] }
            }
        }
        return out
    }

    /// The single-label reading of `probabilities` (steps x 88, from `probabilities(_:)`): per step
    /// the MIDI pitch (21...108) of the highest probability (of equal ones the lowest key) when it
    /// reaches `threshold`, else 0.
    public static func labels(_ probabilities: [Float], threshold: Float) -> [Int] {
        let keys = pianoKeys.count
        return stride(from: 0, to: probabilities.count, by: keys).map { start in
            var best: Float = 0, key = -1
            for k in 0 ..< keys where probabilities[start + k] > best { (best, key) = (probabilities[start + k], k) }
            return key >= 0 && best >= threshold ? pianoKeys.lowerBound + key : 0
        }
    }

    /// `labels(_:threshold:)` at the stage's own threshold.
    public func labels(_ probabilities: [Float]) -> [Int] { Self.labels(probabilities, threshold: settings.threshold) }
}

/// Maxima of any range of a series in constant time (a sparse table: level j holds the maximum of
/// each run of 2^j values), built in n log n.
struct RangeMaxima {
    private var levels: [[Float]]

    init(_ values: [Float]) {
        levels = [values]
        var width = 1
        while 2 * width <= values.count {
            let previous = levels[levels.count - 1]
            levels.append((0 ... values.count - 2 * width).map { Swift.max(previous[$0], previous[$0 + width]) })
            width *= 2
        }
    }

    /// The largest of values[from ... through]; from <= through, both in range.
    func max(from: Int, through: Int) -> Float {
        let length = through - from + 1
        let j = Int.bitWidth - 1 - length.leadingZeroBitCount, width = 1 << j
        return Swift.max(levels[j][from], levels[j][through - width + 1])
    }
}

// MARK: - In the model file

extension TemporalStage {
    /// The model metadata key holding the stage's settings (JSON).
    public static let metadataKey = "temporalStage"
    /// Tensor names: the hidden and output layers' weights and biases.
    static let names = (hiddenLayer: "temporal.hidden", outputLayer: "temporal.output",
                        hiddenWeight: "temporal.hidden.weight", hiddenBias: "temporal.hidden.bias",
                        outputWeight: "temporal.output.weight", outputBias: "temporal.output.bias")

    /// The stage's tensors as the model file stores them.
    var tensors: [String: Tensor] {
        let h = settings.hidden
        return [Self.names.hiddenWeight: Tensor(shape: [h, settings.features], values: hiddenWeight),
                Self.names.hiddenBias: Tensor(shape: [h], values: hiddenBias),
                Self.names.outputWeight: Tensor(shape: [1, h], values: outputWeight),
                Self.names.outputBias: Tensor(shape: [1], values: [outputBias])]
    }

    /// Removes the stage's tensors from a model file's `tensors` and builds the stage, or returns
    /// nil when the metadata names none; throws `FormatError` for settings, tensors or a front end
    /// that do not fit, and for stage tensors without settings.
    static func take(from tensors: inout [String: Tensor], metadata: [String: String], frontEnd: ArchiveManifest.FrontEndRecord) throws -> TemporalStage? {
        let stageNames = tensors.keys.filter { $0.hasPrefix("temporal.") }
        guard let text = metadata[metadataKey] else {
            guard stageNames.isEmpty else { throw FormatError("tensors \(stageNames.sorted()) belong to a temporal stage, but the metadata has no \(metadataKey)") }
            return nil
        }
        guard let settings = try? JSONDecoder().decode(Settings.self, from: Data(text.utf8)) else {
            throw FormatError("\(metadataKey) metadata is not valid stage settings JSON")
        }
        if let problem = settings.problem { throw FormatError("temporal stage: \(problem)") }
        if let refusal = refusal(frontEnd) { throw FormatError(refusal) }
        let h = settings.hidden
        let expected = [names.hiddenWeight: [h, settings.features], names.hiddenBias: [h], names.outputWeight: [1, h], names.outputBias: [1]]
        guard Set(stageNames) == Set(expected.keys) else {
            throw FormatError("temporal stage tensors \(stageNames.sorted()) are not \(expected.keys.sorted())")
        }
        for (name, shape) in expected where tensors[name]!.shape != shape {
            throw FormatError("tensor \(name) has shape \(tensors[name]!.shape), expected \(shape)")
        }
        let stage = try TemporalStage(settings: settings, hiddenWeight: tensors[names.hiddenWeight]!.values, hiddenBias: tensors[names.hiddenBias]!.values,
                                      outputWeight: tensors[names.outputWeight]!.values, outputBias: tensors[names.outputBias]!.values[0])
        for name in stageNames { tensors[name] = nil }
        return stage
    }
}
