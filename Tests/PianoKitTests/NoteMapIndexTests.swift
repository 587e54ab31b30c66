import Foundation
import Testing
@testable import PianoKit

/// The index reads only the note maps its cache does not know (by size, time and inode), and is
/// always what reading every note map would give.
@Suite struct NoteMapIndexTests {
    func ingest(_ scratch: Scratch, _ input: String) throws {
        _ = try IngestRun(outputDirectory: scratch.path + "/out", options: IngestOptions(), force: false, jobs: 1).run([scratch.path + "/" + input])
    }

    func index(_ scratch: Scratch) throws -> NoteMapIndex {
        try JSONDecoder().decode(NoteMapIndex.self, from: Data(contentsOf: URL(fileURLWithPath: scratch.path + "/out/index.json")))
    }

    /// Overwrites a file in place (same inode, same size) and puts its modification time back,
    /// so that only its contents say it changed.
    func scribble(_ path: String) throws {
        var info = stat()
        #expect(stat(path, &info) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.write(Data(repeating: UInt8(ascii: "x"), count: Int(info.st_size)))
        try handle.close()
        var times = [info.st_atim, info.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    @Test func onlyUnknownNoteMapsAreRead() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("a/MAPS_ISOL_NO_F_S0_M60_Test")
        try scratch.goodRecording("b/MAPS_ISOL_NO_F_S0_M61_Test")
        try ingest(scratch, "a")
        let first = scratch.path + "/out/MAPS_ISOL_NO_F_S0_M60_Test.notemap.json"
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/out/" + NoteMapIndex.cacheFileName))

        // The first note map's bytes become garbage behind the cache's back: a run that trusts
        // the cache does not open it, so it stays in the index.
        try scribble(first)
        try ingest(scratch, "b")
        #expect(try index(scratch).recordings.map(\.stem) == ["MAPS_ISOL_NO_F_S0_M60_Test", "MAPS_ISOL_NO_F_S0_M61_Test"])

        // Once its time changes it is read again, found bad, and left out.
        let later = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: first)
        try ingest(scratch, "b")
        #expect(try index(scratch).recordings.map(\.stem) == ["MAPS_ISOL_NO_F_S0_M61_Test"])
    }

    @Test func indexEqualsAFullScanThroughChanges() throws {
        let scratch = try Scratch()
        for (i, pitch) in [60, 62, 64].enumerated() { try scratch.goodRecording("in\(i)/MAPS_ISOL_NO_F_S0_M\(pitch)_Test") }
        let out = scratch.path + "/out"
        func check() throws {
            #expect(try index(scratch) == NoteMapIndex.scan(out, reuse: false).index)
        }
        try ingest(scratch, "in0"); try check()
        try ingest(scratch, "in1"); try check()
        // A remade note map (other settings: hop 256) is a new file with other contents.
        _ = try IngestRun(outputDirectory: out, options: { var o = IngestOptions(); o.hop = 256; return o }(), force: false, jobs: 1)
            .run([scratch.path + "/in0"])
        try check()
        #expect(try index(scratch).recordings.first { $0.stem.hasSuffix("M60_Test") }?.hop == 256)
        // A removed note map leaves the index; a garbage cache is ignored.
        try FileManager.default.removeItem(atPath: out + "/MAPS_ISOL_NO_F_S0_M62_Test.notemap.json")
        scratch.write("out/" + NoteMapIndex.cacheFileName, "{not json")
        try ingest(scratch, "in2"); try check()
        #expect(try index(scratch).recordings.map(\.stem) == ["MAPS_ISOL_NO_F_S0_M60_Test", "MAPS_ISOL_NO_F_S0_M64_Test"])
        // The cache was rewritten whole, and lists exactly the indexed maps.
        let cache = try JSONDecoder().decode(NoteMapIndex.Cache.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/" + NoteMapIndex.cacheFileName)))
        #expect(cache.maps.map(\.entry) == (try index(scratch)).recordings)
    }
}
