import ArgumentParser
import Foundation
import PianoKit
import StageOptions

/// Archive benchmarks for bench/pack.sh: the writer alone on an archive's arrays, a large
/// synthetic archive for the streaming reader, a streaming read of every split, and the
/// members' checksum (SHA-256) speed.
@main
struct BenchArchive: ParsableCommand {
    static func main() { stageMain() }

    static let configuration = CommandConfiguration(
        commandName: "bench-archive",
        abstract: "Archive writer and streaming reader benchmarks.",
        version: toolkitVersion,
        subcommands: [Rewrite.self, Synthesize.self, Stream.self, Hash.self])

    /// Every .npy member of an archive, uncompressed, in archive order.
    static func members(of path: String) throws -> [(String, Data)] {
        let reader = try ArchiveReader(path: path)
        let zip = try ZipReader(path: path)
        return try reader.manifest.members.map { ($0.name, try zip.readAll($0.name, limit: 1 << 34)) }
    }
}

extension BenchArchive {
    struct Rewrite: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Time writing an archive's arrays again with the zip writer; prints median seconds and the size.")

        @Argument var archive: String
        @Option var output = "/tmp/bench-rewrite.npz"
        @Option var level = 6
        @Option var threads = 2
        @Option var repeats = 5

        func run() throws {
            let members = try BenchArchive.members(of: archive)
            var times: [Double] = []
            var size = 0
            for _ in 0 ..< repeats {
                let start = Date()
                let writer = try ZipWriter(path: output, level: Int32(level), threads: threads)
                for (name, data) in members { try writer.addMember(name, data: data) }
                try writer.finish()
                times.append(Date().timeIntervalSince(start))
                size = Int((try FileManager.default.attributesOfItem(atPath: output))[.size] as! UInt64)
            }
            print(String(format: "%.3f %d", times.sorted()[times.count / 2], size))
        }
    }

    struct Synthesize: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write an archive of N train examples, cycling through a real archive's train split.")

        @Argument var archive: String
        @Option var examples = 1_000_000
        @Option(name: .shortAndLong) var output: String

        func run() throws {
            let reader = try ArchiveReader(path: archive)
            var source = reader.manifest
            let stream = try reader.examples("train", chunk: 1 << 30)
            guard let batch = try stream.next(), batch.count > 0 else { throw ValidationError("empty train split") }
            let geometry = source.frontEnd.geometry, pixels = geometry.pixels, n = examples
            let writer = try ZipWriter(path: output, threads: 2)
            var members: [ArchiveManifest.MemberRecord] = []
            func add(_ name: String, _ dtype: NPY.DType, _ shape: [Int], row: Int, _ fill: (Int) -> ArraySlice<UInt8>) throws {
                let header = NPY.header(dtype: dtype, shape: shape)
                let record = try writer.addMember(name, size: header.count + shape[0] * row) { sink in
                    try sink.write(header)
                    var chunk = [UInt8]()
                    for i in 0 ..< shape[0] {
                        chunk += fill(i % batch.count)
                        if chunk.count >= 1 << 22 { try sink.write(chunk); chunk.removeAll(keepingCapacity: true) }
                    }
                    try sink.write(chunk)
                }
                members.append(.init(name: name, dtype: dtype.rawValue, shape: shape, bytes: record.size, sha256: record.sha256))
            }
            var histogram = [Int](repeating: 0, count: 128)
            for i in 0 ..< n { histogram[Int(batch.labels[i % batch.count])] += 1 }
            let sourceBytes = batch.source.flatMap { value in (0 ..< 4).map { UInt8(truncatingIfNeeded: Int(value) >> (8 * $0)) } }
            for split in ArchiveManifest.splitNames {
                let count = split == "train" ? n : 0
                try add("\(split)_images.npy", .uint8, [count, geometry.rows, geometry.columns], row: pixels) { batch.images[$0 * pixels ..< ($0 + 1) * pixels] }
                try add("\(split)_labels.npy", .uint8, [count], row: 1) { batch.labels[$0 ... $0] }
                try add("\(split)_notes.npy", .uint8, [count, 88], row: 88) { batch.notes[$0 * 88 ..< ($0 + 1) * 88] }
                try add("\(split)_source.npy", .int32, [count, 2], row: 8) { sourceBytes[$0 * 8 ..< ($0 + 1) * 8] }
                if source.labels.targets.contains("onset") {
                    try add("\(split)_onsets.npy", .uint8, [count, 88], row: 88) { batch.onsets[$0 * 88 ..< ($0 + 1) * 88] }
                }
                source.splits[split] = .init(count: count, recordings: split == "train" ? source.splits["train"]!.recordings : [],
                                             classHistogram: split == "train" ? histogram : [Int](repeating: 0, count: 128))
            }
            source.members = members
            try source.validate()
            try writer.addMember(ArchiveManifest.memberName, data: try source.encoded())
            try writer.finish()
        }
    }

    struct Stream: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream every split of an archive in chunks; prints examples read and a checksum.")

        @Argument var archive: String
        @Option var chunk = 4096

        func run() throws {
            let reader = try ArchiveReader(path: archive)
            var total = 0, sum = 0
            for split in ArchiveManifest.splitNames {
                let stream = try reader.examples(split, chunk: chunk)
                while let batch = try stream.next() {
                    total += batch.count
                    sum = batch.labels.reduce(sum) { $0 &+ Int($1) }
                }
            }
            print("\(total) examples, label sum \(sum)")
        }
    }
}

extension BenchArchive {
    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Time SHA-256 over a file's bytes held in memory; prints median MB/s and the digest.")

        @Argument var file: String
        @Option var repeats = 5

        func run() throws {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            var times: [Double] = [], digest = ""
            for _ in 0 ..< repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                var sha = SHA256()
                bytes.withUnsafeBytes { sha.update($0) }
                digest = sha.hexDigest()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            print(String(format: "%.1f", Double(bytes.count) / 1e6 / times.sorted()[times.count / 2]), digest)
        }
    }
}
