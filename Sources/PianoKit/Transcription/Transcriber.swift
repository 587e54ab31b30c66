import Foundation

/// A trained model with the audio front end it was trained on: audio in, per-step network
/// outputs (probabilities) out, through exactly the pixels `spectro` would write.
///
/// Not for concurrent use: the network's layers keep the activations of the batch in flight.
/// (Marked `Sendable` so a batch runner with one worker may carry it.)
public final class Transcriber: @unchecked Sendable {
    /// The network, weights loaded.
    public let network: Network
    /// The front end recorded in the model file.
    public let record: ArchiveManifest.FrontEndRecord
    /// The front end rebuilt from that record.
    public let frontEnd: FrontEnd
    /// Centre crop and standardisation, as the trainer evaluates.
    public let pipeline: InputPipeline
    /// The model file.
    public let path: String
    /// The network over whole recordings, when it qualifies (`SlidingEvaluator.refusal`) and its
    /// input is the whole thumbnail.
    public let sliding: SlidingEvaluator?
    /// The temporal stage stored with the network, if any: the single-label reading of its outputs.
    public let stage: TemporalStage?
    /// The model file's metadata (Schemas/model.md).
    public let metadata: [String: String]

    /// Loads `path` and rebuilds its front end; refuses a model whose front end this code cannot reproduce.
    public init(modelPath path: String) throws {
        let model = try ModelFile.readWithStage(path: path)
        self.path = path
        network = model.network
        stage = model.stage
        metadata = model.metadata
        record = model.frontEnd
        let t = record.transform
        do {
            frontEnd = try FrontEnd(transform: t.transform, sampleRate: t.sampleRate, hop: t.hop, binsPerOctave: t.binsPerOctave,
                                    decibels: record.decibels, geometry: record.geometry)
        } catch let error as FormatError {
            throw FileError(path, "front end: \(error.message)")
        }
        guard frontEnd.transform == t else {
            throw FileError(path, "the model's \(t.transform) parameters (fmin \(t.fmin) Hz, \(t.bins) bins, FFT \(t.fftSize.map(String.init) ?? "-")) cannot be rebuilt by this version")
        }
        guard (1 ... 100).contains(record.quality) else { throw FileError(path, "front end JPEG quality \(record.quality) is not in 1...100") }
        let geometry = record.geometry, input = network.input
        guard input.channels == 1, input.height <= geometry.rows, input.width <= geometry.columns else {
            throw FileError(path, "network input \(input.channels)x\(input.height)x\(input.width) does not fit the 1x\(geometry.rows)x\(geometry.columns) thumbnails")
        }
        pipeline = InputPipeline(geometry: geometry, input: input, normalization: network.spec.normalization)
        sliding = Self.slidingEvaluator(network, geometry: geometry)
    }

    /// Another transcriber of the same model for a concurrent worker: its own network (the layers
    /// keep a batch's activations), the same weights, front end (FFTW plans are made once and
    /// executed from many threads) and settings; nothing is read again.
    public func copy() throws -> Transcriber { try Transcriber(copying: self) }

    private init(copying other: Transcriber) throws {
        path = other.path
        record = other.record
        frontEnd = other.frontEnd
        pipeline = other.pipeline
        stage = other.stage
        metadata = other.metadata
        network = try other.network.copy()
        sliding = Self.slidingEvaluator(network, geometry: record.geometry)
    }

    /// The sliding evaluator of `network` when it qualifies and its input is the whole thumbnail of
    /// one frame per column; a network that cannot be prepared for it (never one `refusal`
    /// accepts) goes thumbnail by thumbnail.
    private static func slidingEvaluator(_ network: Network, geometry: ThumbnailGeometry) -> SlidingEvaluator? {
        let input = network.input
        let whole = input.height == geometry.rows && input.width == geometry.columns && geometry.columns == geometry.context
        return whole && SlidingEvaluator.refusal(network) == nil ? try? SlidingEvaluator(network) : nil
    }

    /// Why `evaluation` cannot be used with this model, or nil.
    public func refusal(_ evaluation: InferenceMode) -> String? {
        guard evaluation == .sliding, sliding == nil else { return nil }
        if let reason = SlidingEvaluator.refusal(network) { return "the network cannot slide over a recording: \(reason)" }
        return "the network's input (\(network.input.height)x\(network.input.width)) is not the whole \(record.geometry) thumbnail of one frame per column"
    }

    /// The network's output probabilities for every step of `image` and the pixels it saw (steps x
    /// rows x columns bytes, only when `keepPixels`): by `sliding` over the whole recording (no JPEG
    /// round trip: the pixels `spectro` encodes) or from each step's JPEG round-tripped thumbnail.
    /// Throws when `evaluation` is `.sliding` and the model does not allow it (`refusal`).
    /// `progress` hears the steps done as the network goes.
    public func outputs(of image: LevelImage, evaluation: InferenceMode, batch: Int, threads: Int, keepPixels: Bool,
                        progress: (Int) -> Void = { _ in }) throws -> (outputs: HeadOutputs, pixels: [UInt8]?) {
        if let reason = refusal(evaluation) { throw FileError(path, reason) }
        guard evaluation != .thumbnails, let sliding else {
            let thumbnails = try thumbnails(of: image, threads: threads)
            return (probabilities(of: thumbnails, batch: batch, progress: progress), keepPixels ? thumbnails : nil)
        }
        let geometry = record.geometry, before = -geometry.firstFrame(ofStep: 0), after = geometry.context - before
        let thumbnailer = Thumbnailer(image, geometry: geometry), steps = image.frames
        let width = before + steps + after, strip = thumbnailer.strip(before: before, after: after)!
        var result = HeadOutputs(steps: steps, heads: network.heads.map(\.kind))
        for (head, logits) in zip(network.heads, sliding.logits(strip, width: width, windows: steps, progress: progress)) {
            result.values[head.kind] = head.rule.probabilities(logits, count: steps)
        }
        guard keepPixels else { return (result, nil) }
        var pixels = [UInt8](repeating: 0, count: steps * geometry.pixels)
        for k in 0 ..< steps {
            for r in 0 ..< geometry.rows {
                for c in 0 ..< geometry.columns { pixels[(k * geometry.rows + r) * geometry.columns + c] = strip[r * width + k + c] }
            }
        }
        return (result, pixels)
    }

    /// The temporal stage's probabilities (steps x 88: the probability that each key is held, 0 for
    /// keys that are not candidates) for `outputs` of `image`; nil without a stage or without the
    /// frame and onset heads it reads.
    public func stageProbabilities(_ outputs: HeadOutputs, of image: LevelImage) -> [Float]? {
        guard let stage, let inputs = stageInputs(outputs, of: image) else { return nil }
        return stage.probabilities(inputs)
    }

    /// What a temporal stage reads of `outputs` of `image`: the frame and onset heads and the key
    /// rows of the thumbnail strip; nil without those heads or a strip of one column per frame.
    public func stageInputs(_ outputs: HeadOutputs, of image: LevelImage) -> TemporalStage.Inputs? {
        guard let strip = Thumbnailer(image, geometry: record.geometry).strip(before: 0, after: 0) else { return nil }
        return TemporalStage.Inputs(outputs: outputs, strip: strip)
    }

    /// The time grid the model's outputs lie on.
    public var grid: TimeGrid { TimeGrid(sampleRate: record.transform.sampleRate, hop: record.transform.hop) }

    /// Checks that audio described by `info` can be transcribed: it has samples, at a rate in
    /// `Resampler.rates` (`InferRun` resamples it to the model's `record.transform.sampleRate`).
    public func check(_ info: AudioInfo, path: String) throws {
        guard info.frames > 0 else { throw FileError(path, "zero-length audio: nothing to transcribe") }
        do { try Resampler.check(info.sampleRate) } catch { throw FileError.wrap(error, path: path) }
    }

    /// The level image of a mono signal (the spectrogram `spectro` would compute).
    public func levels(of signal: [Float], threads: Int) -> LevelImage {
        frontEnd.levels(of: frontEnd.spectrogram(of: signal, threads: threads))
    }

    /// Every step's thumbnail as `pack` stores it: cut, JPEG-encoded at the model's quality and
    /// decoded again, so that inference sees the training pixels. Steps x rows x columns bytes.
    public func thumbnails(of image: LevelImage, threads: Int) throws -> [UInt8] {
        let geometry = record.geometry, steps = image.frames, quality = record.quality
        let thumbnailer = Thumbnailer(image, geometry: record.geometry)
        // One encoder and decoder per chunk of steps, chunks in parallel.
        let chunk = max(1, (steps + threads - 1) / max(1, threads))
        let chunks = stride(from: 0, to: steps, by: chunk).map { $0 ..< min(steps, $0 + chunk) }
        let parts: [Result<[UInt8], any Error>] = chunks.parallelMap(jobs: threads) { range in
            Result {
                let encoder = try JPEGEncoder(quality: quality), decoder = try JPEGDecoder()
                var pixels = [UInt8](repeating: 0, count: range.count * geometry.pixels)
                try pixels.withUnsafeMutableBufferPointer { out in
                    for (n, k) in range.enumerated() {
                        let jpeg = try encoder.encode(gray: thumbnailer.thumbnail(step: k), width: geometry.columns, height: geometry.rows)
                        let size = try jpeg.withUnsafeBytes {
                            try decoder.decodeGray($0, into: out.baseAddress! + n * geometry.pixels, ifSize: (geometry.columns, geometry.rows))
                        }
                        guard size == (geometry.columns, geometry.rows) else { throw FormatError("JPEG round trip changed the thumbnail size") }
                    }
                }
                return pixels
            }
        }
        return try parts.flatMap { try $0.get() }
    }

    /// The network's output probabilities for every step and head (softmax over 128 classes for
    /// `single`, a sigmoid per key for `frame` and `onset`), computed `batch` thumbnails at a time;
    /// `progress` hears the steps done after each batch.
    public func probabilities(of thumbnails: [UInt8], batch: Int = 256, progress: (Int) -> Void = { _ in }) -> HeadOutputs {
        let area = record.geometry.pixels
        let steps = thumbnails.count / area
        var result = HeadOutputs(steps: steps, heads: network.heads.map(\.kind))
        var unused = SeededGenerator(seed: 0)
        for start in stride(from: 0, to: steps, by: max(1, batch)) {
            let count = min(batch, steps - start)
            var images = [Float]()
            images.reserveCapacity(count * network.input.count)
            for n in start ..< start + count {
                images += pipeline.prepare(thumbnails[n * area ..< (n + 1) * area], training: false, rng: &unused)
            }
            for (head, logits) in zip(network.heads, network.infer(images, batch: count)) {
                result.values[head.kind, default: []] += head.rule.probabilities(logits, count: count)
            }
            progress(start + count)
        }
        return result
    }
}

/// How `infer` puts a recording through the network.
public enum InferenceMode: String, Codable, Sendable, CaseIterable {
    /// `sliding` when the model allows it, else `thumbnails`.
    case auto
    /// One thumbnail per step, JPEG round-tripped as `spectro` writes and `pack` reads it: the
    /// pixels the network was trained on.
    case thumbnails
    /// The whole recording at once (`SlidingEvaluator`), without the JPEG round trip: several
    /// times faster; the outputs differ from `thumbnails` only by what JPEG changes.
    case sliding
}

/// Per-step probabilities of each head of a network over one recording.
public struct HeadOutputs: Sendable, Equatable {
    /// Steps.
    public var steps: Int
    /// The heads, in the network's order.
    public var heads: [HeadKind]
    /// Per head: steps x outputs, step-major.
    public var values: [HeadKind: [Float]] = [:]

    /// Empty outputs for `heads`.
    public init(steps: Int, heads: [HeadKind]) {
        self.steps = steps
        self.heads = heads
    }

    /// One head's probabilities (steps x its outputs), or nil if the network has no such head.
    public subscript(kind: HeadKind) -> [Float]? { values[kind] }

    /// Every head's probabilities side by side: steps x (sum of the heads' outputs), heads in order.
    public var concatenated: (values: [Float], width: Int) {
        let width = heads.reduce(0) { $0 + $1.outputs }
        var out = [Float](repeating: 0, count: steps * width)
        var column = 0
        for head in heads {
            let v = values[head] ?? [], n = head.outputs
            for k in 0 ..< steps where (k + 1) * n <= v.count {
                for j in 0 ..< n { out[k * width + column + j] = v[k * n + j] }
            }
            column += n
        }
        return (out, width)
    }
}
