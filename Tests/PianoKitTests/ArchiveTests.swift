import CDeflate
import CZlib
import Foundation
import Testing
@testable import PianoKit

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        func hex(_ text: String) -> String { var h = SHA256(); h.update(Array(text.utf8)); return h.hexDigest() }
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var million = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0 ..< 1000 { million.update(chunk) }
        #expect(million.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func piecesGiveTheSameDigestAsTheWhole() {
        let bytes = (0 ..< 1000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        var whole = SHA256(); whole.update(bytes)
        var pieces = SHA256()
        var i = 0
        for size in [1, 63, 64, 65, 7, 300] { pieces.update(bytes[i ..< i + size]); i += size }
        pieces.update(bytes[i...])
        #expect(whole.hexDigest() == pieces.hexDigest())
        // A copy goes on independently, and a digest does not end the hash.
        var abc = SHA256(); abc.update(Array("ab".utf8))
        var copy = abc
        copy.update(Array("x".utf8))
        abc.update(Array("c".utf8))
        #expect(abc.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(copy.hexDigest() != abc.hexDigest() && abc.hexDigest() == abc.hexDigest())
    }
}

@Suite struct ZipTests {
    func bytes(_ count: Int, seed: UInt64 = 3) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        // Compressible but not trivial: runs of random bytes.
        var out: [UInt8] = []
        while out.count < count { out += [UInt8](repeating: UInt8.random(in: 0 ... 40, using: &rng), count: Int.random(in: 1 ... 9, using: &rng)) }
        return Array(out.prefix(count))
    }

    func write(_ path: String, members: [(String, [UInt8])], threads: Int, zip64: Bool = false) throws {
        let writer = try ZipWriter(path: path, threads: threads, forceZip64: zip64)
        for (name, data) in members {
            try writer.addMember(name, size: data.count) { sink in
                var i = 0, step = 1
                while i < data.count {  // pieces of growing size, crossing block boundaries
                    let n = min(step, data.count - i)
                    try sink.write(Array(data[i ..< i + n]))
                    i += n
                    step = step * 3 + 1
                }
            }
        }
        try writer.finish()
    }

    @Test(arguments: [false, true])
    func roundTripAcrossBlocksAndThreadCountsIsIdentical(zip64: Bool) throws {
        let scratch = try Scratch()
        let members = [("big.npy", bytes(3 * ZipWriter.blockSize + 12345)), ("empty.npy", []), ("small.json", Array("{}".utf8))]
        try write(scratch.path + "/a.zip", members: members, threads: 1, zip64: zip64)
        try write(scratch.path + "/b.zip", members: members, threads: 3, zip64: zip64)
        let a = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/a.zip"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/b.zip"))))
        let reader = try ZipReader(path: scratch.path + "/a.zip")
        #expect(reader.entries.map(\.name) == members.map(\.0))
        for (name, data) in members {
            #expect([UInt8](try reader.readAll(name)) == data)
        }
    }

    @Test func flippedByteOrTruncationIsCaught() throws {
        let scratch = try Scratch()
        let path = scratch.path + "/a.zip"
        try write(path, members: [("x.npy", bytes(200_000))], threads: 2)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let original = data
        data[30 + 5 + 1000] ^= 0x40  // inside the compressed data
        try data.write(to: URL(fileURLWithPath: path))
        #expect { _ = try ZipReader(path: path).readAll("x.npy") } throws: { "\($0)".contains("x.npy") }
        try original.prefix(original.count - 30).write(to: URL(fileURLWithPath: path))
        #expect { _ = try ZipReader(path: path) } throws: { "\($0)".contains("truncated") }
        try Data("PK garbage".utf8).write(to: URL(fileURLWithPath: path))
        #expect { _ = try ZipReader(path: path) } throws: { "\($0)".contains("not a zip archive") }
    }
}

/// libdeflate's whole streams made into continuations concatenate into one raw-deflate stream
/// that zlib (an independent inflater) decodes to the input, for every level, block sizes from 0
/// bytes up, random, constant and compressible data (stored, fixed and dynamic Huffman blocks).
@Suite struct BlockDeflaterTests {
    @Test(arguments: [0, 1, 6, 12])
    func blocksConcatenateIntoOneStream(level: Int32) throws {
        var rng = SeededGenerator(seed: UInt64(level) + 5)
        let random = (0 ..< 70_000).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        let runs = ZipTests().bytes(200_000, seed: 7)
        let input = random + [UInt8](repeating: 9, count: 50_000) + runs + Array("a short text, a short text".utf8)
        let cuts = [0, 0, 1, 2, 1_000, 70_000, 70_001, 120_000, 300_000, input.count]
        let deflater = BlockDeflater(level: level)
        var stream = Data()
        try input.withUnsafeBytes { raw in
            for (k, (lo, hi)) in zip(cuts, cuts.dropFirst()).enumerated() {
                stream += try deflater.compress(raw, range: lo ..< hi, last: k == cuts.count - 2)
            }
        }
        let inflater = try Inflater()
        var output = [UInt8](repeating: 0, count: input.count + 10)
        let (used, written) = try stream.withUnsafeBytes { s in try output.withUnsafeMutableBytes { try inflater.inflate(s, into: $0) } }
        #expect(inflater.finished && used == stream.count && written == input.count)
        #expect(Array(output.prefix(written)) == input)
    }
}

extension BlockDeflater {
    /// `finalBlockBits` of a stream held in `Data`.
    static func finalBlockBits(_ stream: Data, size: Int) throws -> (lastHeader: Int, end: Int) {
        try stream.withUnsafeBytes { try finalBlockBits($0, size: size) }
    }
}

/// The block walker (`pk_deflate_scan`) finds the same final-block header and stream end as
/// zlib's inflate stopping after each block (Z_BLOCK, as zlib's gzjoin example does), on
/// libdeflate's streams at every level (stored, fixed and dynamic Huffman blocks), and refuses
/// truncated and corrupted streams instead of reading past them.
@Suite struct DeflateScanTests {
    /// The bit offsets by zlib: inflate block by block, noting where each block ends.
    static func zlibFinalBlockBits(_ stream: Data, size: Int) throws -> (lastHeader: Int, end: Int) {
        var z = z_stream()
        guard czlib_inflate_init2(&z, -15) == Z_OK else { throw FormatError("zlib: cannot initialise inflate") }
        defer { inflateEnd(&z) }
        var scratch = [UInt8](repeating: 0, count: max(size, 1))
        return try stream.withUnsafeBytes { input in
            z.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
            z.avail_in = UInt32(input.count)
            var lastHeader = 0
            while true {
                let status = scratch.withUnsafeMutableBufferPointer { out -> Int32 in
                    z.next_out = out.baseAddress! + Int(z.total_out)
                    z.avail_out = UInt32(out.count - Int(z.total_out))
                    return inflate(&z, Z_BLOCK)
                }
                guard status == Z_OK || status == Z_STREAM_END else { throw FormatError("zlib: \(status)") }
                // Z_BLOCK stops after each end-of-block code (flag 128), the unread bits of the last
                // byte in the low 3 bits; flag 64 when the block that ended was final.
                guard z.data_type & 128 != 0 else { continue }
                let position = Int(z.total_in) * 8 - Int(z.data_type & 7)
                if z.data_type & 64 != 0 { return (lastHeader, position) }
                lastHeader = position
            }
        }
    }

    @Test(arguments: [0, 1, 4, 6, 9, 12])
    func agreesWithZlib(level: Int32) throws {
        var rng = SeededGenerator(seed: UInt64(level) + 11)
        let random = (0 ..< 90_000).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        let text = Array(String(repeating: "the quick brown fox jumps over the lazy dog; ", count: 3000).utf8)
        let skewed = (0 ..< 400_000).map { _ in UInt8(min(255, Int(-log(Double.random(in: 1e-9 ... 1, using: &rng)) * 6))) }
        let inputs: [[UInt8]] = [[], [7], Array("ab".utf8), random, text, skewed, ZipTests().bytes(1 << 20, seed: 3), random + text + skewed]
        guard let compressor = libdeflate_alloc_compressor(level) else { throw FormatError("libdeflate") }
        defer { libdeflate_free_compressor(compressor) }
        for (k, input) in inputs.enumerated() {
            let bound = libdeflate_deflate_compress_bound(compressor, input.count)
            var stream = Data(count: bound)
            let produced = stream.withUnsafeMutableBytes { out in
                input.withUnsafeBytes { libdeflate_deflate_compress(compressor, $0.baseAddress, input.count, out.baseAddress!, bound) }
            }
            stream.count = produced
            let ours = try BlockDeflater.finalBlockBits(stream, size: input.count), reference = try Self.zlibFinalBlockBits(stream, size: input.count)
            #expect(ours == reference, "level \(level) input \(k) (\(input.count) bytes, \(produced) compressed)")
            // Cut short anywhere, or with its final bit cleared (no final block), it is refused.
            for cut in [produced - 1, produced / 2, 1] where cut > 0 && cut < produced {
                #expect(throws: FormatError.self) { try BlockDeflater.finalBlockBits(stream.prefix(cut), size: input.count) }
            }
            var unfinished = stream
            unfinished[0] &= 0xFE
            if ours.lastHeader == 0 {
                #expect(throws: FormatError.self) { try BlockDeflater.finalBlockBits(unfinished, size: input.count) }
            }
        }
        // A reserved block type (11) is refused.
        #expect(throws: FormatError.self) { try BlockDeflater.finalBlockBits(Data([0x07, 0, 0, 0]), size: 0) }
    }
}

@Suite struct NPYTests {
    @Test func headerIsAlignedAndParsesBack() throws {
        for shape in [[0], [5], [3, 32, 32], [100_000, 88]] {
            let header = NPY.header(dtype: .uint8, shape: shape)
            #expect(header.count % 64 == 0)
            let parsed = try NPY.parseHeader([UInt8](header))
            #expect(parsed == NPY.Header(descr: "|u1", shape: shape, length: header.count))
        }
        #expect(throws: FormatError.self) { try NPY.parseHeader(Array("not numpy at all".utf8)) }
    }
}

@Suite struct PackTests {
    /// Six short recordings on two instruments, ingested and cut into thumbnails.
    func thumbnails(_ scratch: Scratch, size: Int = 32) throws -> String {
        for (i, instrument) in ["AkPn", "AkPn", "AkPn", "AkPn", "Other", "Other"].enumerated() {
            let pitch = 60 + i
            let stem = "MAPS_ISOL_NO_F_S0_M\(pitch)_\(instrument)"
            let f = 440 * exp2(Double(pitch - 69) / 12)
            let samples = (0 ..< 22050).map { Int16(6000 * sin(2 * Double.pi * f * Double($0) / 44100)) }
            try WavWriter.write(samples: samples, channels: 1, sampleRate: 44100, to: scratch.path + "/in/\(stem).wav")
            scratch.write("in/\(stem).txt", "OnsetTime\tOffsetTime\tMidiPitch\n0.1\t0.4\t\(pitch)\n")
        }
        _ = try IngestRun(outputDirectory: scratch.path + "/maps", options: IngestOptions(), force: false, jobs: 2).run([scratch.path + "/in"])
        var spectro = SpectroOptions()
        spectro.geometry = ThumbnailGeometry(size: size, context: 32)
        _ = try SpectroRun(outputDirectory: scratch.path + "/thumbs", options: spectro, force: false, jobs: 2).run([scratch.path + "/maps"])
        return scratch.path + "/thumbs"
    }

    func pack(_ thumbs: String, to path: String, _ configure: (inout PackOptions) -> Void = { _ in }) throws -> BatchSummary {
        var options = PackOptions()
        options.ratios = [4, 1, 1]
        configure(&options)
        return try PackRun(output: path, options: options).run([thumbs]).0
    }

    @Test func packsDeterministicallyAndReadsBack() throws {
        let scratch = try Scratch()
        let thumbs = try thumbnails(scratch)
        #expect(try pack(thumbs, to: scratch.path + "/a.npz").failures.isEmpty)
        _ = try pack(thumbs, to: scratch.path + "/b.npz")
        let a = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/a.npz"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/b.npz"))))
        let reader = try ArchiveReader(path: scratch.path + "/a.npz")
        #expect(reader.verify().isEmpty)
        let manifest = reader.manifest
        let counts: [Int] = manifest.splits.values.map(\.count)
        let stepsPerRecording = 22050 / 512 + 1
        let packed: Int = counts.reduce(0, +)
        #expect(packed == 6 * stepsPerRecording)
        // By recording: each recording's examples are in exactly one split.
        var splitOf: [Int32: String] = [:]
        for split in ArchiveManifest.splitNames {
            let stream = try reader.examples(split, chunk: 7)
            var seen = 0
            while let batch = try stream.next() {
                for i in 0 ..< batch.count {
                    let recording = batch.source[2 * i], step = Int(batch.source[2 * i + 1])
                    #expect(splitOf[recording, default: split] == split)
                    splitOf[recording] = split
                    // The label is the recording's pitch while the note sounds (0.1 s to 0.4 s).
                    let pitch = Int(manifest.recordings[Int(recording)].stem.split(separator: "_")[5].dropFirst())!
                    let time = Double(step * 512) / 44100
                    let expected = time >= 0.1 && time < 0.4 ? pitch : 0
                    #expect(Int(batch.labels[i]) == expected)
                    #expect(batch.notes[i * 88 ..< (i + 1) * 88].reduce(0) { $0 + Int($1) } == (expected > 0 ? 1 : 0))
                }
                seen += batch.count
            }
            #expect(seen == manifest.splits[split]!.count)
        }
        #expect(splitOf.count == 6)
    }

    /// Each split is one seeded permutation of all its examples (runs of up to --shuffle-block
    /// consecutive steps of one recording, in random order): every (recording, step) once, not in
    /// recording order, the same for a seed and another for another seed or block; onsets are the
    /// label index's (one note per recording: one onset each).
    @Test func splitsAreShuffledPermutationsWithOnsets() throws {
        let scratch = try Scratch()
        let thumbs = try thumbnails(scratch)
        func read(_ path: String, _ split: String) throws -> (source: [[Int32]], onsets: [UInt8], notes: [UInt8]) {
            let stream = try ArchiveReader(path: path).examples(split, chunk: 7)
            var source: [[Int32]] = [], onsets: [UInt8] = [], notes: [UInt8] = []
            while let chunk = try stream.next() {
                for i in 0 ..< chunk.count { source.append([chunk.source[2 * i], chunk.source[2 * i + 1]]) }
                onsets += chunk.onsets; notes += chunk.notes
            }
            return (source, onsets, notes)
        }
        _ = try pack(thumbs, to: scratch.path + "/a.npz") { $0.ratios = [1, 0, 0] }
        _ = try pack(thumbs, to: scratch.path + "/b.npz") { $0.ratios = [1, 0, 0]; $0.seed = 2 }
        _ = try pack(thumbs, to: scratch.path + "/c.npz") { $0.ratios = [1, 0, 0]; $0.shuffleBlock = 1 }
        let manifest = try ArchiveReader(path: scratch.path + "/a.npz").manifest
        #expect(manifest.version == 2 && manifest.labels.targets == ["single", "frame", "onset"])
        let a = try read(scratch.path + "/a.npz", "train"), b = try read(scratch.path + "/b.npz", "train"), c = try read(scratch.path + "/c.npz", "train")
        let folders = try ThumbnailFolder.find([thumbs]).folders.map(ThumbnailFolder.init(path:))
        let all = folders.enumerated().flatMap { r, f in f.rows.map { [Int32(r), Int32($0.step)] } }
        #expect(a.source.count == all.count && Set(a.source) == Set(all) && Set(a.source).count == all.count)
        #expect(a.source != all && a.source != b.source && Set(b.source) == Set(all) && Set(c.source) == Set(all) && c.source != a.source)
        // Runs: with blocks of 16 the order is made of runs of consecutive steps of one recording,
        // starting at multiples of 16 of that recording's rows; with blocks of 1, recordings interleave at once.
        var start = 0
        while start < a.source.count {
            #expect(a.source[start][1] % 16 == 0, "a run starts at step \(a.source[start][1])")
            var end = start + 1
            while end < a.source.count, end - start < 16, a.source[end][0] == a.source[start][0], a.source[end][1] == a.source[end - 1][1] + 1 { end += 1 }
            start = end
        }
        #expect(Set(c.source.prefix(8).map { $0[0] }).count > 2)
        for (i, s) in a.source.enumerated() {
            let row = folders[Int(s[0])].rows.first { $0.step == Int(s[1]) }!
            let keys = (0 ..< 88).filter { a.onsets[i * 88 + $0] == 1 }.map { $0 + 21 }
            #expect(keys == row.onsets! && keys.allSatisfy { a.notes[i * 88 + $0 - 21] == 1 })
        }
        #expect(a.onsets.reduce(0) { $0 + Int($1) } == folders.count)
    }

    @Test func testInstrumentsAndStepSplits() throws {
        let scratch = try Scratch()
        let thumbs = try thumbnails(scratch)
        _ = try pack(thumbs, to: scratch.path + "/i.npz") { $0.testInstruments = ["Other"] }
        let byInstrument = try ArchiveReader(path: scratch.path + "/i.npz").manifest
        #expect(byInstrument.split.by == "instrument")
        #expect(Set(byInstrument.splits["test"]!.recordings.map { byInstrument.recordings[$0].instrument }) == ["Other"])
        #expect(!byInstrument.splits["train"]!.recordings.contains { byInstrument.recordings[$0].instrument == "Other" })
        _ = try pack(thumbs, to: scratch.path + "/s.npz") { $0.splitBy = "step" }
        let bySteps = try ArchiveReader(path: scratch.path + "/s.npz").manifest
        #expect(bySteps.split.leaks && bySteps.recordings.allSatisfy { $0.split == nil })
        #expect(bySteps.splits["train"]!.recordings.count == 6)  // every recording is spread over the splits
    }

    @Test func shardsPartitionTheExamples() throws {
        let scratch = try Scratch()
        let thumbs = try thumbnails(scratch)
        _ = try pack(thumbs, to: scratch.path + "/whole.npz")
        _ = try pack(thumbs, to: scratch.path + "/part.npz") { $0.shardSize = 100 }
        let wholeCounts: [Int] = try ArchiveReader(path: scratch.path + "/whole.npz").manifest.splits.values.map(\.count)
        let total = wholeCounts.reduce(0, +)
        let shards = (total + 99) / 100
        var counted = 0
        for index in 0 ..< shards {
            let name = String(format: "/part-%05d-of-%05d.npz", index, shards)
            let reader = try ArchiveReader(path: scratch.path + name)
            let shard = reader.manifest.shard
            #expect(reader.verify().isEmpty)
            #expect(shard.index == index)
            #expect(shard.firstExample == index * 100)
            let counts: [Int] = reader.manifest.splits.values.map(\.count)
            counted += counts.reduce(0, +)
        }
        #expect(counted == total)
    }

    /// The shards read as one ArchiveSet give, split by split, the whole archive's examples in the same order.
    @Test func shardsReadAsOneSet() throws {
        let scratch = try Scratch()
        let thumbs = try thumbnails(scratch)
        _ = try pack(thumbs, to: scratch.path + "/whole.npz")
        _ = try pack(thumbs, to: scratch.path + "/part.npz") { $0.shardSize = 100 }
        let whole = try ArchiveReader(path: scratch.path + "/whole.npz")
        let total = whole.manifest.splits.values.map(\.count).reduce(0, +)
        let shards = (total + 99) / 100
        let set = try ArchiveSet(paths: (0 ..< shards).map { scratch.path + String(format: "/part-%05d-of-%05d.npz", $0, shards) })
        func drain(_ next: () throws -> ArchiveReader.Batch?) throws -> (images: [UInt8], labels: [UInt8], notes: [UInt8]) {
            var all: (images: [UInt8], labels: [UInt8], notes: [UInt8]) = ([], [], [])
            while let batch = try next() { all.images += batch.images; all.labels += batch.labels; all.notes += batch.notes }
            return all
        }
        for split in ArchiveManifest.splitNames {
            #expect(set.count(split) == whole.manifest.splits[split]!.count)
            let fromSet = try set.examples(split, chunk: 37), fromWhole = try whole.examples(split, chunk: 37)
            let a = try drain(fromSet.next), b = try drain(fromWhole.next)
            #expect(a.images == b.images && a.labels == b.labels && a.notes == b.notes, "split \(split)")
        }
        // An archive with another front end does not join the set.
        let other = try Scratch()
        let small = try thumbnails(other, size: 16)
        _ = try pack(small, to: scratch.path + "/small.npz")
        #expect(throws: FileError.self) { try ArchiveSet(paths: [scratch.path + "/whole.npz", scratch.path + "/small.npz"]) }
    }

    @Test func verifyAndReaderCatchCorruption() throws {
        let scratch = try Scratch()
        let thumbs = try thumbnails(scratch)
        let path = scratch.path + "/a.npz"
        _ = try pack(thumbs, to: path)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let zip = try ZipReader(path: path)
        for entry in zip.entries where entry.compressedSize > 40 {
            var data = original
            data[entry.offset + 30 + entry.name.utf8.count + entry.compressedSize / 2] ^= 0x01
            try data.write(to: URL(fileURLWithPath: path))
            let problems = (try? ArchiveReader(path: path).verify()) ?? ["reader refused: \(entry.name)"]
            #expect(problems.contains { $0.contains(entry.name) || entry.name == ArchiveManifest.memberName }, "\(entry.name): \(problems)")
        }
        try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: FileError.self) { try ArchiveReader(path: path) }
    }

    @Test func mismatchedSettingsStopWithNoOutput() throws {
        let scratch = try Scratch()
        let thumbs = try thumbnails(scratch)
        var small = SpectroOptions()
        small.geometry = ThumbnailGeometry(size: 16, context: 8)
        _ = try SpectroRun(outputDirectory: scratch.path + "/small", options: small, force: false, jobs: 1).run([scratch.path + "/maps/MAPS_ISOL_NO_F_S0_M60_AkPn.notemap.json"])
        try FileManager.default.removeItem(atPath: thumbs + "/MAPS_ISOL_NO_F_S0_M60_AkPn")
        try FileManager.default.moveItem(atPath: scratch.path + "/small/MAPS_ISOL_NO_F_S0_M60_AkPn", toPath: thumbs + "/zz_other")
        #expect { _ = try pack(thumbs, to: scratch.path + "/a.npz") } throws: { "\($0)".contains("zz_other") && "\($0)".contains("size 16") }
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/a.npz"))
        #expect(scratch.files(containing: AtomicWrite.temporaryPrefix).isEmpty)
    }
}
