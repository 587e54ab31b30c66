import Foundation

/// A piano-roll picture (SVG): the estimate drawn over the reference, the paper's figure 5, both
/// over the recording's spectrogram.
public struct PianoRoll: Sendable {
    /// The spectrogram drawn under the notes: the level image `infer` computed and its transform
    /// (which places bins on the pitch axis and frames on the time axis).
    public struct Background: Sendable {
        /// Levels in [0, 1], frame-major, lowest bin first.
        public var image: LevelImage
        /// The transform the levels come from.
        public var transform: TransformParameters

        /// A background.
        public init(image: LevelImage, transform: TransformParameters) {
            self.image = image
            self.transform = transform
        }
    }

    /// Horizontal scale.
    public var pixelsPerSecond = 100.0
    /// Height of one semitone.
    public var pixelsPerKey = 6.0
    /// The widest picture drawn; longer recordings are compressed in time to fit.
    public var maxWidth = 6000.0
    /// Rows of the embedded spectrogram per semitone.
    public var spectrogramRowsPerKey = 3
    /// JPEG quality of the embedded spectrogram.
    public var spectrogramQuality = 85

    /// Default scales.
    public init() {}

    /// The SVG text: reference notes as grey bars, estimated notes as red outlines, one row per
    /// key between the lowest and highest note shown, a grid line every second and every C; with
    /// a `background`, its spectrogram under them as an embedded grayscale JPEG (brighter is
    /// louder), each key's fundamental at the middle of its row and each frame at its time.
    public func svg(estimate: [Note], reference: [Note]?, duration: Double, title: String, background: Background? = nil) -> String {
        let all = estimate + (reference ?? [])
        let low = max(0, (all.map(\.pitch).min() ?? 60) - 2), high = min(127, (all.map(\.pitch).max() ?? 72) + 2)
        let seconds = max(duration, all.map(\.offset).max() ?? 0, 0.1)
        let scale = min(pixelsPerSecond, maxWidth / seconds)
        let left = 44.0, top = 28.0, bottom = 24.0
        let width = left + seconds * scale + 10, height = top + Double(high - low + 1) * pixelsPerKey + bottom
        func x(_ t: Double) -> String { format(left + t * scale) }
        func y(_ pitch: Int) -> String { format(top + Double(high - pitch) * pixelsPerKey) }
        let legend = (reference == nil ? "" : "<tspan fill=\"#888\">■ reference</tspan>  ") + "<tspan fill=\"#ff2a2a\">□ estimate</tspan>"
            + (background == nil ? "" : "  <tspan fill=\"#444\">▒ spectrogram (\(background!.transform.transform.uppercased()))</tspan>")
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(height))" viewBox="0 0 \(format(width)) \(format(height))" font-family="sans-serif" font-size="10">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(format(left))" y="14" font-size="12">\(escape(title))</text>
        <text x="\(format(width - 10))" y="14" text-anchor="end">\(legend)</text>

        """
        if let background, let picture = spectrogram(background, low: low, high: high, scale: scale) {
            // Frame k covers [k - 1/2, k + 1/2) hops around its time; row 0 is pitch high + 1/2 (the top of high's row).
            let frameSeconds = Double(background.transform.hop) / Double(background.transform.sampleRate)
            let plotHeight = Double(high - low + 1) * pixelsPerKey
            s += "<clipPath id=\"plot\"><rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(seconds * scale))\" height=\"\(format(plotHeight))\"/></clipPath>\n"
            s += "<image id=\"spectrogram\" clip-path=\"url(#plot)\" preserveAspectRatio=\"none\" x=\"\(String(format: "%.3f", left - frameSeconds / 2 * scale))\" y=\"\(format(top))\" "
                + "width=\"\(String(format: "%.3f", Double(background.image.frames) * frameSeconds * scale))\" height=\"\(format(plotHeight))\" "
                + "href=\"data:image/jpeg;base64,\(picture.base64EncodedString())\"/>\n"
        }
        for pitch in low ... high where pitch % 12 == 0 {
            s += "<line x1=\"\(format(left))\" x2=\"\(x(seconds))\" y1=\"\(y(pitch - 1))\" y2=\"\(y(pitch - 1))\" stroke=\"#999\" stroke-opacity=\"0.5\"/>"
            s += "<text x=\"\(format(left - 4))\" y=\"\(y(pitch - 1))\" text-anchor=\"end\">C\(pitch / 12 - 1)</text>\n"
        }
        let tickEvery = seconds > 120 ? 10 : seconds > 30 ? 5 : 1
        for second in stride(from: 0, through: Int(seconds), by: tickEvery) {
            let t = Double(second)
            s += "<line x1=\"\(x(t))\" x2=\"\(x(t))\" y1=\"\(format(top))\" y2=\"\(format(height - bottom))\" stroke=\"#999\" stroke-opacity=\"0.3\"/>"
            s += "<text x=\"\(x(t))\" y=\"\(format(height - 8))\" text-anchor=\"middle\">\(second)s</text>\n"
        }
        func bars(_ notes: [Note], style: String) -> String {
            notes.filter { (low ... high).contains($0.pitch) }.map { note in
                "<rect x=\"\(x(note.onset))\" y=\"\(y(note.pitch))\" width=\"\(format(max(1, (note.offset - note.onset) * scale)))\" height=\"\(format(pixelsPerKey))\" \(style)/>"
            }.joined(separator: "\n")
        }
        if let reference { s += "<g class=\"reference\">\n" + bars(reference, style: "fill=\"#bbb\" fill-opacity=\"0.5\" stroke=\"white\" stroke-width=\"0.6\"") + "\n</g>\n" }
        s += "<g class=\"estimate\">\n" + bars(estimate, style: "fill=\"none\" stroke=\"#ff2a2a\" stroke-width=\"1.2\"") + "\n</g>\n</svg>\n"
        return s
    }

    /// The background's levels as a JPEG, `spectrogramRowsPerKey` rows a semitone from pitch
    /// `high` + 1/2 down to `low` - 1/2 (linear between bins; black outside the transform's range),
    /// one column per frame or, when the picture is narrower than the frames, area-averaged; grey
    /// level 255 x level squared.
    func spectrogram(_ background: Background, low: Int, high: Int, scale: Double) -> Data? {
        let image = background.image, transform = background.transform
        guard image.frames > 0, image.bins > 0 else { return nil }
        let perKey = max(1, spectrogramRowsPerKey), rows = (high - low + 1) * perKey
        let frameSeconds = Double(transform.hop) / Double(transform.sampleRate)
        let columns = max(1, min(image.frames, Int((Double(image.frames) * frameSeconds * scale).rounded(.up))))
        let time = AreaResize(from: image.frames, to: columns)
        var pixels = [UInt8](repeating: 0, count: rows * columns)
        for r in 0 ..< rows {
            let position = transform.bin(ofPitch: Double(high) + 0.5 - (Double(r) + 0.5) / Double(perKey))
            guard position > -0.5, position < Double(image.bins) - 0.5 else { continue }
            let below = min(image.bins - 1, max(0, Int(position.rounded(.down)))), above = min(image.bins - 1, below + 1)
            let w = Float(min(1, max(0, position - Double(below))))
            for (c, cell) in time.cells.enumerated() {
                var sum: Float = 0
                for (j, weight) in cell.weights.enumerated() {
                    let frame = (cell.start + j) * image.bins
                    sum += weight * ((1 - w) * image.levels[frame + below] + w * image.levels[frame + above])
                }
                let level = min(1, max(0, sum))
                pixels[r * columns + c] = UInt8((level * level * 255).rounded())  // squared: a darker floor, so the notes stand out
            }
        }
        return try? JPEGEncoder(quality: spectrogramQuality).encode(gray: pixels, width: columns, height: rows)
    }

    private func format(_ value: Double) -> String { String(format: "%.1f", value) }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
