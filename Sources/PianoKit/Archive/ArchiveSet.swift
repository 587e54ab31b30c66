/// Several archives read as one dataset — the shards `pack --shard-size` writes, or archives packed
/// on different machines — with each split the concatenation of the archives' splits, in order.
public final class ArchiveSet {
    /// The archives, opened and validated.
    public let archives: [ArchiveReader]

    /// Opens every archive and checks they share one front end (transform, levels, geometry,
    /// JPEG quality), so their thumbnails mean the same thing to a network.
    public init(paths: [String]) throws {
        guard let first = paths.first else { throw StageFailure("no archive given") }
        let head = try ArchiveReader(path: first)
        var archives = [head]
        for path in paths.dropFirst() {
            let archive = try ArchiveReader(path: path)
            guard archive.manifest.frontEnd == head.manifest.frontEnd else {
                throw FileError(path, "made with another front end than \(first) (\(archive.manifest.frontEnd.summary) vs \(head.manifest.frontEnd.summary))")
            }
            archives.append(archive)
        }
        self.archives = archives
    }

    /// One archive as a set.
    public init(_ archive: ArchiveReader) {
        archives = [archive]
    }

    /// The front end all the archives share.
    public var frontEnd: ArchiveManifest.FrontEndRecord { archives[0].manifest.frontEnd }

    /// The archives' paths, comma-separated (for messages and model metadata).
    public var path: String { archives.map(\.path).joined(separator: ",") }

    /// Examples in `split` over all the archives.
    public func count(_ split: String) -> Int {
        archives.reduce(0) { $0 + ($1.manifest.splits[split]?.count ?? 0) }
    }

    /// Streams `split` archive after archive, `chunk` examples at a time (a chunk never spans two
    /// archives), checking every member's CRC-32 as each archive's part ends.
    public func examples(_ split: String, chunk: Int = 4096) throws -> Stream {
        Stream(set: self, split: split, chunk: chunk)
    }

    /// Sequential chunks of one split across the archives.
    public final class Stream {
        let set: ArchiveSet
        let split: String
        let chunk: Int
        var index = 0
        var current: ArchiveReader.ExampleStream?

        init(set: ArchiveSet, split: String, chunk: Int) {
            self.set = set
            self.split = split
            self.chunk = chunk
        }

        /// The next chunk, or nil after the last archive's last.
        public func next() throws -> ArchiveReader.Batch? {
            while index < set.archives.count {
                if current == nil { current = try set.archives[index].examples(split, chunk: chunk) }
                if let batch = try current!.next() { return batch }
                current = nil
                index += 1
            }
            return nil
        }
    }
}

extension ArchiveManifest.FrontEndRecord {
    /// A short description for error messages, e.g. "cqt 36/octave, 32x32 of 32 frames, quality 90".
    var summary: String {
        "\(transform.transform) \(transform.binsPerOctave)/octave, hop \(transform.hop), \(geometry) of \(geometry.context) frames, quality \(quality), every \(every)"
    }
}
