import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import PianoKit

@Suite struct PictureTests {
    func rows(_ losses: [Double]) -> [TrainLogRow] {
        losses.enumerated().map { i, loss in
            TrainLogRow(step: (i + 1) * 50, crossEntropy: loss, totalLoss: loss * 1.1, learningRate: 0.01, trainAccuracy: 0.5 + Double(i) / 40,
                        validAccuracy: (i + 1) % 4 == 0 ? 0.4 + Double(i) / 40 : nil, imagesPerSecond: 100)
        }
    }

    /// The texts of the loss-axis tick group (`<g class="loss-ticks" ...> ... </g>`).
    func tickLabels(_ svg: String) -> (scale: String, labels: [String]) {
        let group = svg.components(separatedBy: "<g class=\"loss-ticks\" data-scale=\"")[1].components(separatedBy: "</g>")[0]
        let scale = String(group.prefix { $0 != "\"" })
        let labels = group.components(separatedBy: "text-anchor=\"end\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
        return (scale, labels)
    }

    @Test func lossPlotHasAxisLabelsAndLegend() {
        let svg = LossPlot.svg(rows([2.5, 2.0, 1.7, 1.5, 1.4, 1.3, 1.2, 1.1]), title: "simple network, single heads")
        for label in [">step</text>", ">loss</text>", ">accuracy</text>"] { #expect(svg.contains(label), "axis label \(label)") }
        for entry in ["total loss", "cross-entropy", "train accuracy (right axis)", "valid accuracy (right axis)"] {
            #expect(svg.contains(">\(entry)</text>"), "legend entry \(entry)")
        }
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)  // both losses and both accuracies
        let (scale, labels) = tickLabels(svg)
        #expect(scale == "linear")  // 2.75 / 1.5 is no reason for a log axis
        #expect(labels == ["0.00", "0.69", "1.38", "2.06", "2.75"])
        #expect(XMLParser(data: Data(svg.utf8)).parse())
    }

    /// A first loss of 500 over a median near 1: a log axis with a tick per decade.
    @Test func lossPlotTurnsLogarithmicWhenTheFirstStepsSquashTheRest() {
        let svg = LossPlot.svg(rows([500, 40, 3, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5]), title: "t")
        #expect(svg.contains(">loss (log scale)</text>"))
        let (scale, labels) = tickLabels(svg)
        #expect(scale == "log")
        #expect(labels == ["0.1", "1", "10", "100", "1000"])
        // Two decades or fewer also get 2x and 5x ticks.
        let (_, fine) = tickLabels(LossPlot.svg(rows([60, 3, 2, 1.5, 1.2, 1.1]), title: "t"))
        #expect(fine == ["1", "2", "5", "10", "20", "50", "100"])
        // Each point lies on its tick's height: a row at exactly 1 sits on the "1" tick line.
        let axis = LossPlot.LossAxis([0.5, 0.6, 0.7, 500])
        #expect(axis.logarithmic && axis.fraction(1) == 0.25 && axis.fraction(0.1) == 0 && axis.fraction(1000) == 1)
    }

    @Test func pianoRollLegendNamesTheReferenceOnlyWhenThereIsOne() throws {
        let notes = [Note(onset: 0.1, offset: 0.5, pitch: 60)]
        let with = PianoRoll().svg(estimate: notes, reference: notes, duration: 1, title: "a")
        let without = PianoRoll().svg(estimate: notes, reference: nil, duration: 1, title: "a")
        #expect(with.contains("reference") && with.contains("estimate"))
        #expect(!without.contains("reference") && without.contains("estimate"))
        #expect(!without.contains("<image"))
    }

    /// The embedded spectrogram: a bright bin at C4's fundamental becomes the brightest image row
    /// at C4's row of the picture, and the picture spans the plot.
    @Test func pianoRollSpectrogramAlignment() throws {
        let transform = TransformParameters.pianoCQT(sampleRate: 44100, hop: 512, binsPerOctave: 36)
        let frames = 87, bins = transform.bins
        let c4 = Int(transform.bin(ofPitch: 60).rounded())
        var levels = [Float](repeating: 0.2, count: frames * bins)
        for f in 0 ..< frames { levels[f * bins + c4] = 1 }
        let image = LevelImage(bins: bins, frames: frames, levels: levels)
        let roll = PianoRoll()
        let notes = [Note(onset: 0.1, offset: 0.9, pitch: 60)]
        let svg = roll.svg(estimate: notes, reference: nil, duration: 1, title: "a", background: .init(image: image, transform: transform))
        let base64 = try #require(svg.components(separatedBy: "base64,").dropFirst().first?.prefix { $0 != "\"" })
        let decoded = try JPEGDecoder().decodeGray(try #require(Data(base64Encoded: String(base64))))
        // Pitches 58...62 shown (the note +-2), 3 rows each: C4's middle row is row 2 * 3 + 1.
        #expect(decoded.height == 15)
        let rowMeans = (0 ..< decoded.height).map { r in decoded.pixels[r * decoded.width ..< (r + 1) * decoded.width].reduce(0) { $0 + Int($1) } / decoded.width }
        #expect(rowMeans.firstIndex(of: rowMeans.max()!) == 7)
        #expect(svg.contains("y=\"28.0\" width=\"101.007\" height=\"30.0\""))  // 87 frames of 512/44100 s at 100 px/s, 5 keys of 6 px
    }
}
