import CSoxr
import Foundation

/// Sample-rate conversion of one channel of float samples with libsoxr: the owner of one soxr
/// stream, deleted with the object. soxr's filters are linear-phase and it removes their delay, so
/// output sample j lies at time j / outputRate, the same instant as input sample
/// j · inputRate / outputRate: a resampled recording stays on the same clock.
///
/// Errors from libsoxr (an unsupported rate, an out-of-memory) are thrown as `FormatError`s naming
/// both rates; the stage that reads the file wraps them with its path. Not for concurrent use.
public final class Resampler {
    /// The filter, as libsoxr's quality recipes name them.
    public enum Quality: Sendable {
        /// `SOXR_HQ`: 20-bit precision (about 120 dB stop-band), pass band to 91 % of the lower
        /// Nyquist frequency. libsoxr's and librosa's default, and this toolkit's.
        case high
        /// `SOXR_VHQ`: 28-bit precision (about 170 dB), same pass band, a longer filter.
        case veryHigh

        var recipe: UInt { self == .high ? UInt(SOXR_HQ) : UInt(SOXR_VHQ) }
    }

    /// The sample rates this toolkit reads and resamples between, Hz: 1 kHz to the front end's
    /// largest. A header outside it (a damaged one: a 1 Hz wav would grow 44100-fold) is refused.
    public static let rates = 1000 ... FrontEnd.maximumSampleRate

    /// A `FormatError` naming `rate` unless it lies in `rates`; `what` says whose rate it is.
    public static func check(_ rate: Int, _ what: String = "sample rate") throws {
        guard rates.contains(rate) else {
            throw FormatError("\(what) \(rate) Hz is outside the \(rates.lowerBound)...\(rates.upperBound) Hz this toolkit reads")
        }
    }

    /// Samples per second in.
    public let inputRate: Int
    /// Samples per second out.
    public let outputRate: Int
    private let handle: soxr_t

    /// A stream resampler from `inputRate` to `outputRate` Hz (both in `rates`), one thread, so the
    /// same input gives the same bits on one machine.
    public init(from inputRate: Int, to outputRate: Int, quality: Quality = .high) throws {
        try Self.check(inputRate)
        try Self.check(outputRate)
        self.inputRate = inputRate
        self.outputRate = outputRate
        var io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var q = soxr_quality_spec(quality.recipe, 0)
        var runtime = soxr_runtime_spec(1)
        var error: soxr_error_t?
        let created = soxr_create(Double(inputRate), Double(outputRate), 1, &error, &io, &q, &runtime)
        guard let created, error == nil else {
            if let created { soxr_delete(created) }
            throw Self.failure(error, inputRate, outputRate)
        }
        handle = created
    }

    deinit { soxr_delete(handle) }

    /// Output frames for `frames` input frames: `frames · outputRate / inputRate` rounded to the
    /// nearest integer, halves up (exact integer arithmetic); equal to `frames` when the rates are.
    public static func outputLength(frames: Int, from inputRate: Int, to outputRate: Int) -> Int {
        precondition(frames >= 0 && inputRate > 0 && outputRate > 0)
        if inputRate == outputRate { return frames }
        let (product, overflow) = frames.multipliedReportingOverflow(by: outputRate)
        // Beyond 2^63 / rate frames (10^13 at 1 MHz; a header can claim that, no file holds it) in Double.
        guard !overflow, product <= Int.max - inputRate else {
            let estimate = (Double(frames) * Double(outputRate) / Double(inputRate)).rounded()
            return estimate < Double(Int.max) ? Int(estimate) : Int.max
        }
        return (product + inputRate / 2) / inputRate
    }

    /// Feeds `input` and returns the output that is ready (soxr holds back the filter's length
    /// until more input or `finish()`).
    public func process(_ input: [Float]) throws -> [Float] {
        var output: [Float] = []
        output.reserveCapacity(Self.outputLength(frames: input.count, from: inputRate, to: outputRate) + 16)
        try input.withUnsafeBufferPointer { samples in
            var consumed = 0
            while consumed < samples.count {
                let remaining = samples.count - consumed
                let room = Self.outputLength(frames: remaining, from: inputRate, to: outputRate) + 1024
                var buffer = [Float](repeating: 0, count: room)
                var used = 0, made = 0
                let error = buffer.withUnsafeMutableBufferPointer { out in
                    soxr_process(handle, samples.baseAddress! + consumed, remaining, &used, out.baseAddress, room, &made)
                }
                if let error { throw Self.failure(error, inputRate, outputRate) }
                guard used > 0 || made > 0 else { throw FormatError("resampling \(inputRate) Hz to \(outputRate) Hz: libsoxr made no progress") }
                consumed += used
                output += buffer[0 ..< made]
            }
        }
        return output
    }

    /// Ends the input and returns the rest of the output (the last filter length).
    public func finish() throws -> [Float] {
        var output: [Float] = []
        let room = 4096
        var buffer = [Float](repeating: 0, count: room)
        while true {
            var made = 0
            let error = buffer.withUnsafeMutableBufferPointer { out in
                soxr_process(handle, nil, 0, nil, out.baseAddress, room, &made)
            }
            if let error { throw Self.failure(error, inputRate, outputRate) }
            output += buffer[0 ..< made]
            if made < room { return output }
        }
    }

    /// `signal` at `inputRate` resampled to `outputRate`: exactly
    /// `outputLength(frames: signal.count, …)` samples (soxr's own count can differ from the
    /// rounding by a sample at the end; it is cut or padded with silence to that length). Equal
    /// rates return `signal` untouched.
    public static func resample(_ signal: [Float], from inputRate: Int, to outputRate: Int, quality: Quality = .high) throws -> [Float] {
        if inputRate == outputRate { return signal }
        let resampler = try Resampler(from: inputRate, to: outputRate, quality: quality)
        let length = outputLength(frames: signal.count, from: inputRate, to: outputRate)
        var output: [Float] = []
        output.reserveCapacity(length + 4096)
        let block = 1 << 16  // input frames per call: bounds the scratch buffer
        for start in stride(from: 0, to: signal.count, by: block) {
            output += try resampler.process(Array(signal[start ..< min(signal.count, start + block)]))
        }
        output += try resampler.finish()
        if output.count > length { output.removeLast(output.count - length) }
        if output.count < length { output += [Float](repeating: 0, count: length - output.count) }
        return output
    }

    private static func failure(_ error: soxr_error_t?, _ inputRate: Int, _ outputRate: Int) -> FormatError {
        FormatError("cannot resample from \(inputRate) Hz to \(outputRate) Hz: libsoxr: \(error.map { String(cString: $0) } ?? "unknown error")")
    }
}
