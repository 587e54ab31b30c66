import Foundation

/// A magnitude STFT restricted to the piano's range, the front end the paper compared the CQT with.
///
/// Frames are Hann-windowed (periodic), `fftSize` long and centred on sample k * hop with zero
/// padding, as librosa's `stft(center=True, pad_mode="constant")`. The bins kept are those whose
/// centre frequency lies in [fmin, fmax] of the matching CQT, so both front ends see the same band.
public final class ShortTimeFourierTransform: Sendable {
    /// The transform's parameters (transform `stft`).
    public let parameters: TransformParameters
    let firstBin: Int
    let window: [Float]

    /// Plans an STFT of `fftSize` covering `cqt`'s frequency range.
    public init(covering cqt: TransformParameters, fftSize: Int = 4096) {
        let resolution = Double(cqt.sampleRate) / Double(fftSize)
        firstBin = Int((cqt.fmin / resolution).rounded(.up))
        let lastBin = min(fftSize / 2, Int((cqt.fmax / resolution).rounded(.down)))
        parameters = TransformParameters(transform: "stft", sampleRate: cqt.sampleRate, hop: cqt.hop, fmin: Double(firstBin) * resolution,
                                         bins: lastBin - firstBin + 1, binsPerOctave: cqt.binsPerOctave, fftSize: fftSize)
        window = (0 ..< fftSize).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(fftSize))) }
    }

    /// The magnitude STFT of a mono signal: `count / hop + 1` frames.
    public func magnitudes(of signal: [Float], threads: Int = 1) -> Spectrogram {
        let n = parameters.fftSize!, hop = parameters.hop, bins = parameters.bins, batch = 16
        let frames = signal.count / hop + 1
        var result = Spectrogram(bins: bins, frames: frames)
        let plan = RealFFTBatch.shared(size: n, batch: batch)
        result.magnitudes.withUnsafeMutableBufferPointer { out in
            let output = SendablePointer(out.baseAddress!)
            forEachPart(of: frames, threads: threads) { range in
                let buffers = RealFFTBatch.Buffers(size: n, batch: batch)
                var frame = range.lowerBound
                let end = range.upperBound
                while frame < end {
                    let count = min(batch, end - frame)
                    for b in 0 ..< batch {
                        let dst = buffers.real + b * n
                        let start = (frame + b) * hop - n / 2
                        for j in 0 ..< n {
                            let i = start + j
                            dst[j] = b < count && i >= 0 && i < signal.count ? signal[i] * window[j] : 0
                        }
                    }
                    plan.execute(buffers)
                    let spectra = buffers.complexFloats
                    for b in 0 ..< count {
                        let spectrum = spectra + 2 * (b * (n / 2 + 1) + firstBin)
                        let row = output.pointer + (frame + b) * bins
                        for k in 0 ..< bins { row[k] = (spectrum[2 * k] * spectrum[2 * k] + spectrum[2 * k + 1] * spectrum[2 * k + 1]).squareRoot() }
                    }
                    frame += count
                }
            }
        }
        return result
    }
}
