import Foundation

/// The loss curve as an SVG picture (the paper's figure 4): cross-entropy and total loss per step
/// on the left axis, train and validation accuracy on the right one, with axis labels and a legend.
/// When the first steps' loss squashes the rest (the largest loss over 10x the median), the loss
/// axis is logarithmic, with a tick at every power of ten (and 2x, 5x when few decades show).
public enum LossPlot {
    /// How much larger than the median loss the largest may be before the loss axis turns logarithmic.
    public static let logThreshold = 10.0

    /// The SVG text for `rows`.
    public static func svg(_ rows: [TrainLogRow], title: String) -> String {
        let width = 720.0, height = 420.0, left = 70.0, right = 70.0, top = 40.0, bottom = 50.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maxStep = Double(rows.last?.step ?? 1)
        let axis = LossAxis(rows.flatMap { [$0.crossEntropy, $0.totalLoss] })
        func x(_ step: Int) -> Double { left + plotWidth * Double(step) / max(maxStep, 1) }
        func yLoss(_ value: Double) -> Double { height - bottom - plotHeight * axis.fraction(value) }
        func yAccuracy(_ value: Double) -> Double { height - bottom - plotHeight * min(max(value, 0), 1) }
        func line(_ points: [(Double, Double)], colour: String, dashed: Bool = false) -> String {
            guard !points.isEmpty else { return "" }
            let path = points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"\(dashed ? " stroke-dasharray=\"5,3\"" : "") points=\"\(path)\"/>\n"
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(Int(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(width - right)\" y1=\"\(top)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"grey\"/>\n"
        svg += "<g class=\"loss-ticks\" data-scale=\"\(axis.logarithmic ? "log" : "linear")\">\n"
        for (value, label) in axis.ticks {
            let yy = yLoss(value)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", left, yy, width - right, yy)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>\n", left - 6, yy + 4, label)
        }
        svg += "</g>\n"
        for i in 0 ... 4 {
            let fraction = Double(i) / 4
            let yy = height - bottom - plotHeight * fraction
            svg += "<text x=\"\(width - right + 6)\" y=\"\(yy + 4)\">\(Int(fraction * 100))%</text>\n"
            let xx = left + plotWidth * fraction
            svg += "<text x=\"\(xx)\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(Int(maxStep * fraction))</text>\n"
        }
        svg += "<text class=\"axis-label\" x=\"\(Int(left + plotWidth / 2))\" y=\"\(Int(height - 12))\" text-anchor=\"middle\">step</text>\n"
        let lossLabel = axis.logarithmic ? "loss (log scale)" : "loss"
        svg += "<text class=\"axis-label\" transform=\"translate(18 \(Int(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(lossLabel)</text>\n"
        svg += "<text class=\"axis-label\" transform=\"translate(\(Int(width - 18)) \(Int(top + plotHeight / 2))) rotate(90)\" text-anchor=\"middle\">accuracy</text>\n"
        let series: [(name: String, colour: String, dashed: Bool, points: [(Double, Double)])] = [
            ("total loss", "#d62728", false, rows.map { (x($0.step), yLoss($0.totalLoss)) }),
            ("cross-entropy", "#1f77b4", false, rows.map { (x($0.step), yLoss($0.crossEntropy)) }),
            ("train accuracy (right axis)", "#ff7f0e", true, rows.map { (x($0.step), yAccuracy($0.trainAccuracy)) }),
            ("valid accuracy (right axis)", "#2ca02c", false, rows.compactMap { row in row.validAccuracy.map { (x(row.step), yAccuracy($0)) } }),
        ]
        for s in series { svg += line(s.points, colour: s.colour, dashed: s.dashed) }
        let shown = series.filter { !$0.points.isEmpty }
        svg += "<g class=\"legend\">\n"
        // A white box keeps the legend readable over the curves it may cover.
        svg += "<rect x=\"\(left + 6)\" y=\"\(top + 2)\" width=\"200\" height=\"\(shown.count * 16 + 6)\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n"
        for (i, s) in shown.enumerated() {
            let yy = top + 14 + Double(i) * 16
            svg += "<line x1=\"\(left + 12)\" y1=\"\(yy - 4)\" x2=\"\(left + 32)\" y2=\"\(yy - 4)\" stroke=\"\(s.colour)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"5,3\"" : "")/>"
            svg += "<text x=\"\(left + 38)\" y=\"\(yy)\">\(s.name)</text>\n"
        }
        return svg + "</g>\n</svg>\n"
    }

    /// The loss axis: linear from 0 to the largest loss, or logarithmic over whole decades.
    struct LossAxis {
        let logarithmic: Bool
        let low: Double, high: Double  // linear: 0...max; log: the decades' log10 bounds

        init(_ values: [Double]) {
            let finite = values.filter { $0.isFinite && $0 >= 0 }.sorted()
            let largest = max(finite.last ?? 1, 1e-9)
            let median = finite.isEmpty ? largest : finite[finite.count / 2]
            let positive = finite.filter { $0 > 0 }
            logarithmic = median > 0 && largest / median > LossPlot.logThreshold && !positive.isEmpty
            if logarithmic {
                low = log10(positive[0]).rounded(.down)
                high = max(low + 1, log10(largest).rounded(.up))
            } else {
                low = 0
                high = largest
            }
        }

        /// Where `value` sits between the bottom (0) and the top (1).
        func fraction(_ value: Double) -> Double {
            let f = logarithmic ? (log10(max(value, pow(10, low))) - low) / (high - low) : value / high
            return min(max(f.isFinite ? f : 0, 0), 1)
        }

        /// Tick values and labels.
        var ticks: [(Double, String)] {
            guard logarithmic else { return (0 ... 4).map { i in (high * Double(i) / 4, String(format: "%.2f", high * Double(i) / 4)) } }
            let decades = Int(high - low)
            var ticks: [(Double, String)] = []
            for e in Int(low) ... Int(high) {
                let power = pow(10, Double(e))
                ticks.append((power, Self.label(power)))
                if decades <= 2, e < Int(high) { ticks += [2.0, 5.0].map { ($0 * power, Self.label($0 * power)) } }
            }
            return ticks
        }

        static func label(_ value: Double) -> String {
            value >= 1e-3 && value < 1e4 ? String(format: "%g", value) : String(format: "%.0e", value)
        }
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
