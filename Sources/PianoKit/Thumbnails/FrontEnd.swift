import Foundation

/// How spectrogram magnitudes become pixel levels: decibels relative to the recording's loudest
/// value, clipped to a fixed range. Documented in `Schemas/thumbs.md`.
public struct DecibelScale: Codable, Sendable, Equatable {
    /// Decibels below the reference that map to black.
    public var range = 80.0
    /// The smallest reference magnitude: a recording quieter than this is not brightened.
    public var referenceFloor = 1e-4

    /// Default scale: 80 dB below the recording's maximum.
    public init() {}

    /// Levels in [0, 1] for every magnitude: 1 + dB / range, dB = 20 log10(m / max(peak, floor)) clipped to [-range, 0].
    public func levels(_ magnitudes: [Float]) -> [Float] {
        let reference = max(Double(magnitudes.max() ?? 0), referenceFloor)
        let scale = Float(20 / range), offset = Float(1 - 20 * log10(reference) / range)
        return magnitudes.map { m in
            let level = scale * log10(max(m, 1e-20)) + offset
            return min(1, max(0, level))
        }
    }
}

/// The thumbnail geometry: how many frames around each step, and the output size.
public struct ThumbnailGeometry: Codable, Sendable, Equatable {
    /// Output width and height in pixels.
    public var size = 32
    /// Frames of spectrogram in each thumbnail, centred on its step.
    public var context = 16

    /// Creates a geometry.
    public init(size: Int = 32, context: Int = 32) {
        self.size = size
        self.context = context
    }

    /// The first frame of step `k`'s window: the window is [k - context / 2, k - context / 2 + context).
    public func firstFrame(ofStep k: Int) -> Int { k - context / 2 }
}

/// The audio front end shared by `spectro` and `infer`: transform, decibel scale and thumbnail
/// geometry. Both stages call it on the same samples, so training and inference see the same pixels.
public struct FrontEnd: Sendable {
    /// The transform's parameters.
    public let transform: TransformParameters
    /// Magnitude to level mapping.
    public let decibels: DecibelScale
    /// Thumbnail geometry.
    public let geometry: ThumbnailGeometry
    private let cqt: ConstantQTransform?
    private let stft: ShortTimeFourierTransform?

    /// The largest sample rate a front end is planned for (planning time grows with it).
    public static let maximumSampleRate = 768_000
    /// The most CQT bins per octave.
    public static let maximumBinsPerOctave = 120
    /// The largest thumbnail size.
    public static let maximumSize = 1024
    /// The most spectrogram frames in one thumbnail.
    public static let maximumContext = 4096

    /// Plans a front end: `transform` is `cqt` or `stft` (an STFT over the CQT's frequency range).
    public init(transform: String, sampleRate: Int, hop: Int, binsPerOctave: Int, decibels: DecibelScale = DecibelScale(), geometry: ThumbnailGeometry = ThumbnailGeometry()) throws {
        // Parameters come from files (note maps, model metadata): refuse those that would take
        // forever to plan, allocate without bound, or divide by zero, before any work.
        guard (1 ... Self.maximumSampleRate).contains(sampleRate) else {
            throw FormatError("sample rate \(sampleRate) Hz is outside 1...\(Self.maximumSampleRate) Hz")
        }
        guard hop > 0 else { throw FormatError("hop \(hop) must be positive") }
        guard binsPerOctave > 0, binsPerOctave % 12 == 0, binsPerOctave <= Self.maximumBinsPerOctave else {
            throw FormatError("\(binsPerOctave) bins per octave is not a multiple of 12 in 12...\(Self.maximumBinsPerOctave)")
        }
        guard (1 ... Self.maximumSize).contains(geometry.size), (1 ... Self.maximumContext).contains(geometry.context) else {
            throw FormatError("thumbnail size \(geometry.size) and context \(geometry.context) must be in 1...\(Self.maximumSize) and 1...\(Self.maximumContext)")
        }
        guard decibels.range.isFinite, decibels.range > 0, decibels.referenceFloor.isFinite, decibels.referenceFloor > 0 else {
            throw FormatError("decibel range \(decibels.range) and reference floor \(decibels.referenceFloor) must be positive")
        }
        let cqtParameters = TransformParameters.pianoCQT(sampleRate: sampleRate, hop: hop, binsPerOctave: binsPerOctave)
        switch transform {
        case "cqt":
            cqt = try ConstantQTransform(cqtParameters)
            stft = nil
            self.transform = cqtParameters
        case "stft":
            let planned = ShortTimeFourierTransform(covering: cqtParameters)
            stft = planned
            cqt = nil
            self.transform = planned.parameters
        default:
            throw FormatError("unknown transform '\(transform)' (cqt or stft)")
        }
        self.decibels = decibels
        self.geometry = geometry
    }

    /// The magnitude spectrogram of a mono signal on the time grid.
    public func spectrogram(of signal: [Float], threads: Int = 1) -> Spectrogram {
        if let cqt { return cqt.magnitudes(of: signal, threads: threads) }
        return stft!.magnitudes(of: signal, threads: threads)
    }

    /// The level image of a spectrogram, ready to be cut into thumbnails.
    public func levels(of spectrogram: Spectrogram) -> LevelImage {
        LevelImage(bins: spectrogram.bins, frames: spectrogram.frames, levels: decibels.levels(spectrogram.magnitudes))
    }
}

/// Spectrogram levels in [0, 1], frame-major, lowest frequency first.
public struct LevelImage: Sendable {
    /// Frequency bins per frame.
    public let bins: Int
    /// Frames.
    public let frames: Int
    /// Levels, frame-major.
    public let levels: [Float]

    /// A grayscale picture of the whole recording: one column a frame, one row a bin, high
    /// frequencies at the top. Wider than `maxWidth` frames, columns are area-averaged down.
    public func preview(maxWidth: Int = 16000) -> (width: Int, height: Int, pixels: [UInt8]) {
        let width = min(frames, maxWidth), height = bins
        let resize = AreaResize(from: frames, to: width)
        var pixels = [UInt8](repeating: 0, count: width * height)
        for (x, cell) in resize.cells.enumerated() {
            for bin in 0 ..< bins {
                var sum: Float = 0
                for (j, w) in cell.weights.enumerated() { sum += w * levels[(cell.start + j) * bins + bin] }
                pixels[(height - 1 - bin) * width + x] = UInt8((sum * 255).rounded())
            }
        }
        return (width, height, pixels)
    }
}

/// Cuts a level image into one square grayscale thumbnail per step.
///
/// The frequency axis is area-averaged to `size` rows once per frame; each thumbnail then
/// area-averages its `context` frames to `size` columns. Frames before the start or after the
/// end of the recording are black. Row 0 is the highest frequency, column 0 the earliest frame.
public struct Thumbnailer: Sendable {
    /// The geometry.
    public let geometry: ThumbnailGeometry
    private let columns: [Float]  // frames x size, frequency-reduced, row 0 = highest
    private let frames: Int
    private let timeResize: AreaResize

    /// Prepares thumbnails of `image`.
    public init(_ image: LevelImage, geometry: ThumbnailGeometry) {
        self.geometry = geometry
        frames = image.frames
        let size = geometry.size
        let frequency = AreaResize(from: image.bins, to: size)
        var columns = [Float](repeating: 0, count: image.frames * size)
        image.levels.withUnsafeBufferPointer { levels in
            for t in 0 ..< image.frames {
                for (r, cell) in frequency.cells.enumerated() {
                    var sum: Float = 0
                    for (j, w) in cell.weights.enumerated() { sum += w * levels[t * image.bins + cell.start + j] }
                    columns[t * size + (size - 1 - r)] = sum
                }
            }
        }
        self.columns = columns
        timeResize = AreaResize(from: geometry.context, to: size)
    }

    /// The thumbnail of step `k`: size x size bytes, row-major.
    public func thumbnail(step k: Int) -> [UInt8] {
        let size = geometry.size, first = geometry.firstFrame(ofStep: k)
        var pixels = [UInt8](repeating: 0, count: size * size)
        var column = [Float](repeating: 0, count: size)
        columns.withUnsafeBufferPointer { src in
            for (c, cell) in timeResize.cells.enumerated() {
                for r in 0 ..< size { column[r] = 0 }
                for (j, w) in cell.weights.enumerated() {
                    let t = first + cell.start + j
                    guard t >= 0 && t < frames else { continue }
                    let base = src.baseAddress! + t * size
                    for r in 0 ..< size { column[r] += w * base[r] }
                }
                for r in 0 ..< size { pixels[r * size + c] = UInt8((column[r] * 255).rounded()) }
            }
        }
        return pixels
    }
}
