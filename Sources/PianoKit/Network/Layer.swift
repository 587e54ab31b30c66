import COpenBLAS
import Foundation

/// The shape of one example's activations: channels x height x width (a dense layer's output is C x 1 x 1).
public struct ActivationShape: Sendable, Equatable, Codable {
    /// Channels.
    public var channels: Int
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int
    /// Values per example.
    public var count: Int { channels * height * width }

    /// Creates a shape.
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }
}

/// A learnable tensor and its gradient.
public final class Parameter {
    /// Name in the model file, e.g. `conv1.weight`.
    public let name: String
    /// Tensor shape.
    public let shape: [Int]
    /// Values.
    public var value: [Float]
    /// Gradient of the loss with respect to the values, accumulated by `backward`.
    public var gradient: [Float]
    /// Whether weight decay applies (weights yes, biases no).
    public let decays: Bool

    /// Creates a parameter.
    public init(name: String, shape: [Int], value: [Float], decays: Bool) {
        precondition(shape.reduce(1, *) == value.count)
        self.name = name
        self.shape = shape
        self.value = value
        gradient = [Float](repeating: 0, count: value.count)
        self.decays = decays
    }
}

extension Array where Element == Parameter {
    /// Clears the accumulated gradients.
    func zeroGradients() {
        for p in self { p.gradient = [Float](repeating: 0, count: p.value.count) }
    }
}

/// One layer of a network, processing a batch of examples stored back to back (NCHW).
///
/// `forward` keeps what `backward` needs; `backward` takes the loss gradient with respect to the
/// layer's output, adds the parameter gradients into `parameters`, and returns the gradient with
/// respect to the input.
public protocol Layer: AnyObject {
    /// Output shape for the input shape the layer was built with.
    var outputShape: ActivationShape { get }
    /// Learnable tensors.
    var parameters: [Parameter] { get }
    /// Computes the output of `batch` examples.
    func forward(_ input: [Float], batch: Int) -> [Float]
    /// Back-propagates through the last `forward`.
    func backward(_ gradient: [Float]) -> [Float]
    /// The output of `forward` with nothing kept for `backward` (inference; the next `backward`
    /// needs a `forward` first). Layers that keep state for `backward` override it.
    func infer(_ input: [Float], batch: Int) -> [Float]
}

extension Layer {
    public func infer(_ input: [Float], batch: Int) -> [Float] { forward(input, batch: batch) }
}

/// C = alpha * op(A) * op(B) + beta * C for row-major matrices, through OpenBLAS.
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// Sets the number of threads the layers use when called from this thread (see `LayerThreads`).
/// OpenBLAS itself runs single-threaded: the layers split their matrix products and per-example
/// loops over the batch themselves, which keeps OpenBLAS's worker threads from spinning between
/// the many mid-sized products of a step.
///
/// It also raises glibc's mmap threshold: every layer allocates activation buffers of a few MB
/// per batch, and above the default threshold (128 KiB) each one is a fresh mmap whose pages
/// fault in zeroed and are unmapped on free. Kept in the heap, the same memory is reused.
public func setBLASThreads(_ count: Int) {
    openblas_set_num_threads(1)
    LayerThreads.count = max(1, count)
    _ = mallopt(M_MMAP_THRESHOLD, 256 << 20)
    _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)
}

/// Stops OpenBLAS's worker threads, which its pthreads build starts when the library loads and
/// which then spin (`sched_yield`) for about 2^28 cycles (0.1 s here) waiting for work. The
/// toolkit never gives OpenBLAS more than one thread (see `setBLASThreads`), so they would only
/// take CPU from the stage's own threads: pack ran 4% faster without them. Looked up at run
/// time (`blas_thread_shutdown_`, OpenBLAS's own shutdown); a build without it is left as it is.
/// OpenBLAS starts the pool again by itself if it is ever asked for more than one thread.
public func stopIdleBLASThreads() {
    openblas_set_num_threads(1)
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") else { return }
    _ = unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)()
}

/// C (m x n) = alpha op(A) op(B) + beta C with the n columns split between `LayerThreads.count`
/// threads (op(B)'s columns and C's columns are independent).
func gemmSplittingColumns(_ transA: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    let a = SendablePointer(UnsafeMutablePointer(mutating: a)), b = SendablePointer(UnsafeMutablePointer(mutating: b)), c = SendablePointer(c)
    forEachPart(of: n, threads: LayerThreads.count) { columns in
        gemm(transA, false, m, columns.count, k, alpha, a.pointer, lda, b.pointer + columns.lowerBound, ldb, beta, c.pointer + columns.lowerBound, ldc)
    }
}

/// C (m x n) += alpha A (m x k) B^T (k x n given as n x k rows), the k products split between
/// threads and summed: the reduction of a weight gradient over a batch.
func gemmSplittingReduction(_ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                            _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, transposeA: Bool = false) {
    let threads = min(LayerThreads.count, max(1, k / 64))
    if threads == 1 {
        return transposeA ? gemm(true, false, m, n, k, alpha, a, lda, b, ldb, 1, c, ldc) : gemm(false, true, m, n, k, alpha, a, lda, b, ldb, 1, c, ldc)
    }
    let partials = (0 ..< threads).map { _ in SendablePointer(UnsafeMutablePointer<Float>.allocate(capacity: m * n)) }
    defer { for p in partials { p.pointer.deallocate() } }
    let a = SendablePointer(UnsafeMutablePointer(mutating: a)), b = SendablePointer(UnsafeMutablePointer(mutating: b))
    let chunk = (k + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { part in
        let lo = part * chunk, hi = min(k, lo + chunk)
        let out = partials[part].pointer
        out.initialize(repeating: 0, count: m * n)
        guard lo < hi else { return }
        if transposeA {
            // A is k x m (rows are the reduction), B is k x n.
            gemm(true, false, m, n, hi - lo, alpha, a.pointer + lo * lda, lda, b.pointer + lo * ldb, ldb, 0, out, n)
        } else {
            // A is m x k, B is n x k: columns lo..<hi of both.
            gemm(false, true, m, n, hi - lo, alpha, a.pointer + lo, lda, b.pointer + lo, ldb, 0, out, n)
        }
    }
    for part in partials {
        for i in 0 ..< m { for j in 0 ..< n { c[i * ldc + j] += part.pointer[i * n + j] } }
    }
}

/// How many threads the layers split their per-example loops over (see `setBLASThreads`).
///
/// A per-thread setting, 1 where never set: a training run's summation order (and so its bytes)
/// depends on it, so two runs in one process (the tests run many at once) must not change each
/// other's. The workers of `forEachPart` and `parallelMap` take their caller's value for the
/// duration of their work, so a layer called from them splits as its caller would.
public enum LayerThreads {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// This thread's count, >= 1.
    static var count: Int {
        get { max(1, Int(bitPattern: pthread_getspecific(key))) }
        set { pthread_setspecific(key, UnsafeRawPointer(bitPattern: max(1, newValue))) }
    }

    /// Runs `body` with this thread's count set to `count`, then restores the earlier value.
    static func with<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let saved = self.count
        self.count = count
        defer { self.count = saved }
        return try body()
    }
}

/// The matrix-product speed the layers can reach: one square `cblas_sgemm` of `size`, its columns
/// split over `threads` as the layers split theirs, best of `repeats`, in GFLOP/s (2 size^3 per product).
public func sgemmPeakGFLOPS(size: Int = 1024, threads: Int, repeats: Int = 5) -> Double {
    setBLASThreads(threads)
    var rng = SeededGenerator(seed: 1)
    let a = (0 ..< size * size).map { _ in Float.random(in: -1 ... 1, using: &rng) }, b = a
    var c = [Float](repeating: 0, count: size * size)
    var best = Double.infinity
    for _ in 0 ..< repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemmSplittingColumns(false, size, size, size, 1, ap.baseAddress!, size, bp.baseAddress!, size, 0, cp.baseAddress!, size)
                }
            }
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return 2 * pow(Double(size), 3) / best / 1e9
}
