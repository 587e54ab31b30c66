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

/// The thumbnail geometry: how many frames around each step, and the picture's rows (frequency,
/// area-averaged from the spectrogram's bins, highest on top) and columns (time, area-averaged
/// from the `context` frames). The paper's is 32x32 of 32 frames; rows equal to the CQT's bins (or
/// to the 88 keys at 12·k bins per octave: one row per key) keep the frequency resolution.
public struct ThumbnailGeometry: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The default rows and columns (the paper's 32x32).
    public static let defaultSize = 32
    /// The default context: 16 frames (0.19 s at hop 512 and 44.1 kHz).
    public static let defaultContext = 16

    /// Pixel rows: frequency, highest first.
    public var rows: Int
    /// Pixel columns: time, earliest first.
    public var columns: Int
    /// Frames of spectrogram in each thumbnail, centred on its step.
    public var context: Int

    /// A rows x columns geometry.
    public init(rows: Int, columns: Int, context: Int = defaultContext) {
        self.rows = rows
        self.columns = columns
        self.context = context
    }

    /// A square size x size geometry.
    public init(size: Int = defaultSize, context: Int = defaultContext) {
        self.init(rows: size, columns: size, context: context)
    }

    /// Parses `ROWSxCOLS` (e.g. `88x16`) or one number for a square; nil for anything else.
    public init?(parsing text: String, context: Int = defaultContext) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard (1 ... 2).contains(parts.count), let rows = Int(parts[0]), let columns = Int(parts.last!) else { return nil }
        self.init(rows: rows, columns: columns, context: context)
    }

    /// Pixels per thumbnail.
    public var pixels: Int { rows * columns }

    /// `ROWSxCOLS`.
    public var description: String { "\(rows)x\(columns)" }

    /// The first frame of step `k`'s window: the window is [k - context / 2, k - context / 2 + context).
    public func firstFrame(ofStep k: Int) -> Int { k - context / 2 }

    private enum CodingKeys: String, CodingKey { case rows, columns, context, size }

    /// Reads `rows` and `columns`, or the version-1 files' `size` (a square).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        context = try c.decode(Int.self, forKey: .context)
        if let size = try c.decodeIfPresent(Int.self, forKey: .size) {
            rows = size
            columns = size
        } else {
            rows = try c.decode(Int.self, forKey: .rows)
            columns = try c.decode(Int.self, forKey: .columns)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rows, forKey: .rows)
        try c.encode(columns, forKey: .columns)
        try c.encode(context, forKey: .context)
    }
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
    /// The most rows, and the most columns, of a thumbnail.
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
        guard (1 ... Self.maximumSize).contains(geometry.rows), (1 ... Self.maximumSize).contains(geometry.columns),
              (1 ... Self.maximumContext).contains(geometry.context) else {
            throw FormatError("thumbnail size \(geometry) and context \(geometry.context) must be in 1...\(Self.maximumSize) (each side) and 1...\(Self.maximumContext)")
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

/// Cuts a level image into one grayscale thumbnail per step.
///
/// The frequency axis is area-averaged to `rows` rows once per frame (no change where rows equal
/// the bins); each thumbnail then area-averages its `context` frames to `columns` columns. Frames
/// before the start or after the end of the recording are black. Row 0 is the highest frequency,
/// column 0 the earliest frame.
public struct Thumbnailer: Sendable {
    /// The geometry.
    public let geometry: ThumbnailGeometry
    private let columns: [Float]  // frames x rows, frequency-reduced, row 0 = highest
    private let frames: Int
    private let timeResize: AreaResize

    /// Prepares thumbnails of `image`.
    public init(_ image: LevelImage, geometry: ThumbnailGeometry) {
        self.geometry = geometry
        frames = image.frames
        let rows = geometry.rows
        let frequency = AreaResize(from: image.bins, to: rows)
        var columns = [Float](repeating: 0, count: image.frames * rows)
        image.levels.withUnsafeBufferPointer { levels in
            for t in 0 ..< image.frames {
                for (r, cell) in frequency.cells.enumerated() {
                    var sum: Float = 0
                    for (j, w) in cell.weights.enumerated() { sum += w * levels[t * image.bins + cell.start + j] }
                    columns[t * rows + (rows - 1 - r)] = sum
                }
            }
        }
        self.columns = columns
        timeResize = AreaResize(from: geometry.context, to: geometry.columns)
    }

    /// The thumbnail of step `k`: rows x columns bytes, row-major.
    public func thumbnail(step k: Int) -> [UInt8] {
        let rows = geometry.rows, width = geometry.columns, first = geometry.firstFrame(ofStep: k)
        var pixels = [UInt8](repeating: 0, count: rows * width)
        var column = [Float](repeating: 0, count: rows)
        columns.withUnsafeBufferPointer { src in
            for (c, cell) in timeResize.cells.enumerated() {
                for r in 0 ..< rows { column[r] = 0 }
                for (j, w) in cell.weights.enumerated() {
                    let t = first + cell.start + j
                    guard t >= 0 && t < frames else { continue }
                    let base = src.baseAddress! + t * rows
                    for r in 0 ..< rows { column[r] += w * base[r] }
                }
                for r in 0 ..< rows { pixels[r * width + c] = Self.pixel(column[r]) }
            }
        }
        return pixels
    }

    /// The byte of a level in [0, 1].
    @inline(__always) static func pixel(_ level: Float) -> UInt8 { UInt8((level * 255).rounded()) }

    /// Whether each thumbnail column is one frame (columns == context): then every thumbnail is a
    /// window of `strip`.
    public var columnsAreFrames: Bool { timeResize.cells.enumerated().allSatisfy { $1.start == $0 && $1.weights.count == 1 } }

    /// The whole recording as one picture, rows x (before + frames + after) bytes, row-major,
    /// with `before` and `after` black columns around the frames: thumbnail k is columns
    /// [k + before + firstFrame(ofStep: 0), ... + columns) of it, byte for byte (before its JPEG
    /// round trip). Nil unless `columnsAreFrames`.
    public func strip(before: Int, after: Int) -> [UInt8]? {
        guard columnsAreFrames, before >= 0, after >= 0 else { return nil }
        let rows = geometry.rows, width = before + frames + after, w = timeResize.cells[0].weights[0]
        var pixels = [UInt8](repeating: 0, count: rows * width)
        columns.withUnsafeBufferPointer { src in
            for t in 0 ..< frames {
                for r in 0 ..< rows {
                    // As `thumbnail(step:)` sums its one weighted frame into a zeroed column.
                    var level: Float = 0
                    level += w * src[t * rows + r]
                    pixels[r * width + before + t] = Self.pixel(level)
                }
            }
        }
        return pixels
    }
}
