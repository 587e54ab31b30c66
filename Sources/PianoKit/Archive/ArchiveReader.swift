import Foundation

/// Reads a packed archive: validates its manifest against the zip's members, and streams a split's
/// examples in chunks from the compressed members, so memory stays flat however large it is.
public final class ArchiveReader {
    /// The archive's path.
    public let path: String
    /// Its manifest, validated.
    public let manifest: ArchiveManifest
    let zip: ZipReader

    /// Opens `path`, reads `manifest.json`, and checks it against the members' sizes and headers.
    public init(path: String) throws {
        self.path = path
        zip = try ZipReader(path: path)
        let data = try zip.readAll(ArchiveManifest.memberName)
        do {
            manifest = try JSONDecoder().decode(ArchiveManifest.self, from: data)
        } catch let error as DecodingError {
            throw FileError(path, "manifest.json is not an archive manifest: \(error.shortDescription)")
        }
        do { try manifest.validate() } catch { throw FileError.wrap(error, path: path) }
        for member in manifest.members {
            let entry = try zip.entry(member.name)
            guard entry.size == member.bytes else {
                throw FileError(path, "member \(member.name) is \(entry.size) bytes, the manifest says \(member.bytes)")
            }
            // validate() has checked the dtype and that the shape's size does not overflow.
            let expected = NPY.header(dtype: NPY.DType(rawValue: member.dtype)!, shape: member.shape).count
                + member.byteCount(itemSize: NPY.itemSize(member.dtype)!)!
            guard entry.size == expected else {
                throw FileError(path, "member \(member.name) is \(entry.size) bytes, but shape \(member.shape) of \(member.dtype) needs \(expected)")
            }
            // Deflate expands at most 1032:1 and stored data not at all. A manifest and directory that
            // agree on more are lying together, and the example stream would size its batch buffers
            // from them (terabytes, for a few bytes of data) before the data ran out.
            guard entry.method == 8 ? entry.size / 1032 <= entry.compressedSize : entry.size == entry.compressedSize else {
                throw FileError(path, "member \(member.name) claims \(entry.size) bytes, more than its \(entry.compressedSize) compressed bytes can hold")
            }
        }
    }

    /// One chunk of consecutive examples of a split.
    public struct Batch: Sendable {
        /// Examples in the chunk.
        public var count: Int
        /// count x rows x columns pixels.
        public var images: [UInt8]
        /// count class labels.
        public var labels: [UInt8]
        /// count x 88 multi-hot keys (MIDI 21...108).
        public var notes: [UInt8]
        /// count x 2: recording id and step.
        public var source: [Int32]
        /// count x 88 keys whose note starts at the step (empty when the archive has no onsets).
        public var onsets: [UInt8] = []
        /// count x 88 keys whose note ended just before the step (empty when the archive has no offsets).
        public var offsets: [UInt8] = []
    }

    /// Streams `split`'s examples, `chunk` at a time, checking every member's CRC-32 when it ends.
    public func examples(_ split: String, chunk: Int = 4096) throws -> ExampleStream {
        guard let contents = manifest.splits[split] else { throw FileError(path, "no split '\(split)'") }
        return try ExampleStream(reader: self, split: split, count: contents.count, pixels: manifest.frontEnd.geometry.pixels, chunk: chunk)
    }

    /// Sequential chunks of one split, read from its four (five with onsets, six with offsets) members in step.
    public final class ExampleStream {
        let streams: [ZipReader.MemberStream]
        let count: Int
        let pixels: Int
        let chunk: Int
        /// Whether the archive carries `<split>_onsets` (read as the fifth stream).
        let onsets: Bool
        /// Whether the archive carries `<split>_offsets` (read as the sixth stream).
        let offsets: Bool
        /// Examples delivered so far.
        public private(set) var position = 0

        init(reader: ArchiveReader, split: String, count: Int, pixels: Int, chunk: Int) throws {
            self.count = count
            self.pixels = pixels
            self.chunk = max(1, chunk)
            onsets = reader.manifest.labels.targets.contains("onset")
            offsets = reader.manifest.labels.targets.contains("offset")
            streams = try (["images", "labels", "notes", "source"] + (onsets ? ["onsets"] : []) + (offsets ? ["offsets"] : [])).map { kind in
                let name = "\(split)_\(kind).npy"
                let member = reader.manifest.members.first { $0.name == name }!
                let stream = try reader.zip.open(reader.zip.entry(name))
                // Skip the .npy header, checking it says what the manifest says.
                let headerLength = NPY.header(dtype: NPY.DType(rawValue: member.dtype)!, shape: member.shape).count
                var header = [UInt8](repeating: 0, count: headerLength)
                try header.withUnsafeMutableBytes { try stream.read(into: $0) }
                let problem: String
                do {
                    let parsed = try NPY.parseHeader(header)
                    if parsed.descr == member.dtype, parsed.shape == member.shape, parsed.length == headerLength { return stream }
                    problem = "header says \(parsed.descr) \(parsed.shape), the manifest \(member.dtype) \(member.shape)"
                } catch {
                    problem = "\(error)"
                }
                // A corrupt member can inflate to a garbled header: its CRC is the better diagnosis.
                try stream.drain()
                throw FileError(reader.path, "member \(name): \(problem)")
            }
        }

        /// The next chunk, or nil after the last (when every member's CRC has been checked).
        public func next() throws -> Batch? {
            let n = min(chunk, count - position)
            guard n > 0 else {
                for stream in streams { try stream.finish() }
                return nil
            }
            var batch = Batch(count: n, images: [UInt8](repeating: 0, count: n * pixels), labels: [UInt8](repeating: 0, count: n),
                              notes: [UInt8](repeating: 0, count: n * pianoKeys.count), source: [Int32](repeating: 0, count: 2 * n))
            try batch.images.withUnsafeMutableBytes { try streams[0].read(into: $0) }
            try batch.labels.withUnsafeMutableBytes { try streams[1].read(into: $0) }
            try batch.notes.withUnsafeMutableBytes { try streams[2].read(into: $0) }
            try batch.source.withUnsafeMutableBytes { try streams[3].read(into: $0) }
            for i in batch.source.indices { batch.source[i] = Int32(littleEndian: batch.source[i]) }
            if onsets {
                batch.onsets = [UInt8](repeating: 0, count: n * pianoKeys.count)
                try batch.onsets.withUnsafeMutableBytes { try streams[4].read(into: $0) }
            }
            if offsets {
                batch.offsets = [UInt8](repeating: 0, count: n * pianoKeys.count)
                try batch.offsets.withUnsafeMutableBytes { try streams[5].read(into: $0) }
            }
            position += n
            return batch
        }
    }

    /// Reads every member whole, checking its CRC-32, its SHA-256 against the manifest and its
    /// `.npy` header against the manifest's shape; returns one line per problem (none if sound).
    public func verify() -> [String] {
        var problems: [String] = []
        for member in manifest.members {
            do {
                let stream = try zip.open(try zip.entry(member.name), sha256: true)
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                var left = member.bytes, first = true
                // Reported once the whole member has read back intact: a corrupt member can inflate
                // to a garbled header, and then its CRC error is the one to report.
                var headerProblem: String?
                while left > 0 {
                    let n = min(left, buffer.count)
                    try buffer.withUnsafeMutableBytes { try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0 ..< n])) }
                    if first {
                        first = false
                        do {
                            let header = try NPY.parseHeader(Array(buffer[0 ..< n]))
                            if header.descr != member.dtype || header.shape != member.shape {
                                headerProblem = "header says \(header.descr) \(header.shape), the manifest \(member.dtype) \(member.shape)"
                            }
                        } catch {
                            headerProblem = "\(error)"
                        }
                    }
                    left -= n
                }
                let sha = try stream.finish()
                if let headerProblem { problems.append("\(path): member \(member.name): \(headerProblem)") }
                if sha != member.sha256 {
                    problems.append("\(path): member \(member.name): SHA-256 \(sha ?? "") differs from the manifest's \(member.sha256)")
                }
            } catch let error as FileError {
                problems.append("\(error)")
            } catch {
                problems.append("\(path): member \(member.name): \(error)")
            }
        }
        let listed = Set(manifest.members.map(\.name) + [ArchiveManifest.memberName])
        for entry in zip.entries where !listed.contains(entry.name) {
            problems.append("\(path): member \(entry.name) is not in the manifest")
        }
        return problems
    }
}
