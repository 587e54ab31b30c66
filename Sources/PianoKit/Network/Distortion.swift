/// The paper's input pipeline (TensorFlow CIFAR-10's): optional random crop, brightness,
/// contrast and horizontal flip while training, then per-image standardisation always.
public struct InputPipeline: Sendable, Equatable {
    /// The archive's thumbnail size.
    public var size: Int
    /// The network's input size: `size`, or smaller for random crops (centre crops when evaluating).
    public var crop: Int
    /// Whether training images are randomly distorted.
    public var distort: Bool
    /// Whether training images may be flipped left to right (in time, for spectrograms).
    public var flip: Bool

    /// Creates a pipeline.
    public init(size: Int, crop: Int? = nil, distort: Bool = true, flip: Bool = false) {
        self.size = size
        self.crop = crop ?? size
        self.distort = distort
        self.flip = flip
    }

    /// One example's network input: `crop` x `crop` standardised floats.
    ///
    /// Training with distortion: a random crop, brightness shifted by up to 63/255, contrast
    /// scaled by 0.2...1.8 about the mean, and (with `flip`) a left-right flip half the time.
    /// Otherwise the centre crop. Then (x - mean) / max(stddev, 1/sqrt(n)), as TF's
    /// `per_image_standardization`.
    public func prepare(_ pixels: ArraySlice<UInt8>, training: Bool, rng: inout SeededGenerator) -> [Float] {
        let random = training && distort
        let offsetY = random ? Int.random(in: 0 ... size - crop, using: &rng) : (size - crop) / 2
        let offsetX = random ? Int.random(in: 0 ... size - crop, using: &rng) : (size - crop) / 2
        let mirror = random && flip && Bool.random(using: &rng)
        var out = [Float](repeating: 0, count: crop * crop)
        pixels.withUnsafeBufferPointer { src in
            for y in 0 ..< crop {
                for x in 0 ..< crop {
                    let sx = mirror ? crop - 1 - x : x
                    out[y * crop + x] = Float(src[(y + offsetY) * size + sx + offsetX]) / 255
                }
            }
        }
        if random {
            let delta = Float.random(in: -63 / 255 ... 63 / 255, using: &rng)
            let contrast = Float.random(in: 0.2 ... 1.8, using: &rng)
            let mean = out.reduce(0, +) / Float(out.count)
            for i in out.indices { out[i] = (out[i] + delta - (mean + delta)) * contrast + mean + delta }
        }
        // Sums in Double: a running Float sum over ~1000 pixels loses ~1e-5 of the mean.
        let n = Double(out.count)
        let mean = out.reduce(0.0) { $0 + Double($1) } / n
        let variance = out.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let scale = Float(1 / max(variance.squareRoot(), 1 / n.squareRoot())), centre = Float(mean)
        return out.map { ($0 - centre) * scale }
    }
}
