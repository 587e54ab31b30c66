import COpenBLAS

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
}

/// C = alpha * op(A) * op(B) + beta * C for row-major matrices, through OpenBLAS.
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// Sets the number of threads OpenBLAS uses and the layers split their per-example loops over.
public func setBLASThreads(_ count: Int) {
    openblas_set_num_threads(Int32(count))
    LayerThreads.count = max(1, count)
}

/// How many threads the layers split their per-example loops over (see `setBLASThreads`).
public enum LayerThreads {
    nonisolated(unsafe) static var count = 1
}
