import Foundation
import Testing
@testable import PianoKit

/// Inputs on which a reader crashed under libFuzzer (scripts/fuzz.sh, targets in Fuzz/), kept so
/// that the fixes stay: each must now be refused with the package's error, not a trap or a
/// giant allocation.
@Suite struct FuzzRegressionTests {
    /// FuzzMAPS: an offset of 5.6e121 s passed the reader, and labelling steps from it (as ingest
    /// does) trapped converting the step number to Int in TimeGrid.firstStep.
    @Test func mapsOffsetBeyondAnyRecording() {
        let text = "OnsetTime\tOffsetTime\tMidiPitch\n0.256250\t1.122917\t33\n0.228125\t"
            + String(repeating: "5", count: 122) + "1.122917\t40\n"
        let error = #expect(throws: FileError.self) { try MAPSNoteList.parse(text, path: "crash.txt") }
        #expect(error?.path == "crash.txt")
        #expect(error?.line == 3)
        #expect(error?.message.contains("more than 1000000 seconds") == true)
    }

    /// The step arithmetic saturates as well, for huge times that reach it another way.
    @Test func timeGridSaturatesInsteadOfTrapping() {
        let grid = TimeGrid(sampleRate: 44100, hop: 512)
        #expect(grid.firstStep(atOrAfter: 1e300) == Int.max)
        #expect(grid.firstStep(atOrAfter: -1e300) == 0)
        #expect(grid.firstStep(atOrAfter: .nan) == 0)
        let labels = StepLabels(notes: [Note(onset: 0, offset: 1e300, pitch: 60)], grid: grid, steps: 3)
        #expect(labels.multi == [[60], [60], [60]])
    }

    /// FuzzSafeTensors: a header-length word above 2^63 trapped converting to Int.
    @Test func safeTensorsHeaderLengthBeyondInt() {
        let bytes: [UInt8] = [
            0xF8, 0x02, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1D,
            0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x1E, 0x5F, 0x22, 0x3A, 0x7B, 0xD0,
        ]
        let error = #expect(throws: FormatError.self) { try SafeTensors.decode(Data(bytes)) }
        #expect(error?.message.contains("header length 18446744073692775160 does not fit") == true)
    }

    /// FuzzWav: a FLAC (the seed, mutated) whose STREAMINFO says 2^34 frames over 1024 frames of
    /// data made readMono allocate 128 GiB up front; now it reads what is there and says the
    /// data ends early.
    @Test func flacDeclaringBillionsOfFrames() throws {
        let crash = """
            ZkxhQwAAACIQABAAAAXkAAXkCsRC9AAABADvO/vnHpHtZ7DtBNqYVhSqhAAAKCAAAAByZWZlcmVuY2UgbGliRkxBQyAxLjQu
            MyAyMDIzMDYyMwAAAAD/+KkYAAdIAAAAAAAAAAAAALQZfZmjjr+FWKH////D/////D/////D/////D/////D/////D/////D
            /////D/////D/////D/////D/////D////QMIIBPYjpzVX05LL2YFESAuFMDuKGh4hiwEMZ1Lkmc334bFa4VA3SBRYoDMlhB
            gs/JfQoAW4s2NghWIDmNw52hcdhOX+kphlziag14a1NKlEa6fJK0IIYGsvYnWZ7arkxVSyTqclWU48msUQlaqrpsNRTPq8wr
            wpZn03On+SSvMMjUWpEc3jOTK7TKOFMN/b4mWhmbCrUw768dMtQOlUqIl1T6Te7rLLRgxEo21TNSVsixB/CJNE62EMwwRIMu
            LU+Gzn4YHT1ylkE/Vw9IqFCl0POEMNh6RM1QmMuhMD8qqVKkX24UQ8Nhp4jHdkOFFz4poROBOTzwzh5BJEPoq85YjokOicc2
            IPMsFRBFcFVHCwymiYSD8rm6apaRSs2oq+6ZRN0hvbQZdb17R5mOFRyiNmGj7cpalhz7XY06t98pniD7koVJejZrogjGJZro
            lBXIU+MqSwvHvrRO5oMuRmi740tRTLfN84yvXaLYKY9k+ryZolkTlVfMBn5pdj0IKCn1dy9raa+SCzsfejSjU4tAYI7qziUF
            3fuopajhLzeBuCyHa4S9RO/xLqWv9ziuO6HFHwW0fNh0xDECIoGvHwCSK8WjgvXY3+rrsN1i+CHVIc5PID0FmIjAGNKLRKND
            wN1XYZ9T01vhtjzFSdJn+7AOgpUeiynk4p5BFOkDeLw2X4gcdMicXYUyqz9Bc4TtHUeZ4UwyD4by0b4xiQ4x/o4PVD7oIiGv
            YD9t4/7Ir5DuAs6Bwhk7LTEVQVBVzUcpsv4DV7ZAhYIeBzY+09K/8z9XATC5oGY3dcXis26qLdWKGlZ0hZV1fY1UFwJVBE+g
            sx2G6b9Hyf+8gwmzUPpGbenpIWWisozNlX6gJsn2gklJ4DSKykRRn7XcxZJsgjRDCefxONEpaQ1sxzQoQgzlEpvcYAu3aXJF
            5ChEdddKUAAAAAAAAAAAAAAABaDgaXFfMjhUfxhA/////////8P//////////D//////////w//////////8P//////////D
            //////////ykkkkkkkkkkkkklaMLsZnkGVCHOEQIDlggxBysoMGDlAYIl7vqKpMaqjxZfUK5GR400sy4nZoSPBHTWzGhjgrD
            sELeLOCahYBXAlgJLc6RO1MkCgDLfPiHirOsvdmSEvhwk5q/TknDa68BxuavnwxypZxjRj3lTyISKLC2jc41N11UBhpwjSjR
            T3JUPkUMth08FRNYjudRb6ZBRfyqTggCZnMJQklod1oEInhWIjHjiq+8IMq2A6iodh2DQ51sItfjcdvCR3SrkPZAC3D8Bdp2
            Y5iXEzH5QH9DxZhXZZcY2dM9cZFZ/Hfw7K9NBGeDJeQSz/pdOqYBGldBlzQrtGrhkc158mIukkT7DEEuDYXpZEsJPKvdWCXc
            sjkoyvM136FMpUhf8Ou5XW0d/uvHS9NiYkV3QvFFgl27J+CaNfWJUo6uTrHAlDhfZLsXnaaDVZEqSwYYLIpjD23DRyUQIhSd
            7k/UnpYr7sV+ipNp8FOrok7ksuQnrDpT1MSQsnZiw8G0PazESqVJXfh7nNIgw0tHCC/idWW2hg+FAnSgp6Zzv0nhZt15Rdho
            a8wdSQje59eIlEGEPc9x5WIaY4irX5+OdurL+4g7lVKrFWiUcC+axyn2ZUiZrabarIrQqCAsl6i0y8TLGClEByhGboz0HBjS
            sFuXYmbkSNNeOc5Einj9RLlYjIKm8yLFK/9iEEazKxoLcRtkpWpoZ65fTqW34qArnD+suQdhm+HGtElkjq2ui50U4OAID+hk
            2Jyng1JdqLocj/FJjPzZl6HvizJuZkrmdhmlBpDKSwhmQrLtnoNBFaWfxjxxve0HLf/QYtGXDWXBRq31UGuT6oWKp0UDvL5K
            V0NDCE7EkWjMfw==
            """
        let bytes = try #require(Data(base64Encoded: crash, options: .ignoreUnknownCharacters))
        let scratch = try Scratch()
        scratch.write("crash.flac", [UInt8](bytes))
        let reader = try SoundFileReader(path: scratch.path + "/crash.flac")
        #expect(reader.info.frames > 1 << 33)
        let error = #expect(throws: FileError.self) { try reader.readMono() }
        #expect(error?.message.contains("frames the header declares") == true, "\(String(describing: error))")
        // ingest reads only the header and sized its labels by it: now it refuses a count the file cannot hold.
        scratch.write("in/crash.wav", [UInt8](bytes))
        scratch.write("in/crash.txt", Scratch.goodText)
        let summary = try IngestRun(outputDirectory: scratch.path + "/out", options: IngestOptions(), force: false, jobs: 1).run([scratch.path + "/in"])
        #expect(summary.failures.count == 1 && summary.failures.first?.message.contains("-byte file can hold") == true, "\(summary.failures)")
    }

    /// FuzzArchive: a zip64 extra field whose 64-bit size is 2^63 or more trapped converting to
    /// Int. The zip64 locator's record offset and the end record's directory offset and size
    /// (whose sum overflowed) are read the same way, so they are checked here too.
    @Test(arguments: ["extra", "locator", "record"])
    func zip64FieldsBeyondInt(field: String) throws {
        let bytes: [UInt8]
        switch field {
        case "extra":  // one central-directory entry whose zip64 extra gives size, compressed size and offset as 2^64 - 1
            let entry = concat(le(0x0201_4B50, 4), le(45, 2), le(45, 2), le(0, 2), le(8, 2), le(0, 4), le(0, 4),
                               le(0xFFFF_FFFF, 4), le(0xFFFF_FFFF, 4), le(1, 2), le(28, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 4), le(0xFFFF_FFFF, 4),
                               Array("a".utf8), le(0x0001, 2), le(24, 2), le(UInt64.max, 8), le(UInt64.max, 8), le(UInt64.max, 8))
            bytes = concat(entry, endRecord(count: 1, size: entry.count, offset: 0))
        case "locator":  // a zip64 locator pointing at 2^64 - 1
            bytes = concat(le(0x0706_4B50, 4), le(0, 4), le(UInt64.max, 8), le(1, 4), endRecord(count: 0, size: 0, offset: 0))
        default:  // a zip64 end record with a directory of 2^62 bytes at 2^62
            let record = concat(le(0x0606_4B50, 4), le(44, 8), le(45, 2), le(45, 2), le(0, 4), le(0, 4),
                                le(1, 8), le(1, 8), le(1 << 62, 8), le(1 << 62, 8))
            let locator = concat(le(0x0706_4B50, 4), le(0, 4), le(0, 8), le(1, 4))
            bytes = concat(record, locator, endRecord(count: 0xFFFF, size: 0xFFFF_FFFF, offset: 0xFFFF_FFFF))
        }
        let scratch = try Scratch()
        scratch.write("crash.npz", bytes)
        let error = #expect(throws: FileError.self) { try ZipReader(path: scratch.path + "/crash.npz") }
        #expect(error?.path == scratch.path + "/crash.npz")
    }

    /// Found beside the above, by reading: a manifest and a zip64 directory that agree on image
    /// members far larger than their data (2^20 x 2^20 pixels an example) passed every size check,
    /// and streaming a split would then have sized its batch buffers from them.
    @Test func membersClaimingMoreThanTheirData() throws {
        let scratch = try Scratch()
        let packTests = PackTests()
        _ = try packTests.pack(try packTests.thumbnails(scratch), to: scratch.path + "/good.npz")
        let good = try ArchiveReader(path: scratch.path + "/good.npz")
        var manifest = good.manifest
        let side = 1 << 20
        manifest.frontEnd.geometry = ThumbnailGeometry(size: side)
        var lies: [String: Int] = [:]
        for i in manifest.members.indices where manifest.members[i].name.hasSuffix("_images.npy") {
            let shape = [manifest.members[i].shape[0], side, side]
            manifest.members[i].shape = shape
            manifest.members[i].bytes = NPY.header(dtype: .uint8, shape: shape).count + shape[0] * side * side
            lies[manifest.members[i].name] = manifest.members[i].bytes
        }
        // The real members beside the lying manifest, written with zip64 extras so that the
        // directory's sizes can be patched in place to agree with it.
        let path = scratch.path + "/lying.npz"
        let writer = try ZipWriter(path: path, forceZip64: true)
        for entry in good.zip.entries where entry.name != ArchiveManifest.memberName {
            try writer.addMember(entry.name, data: try good.zip.readAll(entry.name))
        }
        try writer.addMember(ArchiveManifest.memberName, data: try manifest.encoded())
        try writer.finish()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for (name, size) in lies {
            let nameBytes = Array(name.utf8)
            let entry = try #require(centralEntry(named: nameBytes, in: bytes))
            let sizeField = entry + 46 + nameBytes.count + 4  // the zip64 extra's first value: the uncompressed size
            bytes.replaceSubrange(sizeField ..< sizeField + 8, with: le(UInt64(size), 8))
        }
        scratch.write("lying.npz", bytes)
        let error = #expect(throws: FileError.self) { try ArchiveReader(path: path) }
        #expect(error?.message.contains("_images.npy claims") == true)
    }

    /// The offset of the central-directory entry for `name` in a zip's bytes.
    func centralEntry(named name: [UInt8], in bytes: [UInt8]) -> Int? {
        let signature: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        for p in 0 ..< bytes.count - 46 - name.count {
            let start = p + 46
            if bytes[p ..< p + 4].elementsEqual(signature) && bytes[start ..< start + name.count].elementsEqual(name) { return p }
        }
        return nil
    }

    /// `value` as `count` little-endian bytes.
    func le(_ value: UInt64, _ count: Int) -> [UInt8] { (0 ..< count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

    /// The parts one after another (a function rather than a chain of `+`, which type-checks slowly).
    func concat(_ parts: [UInt8]...) -> [UInt8] { Array(parts.joined()) }

    /// A zip end-of-central-directory record.
    func endRecord(count: Int, size: Int, offset: Int) -> [UInt8] {
        concat(le(0x0605_4B50, 4), le(0, 2), le(0, 2), le(UInt64(count), 2), le(UInt64(count), 2), le(UInt64(size), 4), le(UInt64(offset), 4), le(0, 2))
    }
}
