import CFFTW3
import Foundation

/// A batch of real-to-complex FFTs of one size, planned once and executed from any thread.
///
/// FFTW's planner is not thread-safe, so plans are made under a global lock and cached by
/// (size, batch); execution uses the new-array interface on buffers each caller owns, which
/// FFTW allows from many threads at once.
///
/// Plans are measured (FFTW_MEASURE: about a third faster than estimated ones here), and the
/// measurements are kept as FFTW wisdom in a per-machine cache file, so every later run on the
/// machine uses the same plans and computes the same bits.
public final class RealFFTBatch: @unchecked Sendable {
    /// Transform length.
    public let size: Int
    /// Transforms per execution.
    public let batch: Int
    /// Complex outputs per transform: size / 2 + 1.
    public var bins: Int { size / 2 + 1 }
    private let plan: fftwf_plan

    private static let plannerLock = NSLock()
    nonisolated(unsafe) private static var cache: [[Int]: RealFFTBatch] = [:]

    /// The shared plan for `batch` transforms of length `size`.
    public static func shared(size: Int, batch: Int) -> RealFFTBatch {
        plannerLock.lock()
        defer { plannerLock.unlock() }
        if let plan = cache[[size, batch]] { return plan }
        Wisdom.loadOnce()
        let plan = RealFFTBatch(size: size, batch: batch)
        cache[[size, batch]] = plan
        Wisdom.saveIfChanged()
        return plan
    }

    private init(size: Int, batch: Int) {
        precondition(size > 0 && size % 2 == 0 && batch > 0)
        self.size = size
        self.batch = batch
        let input = Buffers(size: size, batch: batch)
        var n = Int32(size)
        // Contiguous transforms: input i at i * size, output i at i * bins. ESTIMATE keeps
        // planning fast and leaves the buffers untouched.
        plan = fftwf_plan_many_dft_r2c(1, &n, Int32(batch), input.real, nil, 1, Int32(size),
                                       input.complex, nil, 1, Int32(size / 2 + 1), FFTW_MEASURE)!
    }

    /// Transforms `buffers.real` (batch x size) into `buffers.complex` (batch x bins).
    public func execute(_ buffers: Buffers) {
        precondition(buffers.size == size && buffers.batch == batch)
        fftwf_execute_dft_r2c(plan, buffers.real, buffers.complex)
    }

    /// SIMD-aligned input and output arrays for one thread's use of a plan.
    public final class Buffers {
        /// Transform length.
        public let size: Int
        /// Transforms per execution.
        public let batch: Int
        /// batch x size real inputs.
        public let real: UnsafeMutablePointer<Float>
        /// batch x (size / 2 + 1) complex outputs, interleaved real and imaginary parts.
        public let complex: UnsafeMutablePointer<fftwf_complex>

        /// Allocates buffers with FFTW's allocator, so they have the alignment plans expect.
        public init(size: Int, batch: Int) {
            self.size = size
            self.batch = batch
            real = fftwf_alloc_real(size * batch)!
            complex = fftwf_alloc_complex((size / 2 + 1) * batch + 8)!  // slack for padded reads past the last bin
        }

        /// The outputs as floats: re, im, re, im...
        public var complexFloats: UnsafeMutablePointer<Float> {
            UnsafeMutableRawPointer(complex).assumingMemoryBound(to: Float.self)
        }

        deinit {
            fftwf_free(real)
            fftwf_free(complex)
        }
    }
}

/// FFTW wisdom kept in `$PIANO_FFTW_WISDOM`, else `$XDG_CACHE_HOME/piano-thumbs/fftw3f.wisdom`,
/// else `~/.cache/piano-thumbs/fftw3f.wisdom`. Callers hold the planner lock.
enum Wisdom {
    nonisolated(unsafe) private static var loaded = false
    nonisolated(unsafe) private static var known = ""

    static var path: String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["PIANO_FFTW_WISDOM"], !explicit.isEmpty { return explicit }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty { return cache + "/piano-thumbs/fftw3f.wisdom" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/piano-thumbs/fftw3f.wisdom" }
        return nil
    }

    static func loadOnce() {
        guard !loaded else { return }
        loaded = true
        if let path, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            _ = fftwf_import_wisdom_from_string(text)  // unreadable wisdom is ignored: plans are measured again
        }
        known = current()
    }

    static func saveIfChanged() {
        let text = current()
        guard text != known, let path else { return }
        known = text
        try? AtomicWrite.write(Data(text.utf8), to: path)  // a cache: failing to write it only costs time
    }

    private static func current() -> String {
        guard let exported = fftwf_export_wisdom_to_string() else { return "" }
        defer { free(exported) }
        return String(cString: exported)
    }
}

/// A complex-to-complex forward FFT of one length, used to build filter kernels (not on hot paths).
enum ComplexFFT {
    /// The forward DFT of `input` (interleaved re, im pairs): X[k] = sum_n x[n] e^{-2 pi i k n / N}.
    static func forward(_ input: [(Float, Float)]) -> [(Float, Float)] {
        let n = input.count
        let data = fftwf_alloc_complex(n)!
        defer { fftwf_free(data) }
        for (i, value) in input.enumerated() { data[i] = value }
        RealFFTBatch.withPlannerLock {
            let plan = fftwf_plan_dft_1d(Int32(n), data, data, FFTW_FORWARD, FFTW_ESTIMATE)!
            fftwf_execute(plan)
            fftwf_destroy_plan(plan)
        }
        return (0 ..< n).map { data[$0] }
    }
}

extension RealFFTBatch {
    /// Runs `body` holding the planner lock, for code that makes its own short-lived plans.
    static func withPlannerLock<T>(_ body: () -> T) -> T {
        plannerLock.lock()
        defer { plannerLock.unlock() }
        return body()
    }
}
