import Foundation

/// A piano-roll picture (SVG): the estimate drawn over the reference, the paper's figure 5.
public struct PianoRoll: Sendable {
    /// Horizontal scale.
    public var pixelsPerSecond = 100.0
    /// Height of one semitone.
    public var pixelsPerKey = 6.0
    /// The widest picture drawn; longer recordings are compressed in time to fit.
    public var maxWidth = 6000.0

    /// Default scales.
    public init() {}

    /// The SVG text: reference notes as grey bars, estimated notes as red outlines, one row per
    /// key between the lowest and highest note shown, a grid line every second and every C.
    public func svg(estimate: [Note], reference: [Note]?, duration: Double, title: String) -> String {
        let all = estimate + (reference ?? [])
        let low = max(0, (all.map(\.pitch).min() ?? 60) - 2), high = min(127, (all.map(\.pitch).max() ?? 72) + 2)
        let seconds = max(duration, all.map(\.offset).max() ?? 0, 0.1)
        let scale = min(pixelsPerSecond, maxWidth / seconds)
        let left = 44.0, top = 28.0, bottom = 24.0
        let width = left + seconds * scale + 10, height = top + Double(high - low + 1) * pixelsPerKey + bottom
        func x(_ t: Double) -> String { format(left + t * scale) }
        func y(_ pitch: Int) -> String { format(top + Double(high - pitch) * pixelsPerKey) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(height))" viewBox="0 0 \(format(width)) \(format(height))" font-family="sans-serif" font-size="10">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(format(left))" y="14" font-size="12">\(escape(title))</text>
        <text x="\(format(width - 10))" y="14" text-anchor="end"><tspan fill="#888">■ reference</tspan>  <tspan fill="#d62728">□ estimate</tspan></text>

        """
        for pitch in low ... high where pitch % 12 == 0 {
            s += "<line x1=\"\(format(left))\" x2=\"\(x(seconds))\" y1=\"\(y(pitch - 1))\" y2=\"\(y(pitch - 1))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(format(left - 4))\" y=\"\(y(pitch - 1))\" text-anchor=\"end\">C\(pitch / 12 - 1)</text>\n"
        }
        let tickEvery = seconds > 120 ? 10 : seconds > 30 ? 5 : 1
        for second in stride(from: 0, through: Int(seconds), by: tickEvery) {
            let t = Double(second)
            s += "<line x1=\"\(x(t))\" x2=\"\(x(t))\" y1=\"\(format(top))\" y2=\"\(format(height - bottom))\" stroke=\"#eee\"/>"
            s += "<text x=\"\(x(t))\" y=\"\(format(height - 8))\" text-anchor=\"middle\">\(second)s</text>\n"
        }
        func bars(_ notes: [Note], style: String) -> String {
            notes.filter { (low ... high).contains($0.pitch) }.map { note in
                "<rect x=\"\(x(note.onset))\" y=\"\(y(note.pitch))\" width=\"\(format(max(1, (note.offset - note.onset) * scale)))\" height=\"\(format(pixelsPerKey))\" \(style)/>"
            }.joined(separator: "\n")
        }
        if let reference { s += "<g>\n" + bars(reference, style: "fill=\"#999\" fill-opacity=\"0.6\"") + "\n</g>\n" }
        s += "<g>\n" + bars(estimate, style: "fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.2\"") + "\n</g>\n</svg>\n"
        return s
    }

    private func format(_ value: Double) -> String { String(format: "%.1f", value) }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
