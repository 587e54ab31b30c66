/// The paper's input pipeline (TensorFlow CIFAR-10's): optional random crop, brightness,
/// contrast and horizontal flip while training, then per-image standardisation always.
public struct InputPipeline: Sendable, Equatable {
    /// The archive's thumbnail rows and columns.
    public var geometry: ThumbnailGeometry
    /// The network's input rows: the thumbnail's, or smaller for crops.
    public var cropRows: Int
    /// The network's input columns: the thumbnail's, or smaller for crops.
    public var cropColumns: Int
    /// Whether training images are randomly distorted.
    public var distort: Bool
    /// Whether training images may be flipped left to right (in time, for spectrograms).
    public var flip: Bool
    /// The network spec's fixed input scaling, or nil for per-image standardisation.
    public var normalization: FixedNormalization?

    /// Creates a pipeline; `crop` (a square side, which must fit both of the thumbnail's sides) or the whole thumbnail.
    public init(geometry: ThumbnailGeometry, crop: Int? = nil, distort: Bool = true, flip: Bool = false, normalization: FixedNormalization? = nil) {
        self.geometry = geometry
        self.normalization = normalization
        cropRows = crop ?? geometry.rows
        cropColumns = crop ?? geometry.columns
        self.distort = distort
        self.flip = flip
    }

    /// A pipeline that centre-crops to a network's input rows and columns (which must fit the thumbnail), never distorting.
    public init(geometry: ThumbnailGeometry, input: ActivationShape, normalization: FixedNormalization? = nil) {
        self.init(geometry: geometry, crop: nil, distort: false, normalization: normalization)
        cropRows = input.height
        cropColumns = input.width
    }

    /// A square pipeline (size x size thumbnails).
    public init(size: Int, crop: Int? = nil, distort: Bool = true, flip: Bool = false) {
        self.init(geometry: ThumbnailGeometry(size: size), crop: crop, distort: distort, flip: flip)
    }

    /// The network's input shape: 1 x crop rows x crop columns.
    public var inputShape: ActivationShape { ActivationShape(channels: 1, height: cropRows, width: cropColumns) }

    /// One example's network input: cropRows x cropColumns standardised floats from rows x columns pixels.
    ///
    /// Training with distortion: a random crop, brightness shifted by up to 63/255, contrast
    /// scaled by 0.2...1.8 about the mean, and (with `flip`) a left-right flip half the time.
    /// Otherwise the centre crop (offsets rounded down). Then, with a fixed `normalization`,
    /// (x - mean) / std for each pixel x / 255 (distortions are not allowed with it); else
    /// (x - mean) / max(stddev, 1/sqrt(n)) over the image, as TF's `per_image_standardization`.
    public func prepare(_ pixels: ArraySlice<UInt8>, training: Bool, rng: inout SeededGenerator) -> [Float] {
        let random = training && distort, rows = geometry.rows, columns = geometry.columns
        let offsetY = random ? Int.random(in: 0 ... rows - cropRows, using: &rng) : (rows - cropRows) / 2
        let offsetX = random ? Int.random(in: 0 ... columns - cropColumns, using: &rng) : (columns - cropColumns) / 2
        let mirror = random && flip && Bool.random(using: &rng)
        if let normalization, !random {
            var out = [Float](repeating: 0, count: cropRows * cropColumns)
            for y in 0 ..< cropRows {
                for x in 0 ..< cropColumns { out[y * cropColumns + x] = normalization(pixels[pixels.startIndex + (y + offsetY) * columns + x + offsetX]) }
            }
            return out
        }
        var out = [Float](repeating: 0, count: cropRows * cropColumns)
        let width = cropColumns
        pixels.withUnsafeBufferPointer { src in
            for y in 0 ..< cropRows {
                for x in 0 ..< width {
                    let sx = mirror ? width - 1 - x : x
                    out[y * width + x] = Float(src[(y + offsetY) * columns + sx + offsetX]) / 255
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
