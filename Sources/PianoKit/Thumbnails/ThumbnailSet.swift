import Foundation

/// The sidecar `thumbs.json` in each recording's thumbnail folder: every parameter that shaped
/// the pixels, so that `pack` can record them and refuse to mix folders made differently.
/// Documented in `Schemas/thumbs.md`.
public struct ThumbnailSet: Codable, Sendable, Equatable {
    /// The value of `format`.
    public static let formatName = "piano-thumbs"
    /// The version this code writes: 2 has rows and columns in `geometry` and an `onsets` column in
    /// `labels.tsv`. Version 1 folders (square `size`, no onsets) are still read.
    public static let currentVersion = 2
    /// The versions this code reads.
    public static let readableVersions = 1 ... 2
    /// The sidecar's file name.
    public static let fileName = "thumbs.json"
    /// The label index's file name.
    public static let labelsFileName = "labels.tsv"
    /// The whole-track picture's file name.
    public static let previewFileName = "preview.jpg"
    /// The optional raw spectrogram's file name.
    public static let spectrogramFileName = "spectrogram.npy"

    /// Always `piano-thumbs`.
    public var format = formatName
    /// Format version.
    public var version = currentVersion
    /// The recording's stem (the folder's name).
    public var stem: String
    /// What the MAPS name says (category, instrument...), copied from the note map.
    public var maps: MAPSName
    /// The note map, relative to this folder.
    public var noteMap: String
    /// The audio, relative to this folder.
    public var wav: String
    /// The time-frequency transform.
    public var transform: TransformParameters
    /// Magnitude to level mapping.
    public var decibels: DecibelScale
    /// Thumbnail size and context.
    public var geometry: ThumbnailGeometry
    /// JPEG quality.
    public var quality: Int
    /// Every how many steps a thumbnail was written (1 = all).
    public var every: Int
    /// Steps of the recording's time grid.
    public var steps: Int
    /// Thumbnails written: ceil(steps / every).
    public var images: Int
    /// Digits in the zero-padded step numbers of the JPEG names.
    public var digits: Int
    /// Whether `spectrogram.npy` (float32 magnitudes, frames x bins) was written.
    public var spectrogram: Bool

    /// The JPEG name of step `k`, e.g. `000042.jpg`.
    public func imageName(step k: Int) -> String {
        let number = String(k)
        return String(repeating: "0", count: max(0, digits - number.count)) + number + ".jpg"
    }

    /// The step whose JPEG name (`imageName(step:)`) `name` is, read from its bytes: digits
    /// zero-padded to `digits` (more digits only without a leading zero) and `.jpg`; nil for any
    /// other name.
    public func imageStep<Name: Collection>(_ name: Name) -> Int? where Name.Element == UInt8 {
        guard name.count >= digits + 4, name.suffix(4).elementsEqual(".jpg".utf8) else { return nil }
        let number = name.dropLast(4)
        // At most 18 digits, so the step cannot overflow.
        guard number.count <= 18, number.count == digits || number.first != UInt8(ascii: "0") else { return nil }
        var step = 0
        for byte in number {
            guard (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(byte) else { return nil }
            step = step * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return step
    }

    /// Whether `other` was made with the same settings (so its pixels would be the same).
    public func sameSettings(as other: ThumbnailSet) -> Bool {
        transform == other.transform && decibels == other.decibels && geometry == other.geometry
            && quality == other.quality && every == other.every && spectrogram == other.spectrogram
    }

    /// Reads and checks a sidecar.
    public static func read(path: String) throws -> ThumbnailSet {
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError(path, "cannot read file") }
        let set: ThumbnailSet
        do {
            set = try JSONDecoder().decode(ThumbnailSet.self, from: data)
        } catch let error as DecodingError {
            throw FileError(path, "not a thumbnail sidecar: \(error.shortDescription)")
        }
        guard set.format == formatName else { throw FileError(path, "format is '\(set.format)', expected '\(formatName)'") }
        guard readableVersions.contains(set.version) else {
            throw FileError(path, "version \(set.version) is not supported (this build reads 1 and \(currentVersion)); re-run spectro with this build")
        }
        guard set.every > 0, set.images == (set.steps + set.every - 1) / set.every else {
            throw FileError(path, "images (\(set.images)) does not match steps \(set.steps) every \(set.every)")
        }
        return set
    }

    /// The sidecar as pretty JSON.
    public func encoded() throws -> Data {
        try prettyJSON()
    }

    /// The label index: one line per thumbnail: step, time (s), file, class label, sounding keys
    /// and starting keys (both comma-separated; `StepLabels.onsets`). With `every` > 1 an onset at a
    /// step without a thumbnail is in no row.
    public func labelsTSV(_ map: NoteMap) -> String {
        var text = "step\ttime\tfile\tlabel\tnotes\tonsets\n"
        let grid = map.grid, onsets = StepLabels.onsets(notes: map.notes, grid: grid, steps: steps)
        func keys(_ list: [Int]) -> String { list.map(String.init).joined(separator: ",") }
        for k in stride(from: 0, to: steps, by: every) {
            text += "\(k)\t\(String(format: "%.6f", grid.time(ofStep: k)))\t\(imageName(step: k))\t\(map.labels.single[k])\t\(keys(map.labels.multi[k]))\t\(keys(onsets[k]))\n"
        }
        return text
    }
}
