import Foundation
import Testing
@testable import PianoKit

/// Whole-recording evaluation against the network run on each window by itself.
@Suite struct SlidingEvaluatorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func spec(_ name: String) throws -> NetworkSpec { try NetworkSpec.read(path: root + "/networks/\(name).json") }

    /// A random picture with dark and bright stretches (0...255 bytes), rows x width.
    static func picture(rows: Int, width: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        return (0 ..< rows * width).map { i in i % width < 5 ? 0 : UInt8.random(in: 0 ... 255, using: &rng) }
    }

    /// Every window's logits from one pass over the picture equal `Network.forward` on the
    /// window alone (normalised the same way) within 1e-5 relative to the logits' scale, for
    /// window counts that do and do not fill the last stretch.
    @Test(arguments: [1, 7, 130, 301])
    func equalsPerWindow(windows: Int) throws {
        let spec = try Self.spec("piano88-slide")
        let network = try Network(spec, input: ActivationShape(channels: 1, height: 88, width: 16), seed: 5)
        let sliding = try SlidingEvaluator(network, columns: 8, stretches: 2)
        #expect(sliding.stride == 4)
        let width = windows + 15, pixels = Self.picture(rows: 88, width: width, seed: UInt64(windows))
        let wide = sliding.logits(pixels, width: width, windows: windows)
        let normalization = try #require(spec.normalization)
        var images: [Float] = []
        for k in 0 ..< windows {
            for r in 0 ..< 88 { for c in 0 ..< 16 { images.append(normalization(pixels[r * width + k + c])) } }
        }
        let single = network.forward(images, batch: windows)
        for (h, head) in network.heads.enumerated() {
            #expect(wide[h].count == windows * head.kind.outputs)
            let scale = single[h].map(abs).max() ?? 1
            let worst = zip(wide[h], single[h]).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * max(scale, 1), "head \(head.kind.rawValue): \(worst) of \(scale)")
        }
    }

    /// Asked for phases wider than `NetworkSpec.maximumActivations` allows, it takes fewer columns and gives the same logits.
    @Test func narrowsPhasesToTheActivationLimit() throws {
        let network = try Network(try Self.spec("piano88-slide"), input: ActivationShape(channels: 1, height: 88, width: 16), seed: 2)
        let wide = try SlidingEvaluator(network, columns: 1 << 20), narrow = try SlidingEvaluator(network, columns: 4)
        #expect(wide.columnsPerPhase < 1 << 20 && wide.columnsPerPhase > 4)
        let pixels = Self.picture(rows: 88, width: 60 + 15, seed: 9)
        let a = wide.logits(pixels, width: 75, windows: 60), b = narrow.logits(pixels, width: 75, windows: 60)
        for (x, y) in zip(a, b) { #expect(zip(x, y).allSatisfy { abs($0 - $1) <= 1e-4 }) }
    }

    /// Networks whose output for a window depends on more than the window's pixels are refused, with the reason.
    @Test func refusesWhatCannotSlide() throws {
        let perImage = try Network(try Self.spec("piano88"), input: ActivationShape(channels: 1, height: 88, width: 16), seed: 1)
        #expect(SlidingEvaluator.refusal(perImage)?.contains("standardises each input picture") == true)
        var padded = try Self.spec("piano88")
        padded.normalization = FixedNormalization(mean: 0.25, std: 0.25)
        let samePadding = try Network(padded, input: ActivationShape(channels: 1, height: 88, width: 16), seed: 1)
        #expect(SlidingEvaluator.refusal(samePadding)?.contains("convolution pads") == true)
        let dense = Network(.simple, size: 32, seed: 1)
        #expect(SlidingEvaluator.refusal(dense) != nil)
        #expect(throws: FormatError.self) { try SlidingEvaluator(dense) }
    }

    /// The strip's windows are the thumbnails `spectro` cuts, byte for byte (before JPEG),
    /// the recording's edges included.
    @Test func stripWindowsAreThumbnails() throws {
        var rng = SeededGenerator(seed: 3)
        let frames = 40, bins = 264
        let image = LevelImage(bins: bins, frames: frames, levels: (0 ..< bins * frames).map { _ in Float.random(in: 0 ... 1, using: &rng) })
        let geometry = ThumbnailGeometry(rows: 88, columns: 16)
        let thumbnailer = Thumbnailer(image, geometry: geometry)
        let before = -geometry.firstFrame(ofStep: 0), width = frames + geometry.context
        let strip = try #require(thumbnailer.strip(before: before, after: geometry.context - before))
        for k in 0 ..< frames {
            let thumbnail = thumbnailer.thumbnail(step: k)
            var window: [UInt8] = []
            for r in 0 ..< 88 { window += strip[(r * width + k) ..< (r * width + k + 16)] }
            #expect(window == thumbnail, "step \(k)")
        }
        #expect(Thumbnailer(image, geometry: ThumbnailGeometry(rows: 88, columns: 8)).strip(before: 8, after: 8) == nil)
    }

    /// Per-axis padding: one word when both axes agree, [rows, columns] otherwise; shapes follow each axis.
    @Test func paddingPerAxis() throws {
        let json = #"{"type": "convolution", "filters": 2, "kernel": [3, 3], "padding": ["same", "valid"]}"#
        let layer = try JSONDecoder().decode(LayerSpec.self, from: Data(json.utf8))
        #expect(layer == .convolution(filters: 2, kernel: (3, 3), stride: (1, 1), padding: Padding2D(rows: .same, columns: .valid), name: nil))
        #expect(String(decoding: try JSONEncoder().encode(Padding2D.same), as: UTF8.self) == #""same""#)
        #expect(String(decoding: try JSONEncoder().encode(Padding2D(rows: .same, columns: .valid)), as: UTF8.self) == #"["same","valid"]"#)
        let conv = Convolution(name: "c", input: ActivationShape(channels: 1, height: 10, width: 16), filters: 2, kernel: (3, 3), padding: Padding2D(rows: .same, columns: .valid)) { n, _ in [Float](repeating: 0.1, count: n) }
        #expect(conv.outputShape == ActivationShape(channels: 2, height: 10, width: 14))
        let bad = #"{"type": "maxPool", "window": [1, 2], "padding": ["same"]}"#
        #expect(throws: FormatError.self) { try JSONDecoder().decode(LayerSpec.self, from: Data(bad.utf8)) }
    }
}
