import Foundation

/// A magnitude spectrogram on the pipeline's time grid: `frames` columns of `bins` magnitudes,
/// stored frame-major (`magnitudes[frame * bins + bin]`), lowest frequency first.
public struct Spectrogram: Sendable, Equatable {
    /// Frequency bins per frame.
    public var bins: Int
    /// Frames (steps of the time grid).
    public var frames: Int
    /// The magnitudes, frame-major.
    public var magnitudes: [Float]

    /// Creates a spectrogram of zeros.
    public init(bins: Int, frames: Int) {
        self.bins = bins
        self.frames = frames
        magnitudes = [Float](repeating: 0, count: bins * frames)
    }

    /// The magnitude of `bin` at `frame`.
    public subscript(frame: Int, bin: Int) -> Float { magnitudes[frame * bins + bin] }
}

/// Which time-frequency transform a spectrogram comes from, with its parameters.
public struct TransformParameters: Codable, Sendable, Equatable {
    /// `cqt` or `stft`.
    public var transform: String
    /// Audio sample rate (Hz).
    public var sampleRate: Int
    /// Samples between frames.
    public var hop: Int
    /// Frequency of the lowest bin (Hz): A0 = 27.5 by default.
    public var fmin: Double
    /// Number of frequency bins.
    public var bins: Int
    /// CQT bins per octave (also kept for the STFT, whose bins span the same range).
    public var binsPerOctave: Int
    /// STFT length in samples (STFT only).
    public var fftSize: Int?

    /// The highest CQT bin's centre frequency.
    public var fmax: Double { fmin * exp2(Double(bins - 1) / Double(binsPerOctave)) }

    /// CQT parameters covering the 88 piano keys from A0 at `binsPerOctave`.
    public static func pianoCQT(sampleRate: Int, hop: Int, binsPerOctave: Int) -> TransformParameters {
        TransformParameters(transform: "cqt", sampleRate: sampleRate, hop: hop, fmin: 27.5,
                            bins: 88 * binsPerOctave / 12, binsPerOctave: binsPerOctave, fftSize: nil)
    }
}

