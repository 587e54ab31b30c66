import CFFTW3
import Foundation

/// A constant-Q transform computed octave by octave in the frequency domain, after Schörkhuber
/// and Klapuri (2010) and as librosa's `cqt` does it, so that the two can be compared bin for bin.
///
/// Each bin has a Hann-windowed complex exponential kernel Q cycles long, normalised to unit L1
/// norm, whose FFT (with the smallest 1% of its magnitude mass dropped) is applied to an STFT
/// of the signal. Only the top octave is computed at the full rate: the signal is low-passed and
/// halved before each lower octave, so every octave uses kernels of the same length in samples
/// and low octaves cost no more than high ones. When the top octave sits far below Nyquist the
/// signal is halved before the first octave too ("early downsampling"). Magnitudes are scaled as
/// librosa's `scale=True`: divided by the square root of each kernel's length.
public final class ConstantQTransform: Sendable {
    /// The transform's parameters.
    public let parameters: TransformParameters
    let octaves: [Octave]
    let earlyHalvings: Int
    /// 1 / sqrt(kernel length at the early-downsampled rate), per bin.
    let binScale: [Float]
    let decimator = HalfBandDecimator()

    /// Transforms per FFT batch.
    static let batch = 32

    /// One octave's kernels: which bins, at what rate and hop, and the sparse kernel spectra.
    struct Octave: Sendable {
        var firstBin: Int
        var fftSize: Int
        var hop: Int
        /// Whether the signal is halved after this octave.
        var halveAfter: Bool
        /// The kernels, packed in two flat arrays so the hot loop touches no reference counts.
        var kernels: PackedKernels
    }

    /// All kernels of an octave back to back: row r's floats are at offsets[r] ..< offsets[r + 1].
    struct PackedKernels: Sendable {
        var starts: [Int]
        var offsets: [Int]
        var real: [Float]
        var imaginary: [Float]

        init(_ rows: [KernelRow]) {
            starts = rows.map(\.start)
            offsets = [0]
            real = []
            imaginary = []
            for row in rows {
                real += row.real
                imaginary += row.imaginary
                offsets.append(real.count)
            }
        }
    }

    /// A kernel's non-negligible FFT values from bin `start`, laid out for two real dot products
    /// with the interleaved (re, im) spectrum: `real` holds (kr, -ki) pairs and `imaginary`
    /// (ki, kr) pairs, zero-padded to a multiple of 8 floats.
    struct KernelRow: Sendable {
        var start: Int
        var real: [Float]
        var imaginary: [Float]
        /// Non-zero-padded complex values.
        var count: Int

        init(start: Int, values: [(Float, Float)]) {
            self.start = start
            count = values.count
            let padded = (2 * values.count + 7) / 8 * 8
            real = [Float](repeating: 0, count: padded)
            imaginary = [Float](repeating: 0, count: padded)
            for (i, (kr, ki)) in values.enumerated() {
                real[2 * i] = kr; real[2 * i + 1] = -ki
                imaginary[2 * i] = ki; imaginary[2 * i + 1] = kr
            }
        }
    }

    /// Plans the transform; throws if the top bin's kernel would reach past Nyquist.
    public init(_ parameters: TransformParameters, filterScale: Double = 1, sparsity: Double = 0.01) throws {
        precondition(parameters.transform == "cqt")
        self.parameters = parameters
        let bpo = parameters.binsPerOctave, nBins = parameters.bins
        let freqs = (0 ..< nBins).map { parameters.fmin * exp2(Double($0) / Double(bpo)) }
        // Relative bandwidth of a geometric series of bins, and the quality factor.
        let alpha = (exp2(2 / Double(bpo)) - 1) / (exp2(2 / Double(bpo)) + 1)
        let q = filterScale / alpha
        let hannBandwidth = 1.50018310546875  // librosa's window_bandwidth("hann")
        let cutoff = freqs.last! * (1 + 0.5 * hannBandwidth / q)
        let nyquist = Double(parameters.sampleRate) / 2
        guard cutoff <= nyquist else {
            throw FormatError("CQT top bin at \(Int(freqs.last!)) Hz reaches past Nyquist (\(Int(nyquist)) Hz) at \(parameters.sampleRate) Hz")
        }
        let octaveCount = (nBins + bpo - 1) / bpo
        // Early downsampling, as librosa counts it: while the top octave stays well below Nyquist
        // and the hop keeps enough factors of two for the octaves that follow.
        var twos = 0, h = parameters.hop
        while h > 0 && h % 2 == 0 { twos += 1; h /= 2 }
        let byBandwidth = max(0, Int(ceil(log2(nyquist / cutoff))) - 1 - 1)
        let byHop = max(0, twos - octaveCount + 1)
        earlyHalvings = min(byBandwidth, byHop)
        let earlyRate = Double(parameters.sampleRate) / exp2(Double(earlyHalvings))
        var rate = earlyRate, hop = parameters.hop >> earlyHalvings
        var octaves: [Octave] = []
        for i in 0 ..< octaveCount {
            let upper = nBins - i * bpo, lower = max(0, upper - bpo)
            let octaveFreqs = Array(freqs[lower ..< upper])
            let (fftSize, rows) = Self.kernels(freqs: octaveFreqs, rate: rate, q: q, sparsity: sparsity, gain: (earlyRate / rate).squareRoot())
            let halve = hop % 2 == 0
            octaves.append(Octave(firstBin: lower, fftSize: fftSize, hop: hop, halveAfter: halve, kernels: PackedKernels(rows)))
            if halve {
                hop /= 2
                rate /= 2
            }
        }
        self.octaves = octaves
        binScale = freqs.map { Float(1 / (q * earlyRate / $0).squareRoot()) }
    }

    /// The kernel spectra of one octave at sample rate `rate`, padded to a power-of-two FFT.
    static func kernels(freqs: [Double], rate: Double, q: Double, sparsity: Double, gain: Double) -> (Int, [KernelRow]) {
        let lengths = freqs.map { q * rate / $0 }
        let fftSize = 1 << Int(ceil(log2(lengths.max()!)))
        var rows: [KernelRow] = []
        for (freq, length) in zip(freqs, lengths) {
            // Sample times -floor(L/2)... as numpy's arange(-L//2, L//2) gives them for a fractional L.
            let first = Int((-length / 2).rounded(.down)), last = Int((length / 2).rounded(.down))
            let count = last - first
            var kernel = [(Float, Float)](repeating: (0, 0), count: fftSize)
            var window = [Double](repeating: 0, count: count)
            for j in 0 ..< count { window[j] = 0.5 - 0.5 * cos(2 * Double.pi * Double(j) / Double(count)) }  // periodic Hann
            let l1 = window.reduce(0, +)
            let offset = (fftSize - count) / 2
            let amplitude = length / Double(fftSize) / l1
            for j in 0 ..< count {
                let phase = 2 * Double.pi * freq * Double(first + j) / rate
                kernel[offset + j] = (Float(cos(phase) * window[j] * amplitude), Float(sin(phase) * window[j] * amplitude))
            }
            let spectrum = ComplexFFT.forward(kernel).prefix(fftSize / 2 + 1)
            // Drop the smallest values holding `sparsity` of the L1 mass, as librosa's sparsify_rows does.
            let magnitudes = spectrum.map { Double(hypot($0.0, $0.1)) }
            let sorted = magnitudes.sorted()
            let total = sorted.reduce(0, +)
            var cumulative = 0.0, thresholdIndex = sorted.count - 1
            for (i, m) in sorted.enumerated() {
                cumulative += m / total
                if cumulative >= sparsity { thresholdIndex = i; break }
            }
            let threshold = sorted[thresholdIndex]
            let kept = magnitudes.indices.filter { magnitudes[$0] >= threshold }
            let start = kept.first!, end = kept.last! + 1
            var values = [(Float, Float)](repeating: (0, 0), count: end - start)
            for k in kept { values[k - start] = (spectrum[k].0 * Float(gain), spectrum[k].1 * Float(gain)) }
            rows.append(KernelRow(start: start, values: values))
        }
        return (fftSize, rows)
    }

    /// The magnitude CQT of a mono signal: `count / hop + 1` frames, frame k centred on sample k * hop.
    ///
    /// `threads` splits each octave's frames between threads.
    public func magnitudes(of signal: [Float], threads: Int = 1) -> Spectrogram {
        let frames = signal.count / parameters.hop + 1
        var result = Spectrogram(bins: parameters.bins, frames: frames)
        var y = signal
        for _ in 0 ..< earlyHalvings { y = decimator.halve(y) }
        result.magnitudes.withUnsafeMutableBufferPointer { out in
            let output = SendablePointer(out.baseAddress!)
            for octave in octaves {
                let signal = y
                forEachPart(of: frames, threads: threads) { range in
                    respond(octave, signal: signal, frames: range, into: output.pointer)
                }
                if octave.halveAfter { y = decimator.halve(y) }
            }
        }
        return result
    }

    /// Computes one octave's bins for `frames`: batched FFTs of zero-padded frames, then each
    /// kernel's sparse dot product with the frame's spectrum.
    func respond(_ octave: Octave, signal: [Float], frames: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        let n = octave.fftSize, half = n / 2, bins = n / 2 + 1, hop = octave.hop
        let plan = RealFFTBatch.shared(size: n, batch: Self.batch)
        let buffers = RealFFTBatch.Buffers(size: n, batch: Self.batch)
        let totalBins = parameters.bins
        let packed = octave.kernels, rowCount = packed.starts.count, firstBin = octave.firstBin
        let starts = packed.starts, offsets = packed.offsets
        packed.real.withUnsafeBufferPointer { realBuffer in
        packed.imaginary.withUnsafeBufferPointer { imaginaryBuffer in
        binScale.withUnsafeBufferPointer { scale in
        let real = realBuffer.baseAddress!, imaginary = imaginaryBuffer.baseAddress!
        signal.withUnsafeBufferPointer { y in
            var frame = frames.lowerBound
            while frame < frames.upperBound {
                let count = min(Self.batch, frames.upperBound - frame)
                // Frame t holds y[t * hop - n/2 ..< t * hop + n/2], zero outside the signal.
                for b in 0 ..< Self.batch {
                    let dst = buffers.real + b * n
                    let start = (frame + b) * hop - half
                    let lo = max(0, -start), hi = min(n, y.count - start)
                    if b >= count || hi <= lo {
                        dst.initialize(repeating: 0, count: n)
                        continue
                    }
                    if lo > 0 { dst.initialize(repeating: 0, count: lo) }
                    (dst + lo).update(from: y.baseAddress! + start + lo, count: hi - lo)
                    if hi < n { (dst + hi).initialize(repeating: 0, count: n - hi) }
                }
                plan.execute(buffers)
                let spectra = buffers.complexFloats
                for b in 0 ..< count {
                    let spectrum = spectra + 2 * b * bins
                    let row = output + (frame + b) * totalBins
                    for r in 0 ..< rowCount {
                        let s = spectrum + 2 * starts[r]
                        let length = offsets[r + 1] - offsets[r]
                        let re = dot(real + offsets[r], s, length), im = dot(imaginary + offsets[r], s, length)
                        row[firstBin + r] = (re * re + im * im).squareRoot() * scale[firstBin + r]
                    }
                }
                frame += count
            }
        }
        }
        }
        }
    }
}

/// The dot product of `count` floats (a multiple of 8) of `kernel` and `spectrum`, 8 lanes at a time.
@inline(__always)
private func dot(_ kernel: UnsafePointer<Float>, _ spectrum: UnsafePointer<Float>, _ count: Int) -> Float {
    let kRaw = UnsafeRawPointer(kernel), sRaw = UnsafeRawPointer(spectrum)
    var sum = SIMD8<Float>()
    for i in stride(from: 0, to: count, by: 8) {
        let offset = i * MemoryLayout<Float>.stride
        sum += kRaw.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            * sRaw.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
    }
    return sum.sum()
}

/// Splits 0 ..< count into `threads` contiguous parts and runs `body` on each, in parallel when
/// there is more than one (a single part runs on the calling thread, with no dispatch overhead).
func forEachPart(of count: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let parts = max(1, min(threads, count))
    if parts == 1 { return body(0 ..< count) }
    let chunk = (count + parts - 1) / parts, layerThreads = LayerThreads.count
    DispatchQueue.concurrentPerform(iterations: parts) { part in
        let range = (part * chunk) ..< min(count, (part + 1) * chunk)
        if !range.isEmpty { LayerThreads.with(layerThreads) { body(range) } }
    }
}

/// A pointer that may cross threads because each thread writes a disjoint part of it.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
