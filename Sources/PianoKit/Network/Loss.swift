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

    /// Sigmoid binary cross-entropy against 0/1 targets, summed over outputs, averaged over the batch.
    public static func sigmoidCrossEntropy(_ logits: [Float], targets: [Float], batch: Int) -> (loss: Double, gradient: [Float]) {
        var gradient = [Float](repeating: 0, count: logits.count)
        var loss = 0.0
        for i in logits.indices {
            let z = Double(logits[i]), t = Double(targets[i])
            // max(z, 0) - z t + log(1 + e^-|z|): stable for any z.
            loss += max(z, 0) - z * t + log1p(exp(-abs(z)))
            gradient[i] = Float((1 / (1 + exp(-z)) - t) / Double(batch))
        }
        return (loss / Double(batch), gradient)
    }
}
