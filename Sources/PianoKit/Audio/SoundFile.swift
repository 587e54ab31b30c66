import CSndfile
import Foundation

/// The header facts of an audio file: sample rate, channel count, length.
public struct AudioInfo: Sendable, Equatable, Codable {
    /// Samples per second per channel.
    public var sampleRate: Int
    /// Number of channels.
    public var channels: Int
    /// Number of sample frames (samples per channel).
    public var frames: Int
    /// Length in seconds.
    public var duration: Double { Double(frames) / Double(sampleRate) }

    /// Creates an info record.
    public init(sampleRate: Int, channels: Int, frames: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.frames = frames
    }
}

/// An open libsndfile handle that closes itself; reads frames as 16-bit integers or floats.
public final class SoundFileReader {
    private let handle: OpaquePointer
    /// The file's path.
    public let path: String
    /// Its header facts.
    public let info: AudioInfo

    /// Opens `path` for reading; a file libsndfile cannot read as audio is a `FileError`.
    public init(path: String) throws {
        try Paths.requireFile(path, missing: "no such audio file", kind: "an audio file")
        var sfInfo = SF_INFO()
        guard let handle = sf_open(path, Int32(SFM_READ), &sfInfo) else {
            let reason = String(cString: sf_strerror(nil))
            throw FileError(path, "not readable audio: \(reason)")
        }
        guard sfInfo.samplerate > 0, sfInfo.channels > 0, sfInfo.frames >= 0 else {
            sf_close(handle)
            throw FileError(path, "audio header is invalid (rate \(sfInfo.samplerate), channels \(sfInfo.channels))")
        }
        self.handle = handle
        self.path = path
        info = AudioInfo(sampleRate: Int(sfInfo.samplerate), channels: Int(sfInfo.channels), frames: Int(sfInfo.frames))
    }

    deinit { sf_close(handle) }

    /// Moves to frame `frame` for the next read.
    public func seek(toFrame frame: Int) throws {
        guard sf_seek(handle, sf_count_t(frame), SEEK_SET) >= 0 else {
            throw FileError(path, "cannot seek to frame \(frame): \(String(cString: sf_strerror(handle)))")
        }
    }

    /// Reads up to `count` frames of interleaved floats in [-1, 1]; fewer only at the end of the file.
    public func readFloat(frames count: Int) -> [Float] {
        var buffer = [Float](repeating: 0, count: count * info.channels)
        let got = buffer.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(count)) }
        buffer.removeLast((count - Int(got)) * info.channels)
        return buffer
    }

    /// Reads the whole file averaged to mono, as the spectrogram stages use it: exactly the
    /// header's frame count, or a `FileError` if the data ends before that.
    ///
    /// Reads in blocks instead of allocating the header's count up front: a damaged file's header
    /// (a FLAC's total-samples field, say) can claim billions of frames over a few bytes of data,
    /// so memory follows the samples that are really there.
    public func readMono() throws -> [Float] {
        try seek(toFrame: 0)
        let channels = info.channels
        let block = max(1, (1 << 20) / channels)  // frames per read: at most 4 MiB of floats
        var mono: [Float] = []
        mono.reserveCapacity(min(info.frames, 1 << 22))  // the header's count, up to 16 MiB, saves regrowing
        let scale = 1 / Float(channels)
        while mono.count < info.frames {
            let interleaved = readFloat(frames: min(block, info.frames - mono.count))
            let frames = interleaved.count / channels
            guard frames > 0 else {  // libsndfile reads short only at the end of the data (or on an error)
                throw FileError(path, "audio data ends after \(mono.count) of the \(info.frames) frames the header declares")
            }
            if channels == 1 {
                mono += interleaved
            } else {
                for frame in 0 ..< frames {
                    var sum: Float = 0
                    for channel in 0 ..< channels { sum += interleaved[frame * channels + channel] }
                    mono.append(sum * scale)
                }
            }
        }
        return mono
    }
}

/// Writes 16-bit PCM wav files through libsndfile.
public enum WavWriter {
    /// Writes interleaved 16-bit samples to `path` atomically.
    public static func write(samples: [Int16], channels: Int, sampleRate: Int, to path: String) throws {
        try AtomicWrite.createParent(of: path)
        let temporary = AtomicWrite.temporaryPath(for: path)
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        guard let handle = sf_open(temporary, Int32(SFM_WRITE), &info) else {
            throw FileError(path, "cannot create wav: \(String(cString: sf_strerror(nil)))")
        }
        let frames = samples.count / channels
        let written = samples.withUnsafeBufferPointer { sf_writef_short(handle, $0.baseAddress, sf_count_t(frames)) }
        let closed = sf_close(handle)
        guard written == frames, closed == 0 else {
            unlink(temporary)
            throw FileError(path, "short write: \(written) of \(frames) frames")
        }
        try AtomicWrite.commit(temporary, to: path)
    }

    /// Converts floats in [-1, 1] to 16-bit samples by rounding, clipping at full scale (no dither, so the result is deterministic).
    public static func quantize(_ samples: [Float]) -> [Int16] {
        samples.map { Int16(clamping: Int(($0 * 32767).rounded())) }
    }
}
