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

    /// Loads `path` and rebuilds its front end; refuses a model whose front end this code cannot reproduce.
    public init(modelPath path: String) throws {
        let model = try ModelFile.read(path: path)
        self.path = path
        network = model.network
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
        let size = record.geometry.size, crop = network.input.height
        guard crop <= size else { throw FileError(path, "network input \(crop)x\(crop) is larger than the \(size)x\(size) thumbnails") }
        pipeline = InputPipeline(size: size, crop: crop, distort: false)
    }

    /// The time grid the model's outputs lie on.
    public var grid: TimeGrid { TimeGrid(sampleRate: record.transform.sampleRate, hop: record.transform.hop) }

    /// Checks that audio described by `info` fits the model's front end.
    public func check(_ info: AudioInfo, path: String) throws {
        guard info.frames > 0 else { throw FileError(path, "zero-length audio: nothing to transcribe") }
        guard info.sampleRate == record.transform.sampleRate else {
            throw FileError(path, "sample rate \(info.sampleRate) Hz, but the model \(self.path) was trained on \(record.transform.sampleRate) Hz audio")
        }
    }

    /// The level image of a mono signal (the spectrogram `spectro` would compute).
    public func levels(of signal: [Float], threads: Int) -> LevelImage {
        frontEnd.levels(of: frontEnd.spectrogram(of: signal, threads: threads))
    }

    /// Every step's thumbnail as `pack` stores it: cut, JPEG-encoded at the model's quality and
    /// decoded again, so that inference sees the training pixels. Steps x size x size bytes.
    public func thumbnails(of image: LevelImage, threads: Int) throws -> [UInt8] {
        let size = record.geometry.size, steps = image.frames, quality = record.quality
        let thumbnailer = Thumbnailer(image, geometry: record.geometry)
        // One encoder and decoder (TurboJPEG handles) per chunk of steps, chunks in parallel.
        let chunk = max(1, (steps + threads - 1) / max(1, threads))
        let chunks = stride(from: 0, to: steps, by: chunk).map { $0 ..< min(steps, $0 + chunk) }
        let parts: [Result<[UInt8], any Error>] = chunks.parallelMap(jobs: threads) { range in
            Result {
                let encoder = try JPEGEncoder(quality: quality), decoder = try JPEGDecoder()
                var pixels: [UInt8] = []
                pixels.reserveCapacity(range.count * size * size)
                for k in range {
                    let decoded = try decoder.decodeGray(try encoder.encode(gray: thumbnailer.thumbnail(step: k), width: size, height: size))
                    guard decoded.width == size, decoded.height == size else { throw FormatError("JPEG round trip changed the thumbnail size") }
                    pixels += decoded.pixels
                }
                return pixels
            }
        }
        return try parts.flatMap { try $0.get() }
    }

    /// The network's output probabilities for every step: softmax over 128 classes (single) or a
    /// sigmoid per key (multi). Steps x outputs, computed `batch` thumbnails at a time.
    public func probabilities(of thumbnails: [UInt8], batch: Int = 256) -> [Float] {
        let area = record.geometry.size * record.geometry.size, outputs = network.labels.outputs
        let steps = thumbnails.count / area
        var result = [Float]()
        result.reserveCapacity(steps * outputs)
        var unused = SeededGenerator(seed: 0)
        for start in stride(from: 0, to: steps, by: max(1, batch)) {
            let count = min(batch, steps - start)
            var images = [Float]()
            images.reserveCapacity(count * network.input.count)
            for n in start ..< start + count {
                images += pipeline.prepare(thumbnails[n * area ..< (n + 1) * area], training: false, rng: &unused)
            }
            let logits = network.forward(images, batch: count)
            switch network.labels {
            case .single:
                for n in 0 ..< count {
                    let row = logits[n * outputs ..< (n + 1) * outputs]
                    let peak = row.max()!
                    let exps = row.map { Double(exp($0 - peak)) }
                    let total = exps.reduce(0, +)
                    result += exps.map { Float($0 / total) }
                }
            case .multi:
                result += logits.map { 1 / (1 + exp(-$0)) }
            }
        }
        return result
    }
}
