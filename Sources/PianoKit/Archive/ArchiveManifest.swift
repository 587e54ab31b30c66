import Foundation

/// The `manifest.json` member of a packed archive: what is inside, how it was made, and a
/// SHA-256 per member. Documented in `Schemas/archive.md`.
public struct ArchiveManifest: Codable, Sendable, Equatable {
    /// The value of `format`.
    public static let formatName = "piano-archive"
    /// The version this code writes. Version 1 (before onset targets, with a square `size` in
    /// the geometry) is still read; its archives carry no `<split>_onsets`.
    public static let currentVersion = 2
    /// The versions this code reads.
    public static let readableVersions = 1 ... 2
    /// The member's name.
    public static let memberName = "manifest.json"
    /// Split names, in member order.
    public static let splitNames = ["train", "valid", "test"]

    /// Always `piano-archive`.
    public var format = formatName
    /// Format version.
    public var version = currentVersion
    /// The front end that made the thumbnails (from the recordings' `thumbs.json`).
    public var frontEnd: FrontEndRecord
    /// The labels each example carries.
    public var labels: LabelsRecord
    /// How examples were split.
    public var split: SplitRecord
    /// Which shard this archive is.
    public var shard: ShardRecord
    /// Every packed recording (ids are indices into this list, used by `<split>_source`).
    public var recordings: [RecordingRecord]
    /// Per split: counts, recordings and class histogram.
    public var splits: [String: SplitContents]
    /// Every `.npy` member: name, dtype, shape, uncompressed size and the SHA-256 of its stored bytes.
    public var members: [MemberRecord]
    /// Thumbnail folders given to `pack` but left out as bad, by folder name; absent when none was.
    public var leftOut: [LeftOutRecord]?

    /// A thumbnail folder `pack` left out, and why.
    public struct LeftOutRecord: Codable, Sendable, Equatable {
        /// The folder's name (its last path component: the recording's stem for `spectro`'s folders).
        public var folder: String
        /// The problem: the file inside the folder it is about, if any, then what is wrong
        /// (e.g. `000012.jpg: not a JPEG: ...`). No absolute paths, so the manifest stays the
        /// same wherever the folders are.
        public var problem: String

        /// The record for the folder at `path` that failed with `error`.
        public init(path: String, error: FileError) {
            let folder = URL(fileURLWithPath: path).standardizedFileURL.path
            let file = URL(fileURLWithPath: error.path).standardizedFileURL.path
            self.folder = URL(fileURLWithPath: folder).lastPathComponent
            let inside = file.hasPrefix(folder + "/") ? String(file.dropFirst(folder.count + 1)) : nil
            let line = error.line.map { ":\($0)" } ?? ""
            problem = (inside.map { $0 + line + ": " } ?? "") + error.message
        }
    }

    /// Everything that shaped the pixels.
    public struct FrontEndRecord: Codable, Sendable, Equatable {
        /// The transform and its parameters (including sample rate and hop).
        public var transform: TransformParameters
        /// Magnitude to level mapping.
        public var decibels: DecibelScale
        /// Thumbnail size and context.
        public var geometry: ThumbnailGeometry
        /// JPEG quality of the thumbnails the pixels were decoded from.
        public var quality: Int
        /// Thumbnails were written every this many steps.
        public var every: Int

        public init(transform: TransformParameters, decibels: DecibelScale, geometry: ThumbnailGeometry, quality: Int, every: Int) {
            self.transform = transform
            self.decibels = decibels
            self.geometry = geometry
            self.quality = quality
            self.every = every
        }
    }

    /// The label arrays.
    public struct LabelsRecord: Codable, Sendable, Equatable {
        /// `single+multi`: `<split>_labels` holds the 128-way class, `<split>_notes` the multi-hot keys.
        public var kind = "single+multi"
        /// Number of classes of `<split>_labels` (MIDI note numbers, 0 = no note).
        public var classes = 128
        /// The keys of `<split>_notes` columns: MIDI 21...108.
        public var multiKeys = [pianoKeys.lowerBound, pianoKeys.upperBound]
        /// The targets the archive carries, as network head kinds: `single` (`<split>_labels`),
        /// `frame` (`<split>_notes`) and, when every packed folder had them, `onset`
        /// (`<split>_onsets`) and, when asked for (`pack --offsets`), `offset` (`<split>_offsets`).
        public var targets = ["single", "frame"]

        /// The labels of an archive with or without onsets and offsets.
        public init(onsets: Bool = false, offsets: Bool = false) {
            if onsets { targets.append("onset") }
            if offsets { targets.append("offset") }
        }

        private enum CodingKeys: String, CodingKey { case kind, classes, multiKeys, targets }

        /// Reads the record; version 1 manifests have no `targets` (single and frame).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            classes = try c.decode(Int.self, forKey: .classes)
            multiKeys = try c.decode([Int].self, forKey: .multiKeys)
            targets = try c.decodeIfPresent([String].self, forKey: .targets) ?? ["single", "frame"]
        }
    }

    /// How the split was made.
    public struct SplitRecord: Codable, Sendable, Equatable {
        /// `recording`, `step` or `instrument`.
        public var by: String
        /// Train, valid, test proportions.
        public var ratios: [Int]
        /// The shuffling seed.
        public var seed: UInt64
        /// Instruments whose recordings all went to test (`by` = `instrument`).
        public var testInstruments: [String]
        /// Whether near-duplicate frames of one recording can sit in different splits.
        public var leaks: Bool
        /// Longest run of consecutive examples of one recording in a split's order (`pack
        /// --shuffle-block`); absent in version 1 archives, which are in recording order.
        public var shuffleBlock: Int?
    }

    /// Position among shards.
    public struct ShardRecord: Codable, Sendable, Equatable {
        /// 0-based index.
        public var index: Int
        /// Number of shards.
        public var count: Int
        /// Examples per shard (the last may hold fewer); nil when not sharded.
        public var size: Int?
        /// Global index (over train, then valid, then test) of this shard's first example.
        public var firstExample: Int
    }

    /// One recording.
    public struct RecordingRecord: Codable, Sendable, Equatable {
        /// Index used in `<split>_source`.
        public var id: Int
        /// The stem.
        public var stem: String
        /// MAPS category.
        public var category: String
        /// MAPS instrument, if named.
        public var instrument: String?
        /// The split its examples went to; nil when split by step.
        public var split: String?
        /// Examples it contributed (in all shards).
        public var examples: Int
    }

    /// One split's contents in this archive.
    public struct SplitContents: Codable, Sendable, Equatable {
        /// Examples in this archive.
        public var count: Int
        /// Ids of the recordings with examples in this archive's split.
        public var recordings: [Int]
        /// Examples per class 0...127.
        public var classHistogram: [Int]

        /// Creates a split record.
        public init(count: Int, recordings: [Int], classHistogram: [Int]) {
            self.count = count
            self.recordings = recordings
            self.classHistogram = classHistogram
        }
    }

    /// One `.npy` member.
    public struct MemberRecord: Codable, Sendable, Equatable {
        /// Member name, e.g. `train_images.npy`.
        public var name: String
        /// NumPy descriptor.
        public var dtype: String
        /// Shape.
        public var shape: [Int]
        /// Uncompressed size in bytes (header included).
        public var bytes: Int
        /// SHA-256 of the member's stored (compressed) bytes in the zip, hex.
        public var sha256: String

        /// Bytes of data (header excluded) the shape needs, or nil for a negative or overflowing shape.
        public func byteCount(itemSize: Int) -> Int? {
            var total = itemSize
            for dimension in shape {
                guard dimension >= 0 else { return nil }
                let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= 1 << 50 else { return nil }
                total = product
            }
            return total
        }

        /// Creates a member record.
        public init(name: String, dtype: String, shape: [Int], bytes: Int, sha256: String) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
            self.sha256 = sha256
        }
    }

    /// The JSON bytes, pretty and with sorted keys (so equal manifests are equal bytes).
    public func encoded() throws -> Data {
        try prettyJSON()
    }

    /// Checks the manifest's own consistency; the error says what is wrong.
    public func validate() throws {
        func fail(_ message: String) -> FormatError { FormatError("invalid manifest: \(message)") }
        guard format == Self.formatName else { throw fail("format is '\(format)', expected '\(Self.formatName)'") }
        guard Self.readableVersions.contains(version) else {
            throw fail("version \(version) is not supported (this build reads \(Self.readableVersions.map(String.init).joined(separator: " and ")); re-run pack with this build)")
        }
        guard labels.targets.allSatisfy(["single", "frame", "onset", "offset"].contains), Set(labels.targets).isSuperset(of: ["single", "frame"]),
              !labels.targets.contains("offset") || labels.targets.contains("onset") else {
            throw fail("targets \(labels.targets) are not single and frame, optionally onset, optionally offset with onset")
        }
        let geometry = frontEnd.geometry
        for member in members {
            guard let item = NPY.itemSize(member.dtype) else { throw fail("member \(member.name) has unsupported dtype '\(member.dtype)'") }
            guard member.byteCount(itemSize: item) != nil else { throw fail("member \(member.name) has an impossible shape \(member.shape)") }
        }
        for split in Self.splitNames {
            guard let contents = splits[split] else { throw fail("no '\(split)' split") }
            guard contents.classHistogram.count == labels.classes, contents.classHistogram.reduce(0, +) == contents.count else {
                throw fail("\(split) class histogram does not add up to its count \(contents.count)")
            }
            let expected: [(String, String, [Int])] = [
                ("\(split)_images.npy", NPY.DType.uint8.rawValue, [contents.count, geometry.rows, geometry.columns]),
                ("\(split)_labels.npy", NPY.DType.uint8.rawValue, [contents.count]),
                ("\(split)_notes.npy", NPY.DType.uint8.rawValue, [contents.count, pianoKeys.count]),
                ("\(split)_source.npy", NPY.DType.int32.rawValue, [contents.count, 2]),
            ] + ["onset", "offset"].filter(labels.targets.contains).map { ("\(split)_\($0)s.npy", NPY.DType.uint8.rawValue, [contents.count, pianoKeys.count]) }
            for (name, dtype, shape) in expected {
                guard let member = members.first(where: { $0.name == name }) else { throw fail("no member \(name)") }
                guard member.dtype == dtype, member.shape == shape else {
                    throw fail("\(name) is \(member.dtype) \(member.shape), expected \(dtype) \(shape) from the \(split) count")
                }
            }
            for id in contents.recordings where !recordings.indices.contains(id) { throw fail("\(split) names recording \(id), which is not listed") }
        }
    }
}
