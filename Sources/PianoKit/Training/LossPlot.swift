import Foundation

/// The loss curve as an SVG picture (the paper's figure 4): cross-entropy and total loss per step,
/// and validation accuracy on its own axis.
public enum LossPlot {
    /// The SVG text for `rows`.
    public static func svg(_ rows: [TrainLogRow], title: String) -> String {
        let width = 720.0, height = 420.0, left = 60.0, right = 60.0, top = 40.0, bottom = 50.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maxStep = Double(rows.last?.step ?? 1)
        let maxLoss = max(rows.map { max($0.crossEntropy, $0.totalLoss) }.max() ?? 1, 1e-9)
        func x(_ step: Int) -> Double { left + plotWidth * Double(step) / max(maxStep, 1) }
        func y(_ value: Double, _ top: Axis = .loss) -> Double {
            let scale = top == .loss ? maxLoss : 1
            return height - bottom - plotHeight * min(value / scale, 1)
        }
        func line(_ points: [(Double, Double)], colour: String) -> String {
            guard !points.isEmpty else { return "" }
            let path = points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(Int(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(width - right)\" y1=\"\(top)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"grey\"/>\n"
        for i in 0 ... 4 {
            let fraction = Double(i) / 4
            let yy = height - bottom - plotHeight * fraction
            svg += "<text x=\"\(left - 6)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(String(format: "%.2f", maxLoss * fraction))</text>\n"
            svg += "<text x=\"\(width - right + 6)\" y=\"\(yy + 4)\">\(Int(fraction * 100))%</text>\n"
            let xx = left + plotWidth * fraction
            svg += "<text x=\"\(xx)\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(Int(maxStep * fraction))</text>\n"
        }
        svg += "<text x=\"\(Int(width / 2))\" y=\"\(Int(height - 12))\" text-anchor=\"middle\">step</text>\n"
        svg += line(rows.map { (x($0.step), y($0.totalLoss)) }, colour: "#d62728")
        svg += line(rows.map { (x($0.step), y($0.crossEntropy)) }, colour: "#1f77b4")
        svg += line(rows.compactMap { row in row.validAccuracy.map { (x(row.step), y($0, .accuracy)) } }, colour: "#2ca02c")
        let legend = [("total loss", "#d62728"), ("cross-entropy", "#1f77b4"), ("valid accuracy (right axis)", "#2ca02c")]
        for (i, (name, colour)) in legend.enumerated() {
            let yy = top + 14 + Double(i) * 16
            svg += "<line x1=\"\(left + 12)\" y1=\"\(yy - 4)\" x2=\"\(left + 32)\" y2=\"\(yy - 4)\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(left + 38)\" y=\"\(yy)\">\(name)</text>\n"
        }
        return svg + "</svg>\n"
    }

    enum Axis { case loss, accuracy }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
