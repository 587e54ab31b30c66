import Foundation

/// Losses over a batch of logits, averaged over the batch; each returns the loss and its gradient
/// with respect to the logits.
public enum Loss {
    /// Softmax cross-entropy against class indices.
    public static func softmaxCrossEntropy(_ logits: [Float], labels: [Int], classes: Int) -> (loss: Double, gradient: [Float]) {
        let batch = labels.count
        var gradient = [Float](repeating: 0, count: logits.count)
        var loss = 0.0
        for n in 0 ..< batch {
            let row = n * classes
            let peak = logits[row ..< row + classes].max()!
            var total = 0.0
            for k in 0 ..< classes { total += exp(Double(logits[row + k] - peak)) }
            loss -= Double(logits[row + labels[n]] - peak) - log(total)
            for k in 0 ..< classes {
                let p = exp(Double(logits[row + k] - peak)) / total
                gradient[row + k] = Float((p - (k == labels[n] ? 1 : 0)) / Double(batch))
            }
        }
        return (loss / Double(batch), gradient)
    }

    /// Sigmoid binary cross-entropy against targets in 0...1, summed over outputs, averaged over
    /// the batch; the positive term weighted by `positiveWeight` (PyTorch's `pos_weight`):
    /// -(w t log s(z) + (1 - t) log(1 - s(z))) per output.
    public static func sigmoidCrossEntropy(_ logits: [Float], targets: [Float], batch: Int, positiveWeight: Double = 1) -> (loss: Double, gradient: [Float]) {
        var gradient = [Float](repeating: 0, count: logits.count)
        var loss = 0.0
        for i in logits.indices {
            let z = Double(logits[i]), t = Double(targets[i])
            // softplus(x) = max(x, 0) + log(1 + e^-|x|) is stable for any x; -log s(z) = softplus(-z),
            // -log(1 - s(z)) = softplus(z).
            let tail = log1p(exp(-abs(z)))
            loss += positiveWeight * t * (max(-z, 0) + tail) + (1 - t) * (max(z, 0) + tail)
            let s = 1 / (1 + exp(-z))
            gradient[i] = Float((s * (positiveWeight * t + 1 - t) - positiveWeight * t) / Double(batch))
        }
        return (loss / Double(batch), gradient)
    }
}
