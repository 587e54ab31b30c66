import Foundation
import Testing
@testable import PianoKit

/// A replaced output folder is never missing: swapped in atomically, or put back by the next run
/// if a run was killed between moving the old one aside and renaming the new one in.
@Suite struct DirectoryReplacementTests {
    /// A process id no process has (kill(pid, 0) fails with ESRCH), standing for a killed run.
    static let deadPID = Int32.max - 7

    func contents(_ folder: String) -> [String: String] {
        var result: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            result[name] = try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)
        }
        return result
    }

    @Test(arguments: [true, false])
    func replacingAFolderLeavesOnlyTheNewOne(exchange: Bool) throws {
        let scratch = try Scratch()
        let path = scratch.path + "/out/rec"
        try AtomicWrite.writeDirectory(path) { try writeWhole(Data("old".utf8), to: $0 + "/a.txt") }
        let temporary = AtomicWrite.temporaryPath(for: path)
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        try writeWhole(Data("new".utf8), to: temporary + "/b.txt")
        try AtomicWrite.replaceDirectory(path, with: temporary, exchange: exchange)
        #expect(contents(path) == ["b.txt": "new"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/out") == ["rec"])
    }

    #if os(Linux)
    /// The atomic swap works on the test machine's temporary folder (so writeDirectory uses it).
    @Test func namesSwapAtomically() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path + "/a/x", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch.path + "/b/y", withIntermediateDirectories: true)
        #expect(AtomicWrite.swapNames(scratch.path + "/a", scratch.path + "/b"))
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/a/y") && FileManager.default.fileExists(atPath: scratch.path + "/b/x"))
    }
    #endif

    /// A run killed after moving the old folder aside: the next run's clean-up puts it back.
    @Test func oldFolderMovedAsideByAKilledRunIsPutBack() throws {
        let scratch = try Scratch()
        let out = scratch.path + "/out"
        try FileManager.default.createDirectory(atPath: out + "/.partial-\(AtomicWrite.owner).\(Self.deadPID)-12345.old-rec", withIntermediateDirectories: true)
        try writeWhole(Data("old".utf8), to: out + "/.partial-\(AtomicWrite.owner).\(Self.deadPID)-12345.old-rec/a.txt")
        // ... and the new folder it was filling, also stale.
        try FileManager.default.createDirectory(atPath: out + "/.partial-\(AtomicWrite.owner).\(Self.deadPID)-999-rec", withIntermediateDirectories: true)
        try AtomicWrite.prepareOutputDirectory(out)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["rec"])
        #expect(contents(out + "/rec") == ["a.txt": "old"])
    }

    /// Killed after the new folder was in place but before the old one was removed: the old one goes.
    @Test func oldFolderLeftBesideTheNewOneIsRemoved() throws {
        let scratch = try Scratch()
        let out = scratch.path + "/out"
        try FileManager.default.createDirectory(atPath: out + "/rec", withIntermediateDirectories: true)
        try writeWhole(Data("new".utf8), to: out + "/rec/b.txt")
        try FileManager.default.createDirectory(atPath: out + "/.partial-\(AtomicWrite.owner).\(Self.deadPID)-12345.old-rec", withIntermediateDirectories: true)
        try AtomicWrite.prepareOutputDirectory(out)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["rec"])
        #expect(contents(out + "/rec") == ["b.txt": "new"])
    }

    /// A live run's aside folder is left alone.
    @Test func aLiveRunsAsideFolderIsKept() throws {
        let scratch = try Scratch()
        let out = scratch.path + "/out"
        let aside = out + "/.partial-\(AtomicWrite.owner).\(getpid())-12345.old-rec"
        try FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: true)
        try AtomicWrite.prepareOutputDirectory(out)
        #expect(FileManager.default.fileExists(atPath: aside) && !FileManager.default.fileExists(atPath: out + "/rec"))
    }

    @Test func asideNamesParse() {
        #expect(AtomicWrite.originalName(ofAside: ".partial-host.12-345.old-MAPS_x-y.old-z") == "MAPS_x-y.old-z")
        #expect(AtomicWrite.originalName(ofAside: ".partial-host.12-345-MAPS_x.old-y") == nil)
        #expect(AtomicWrite.originalName(ofAside: AtomicWrite.asidePath(for: "/a/b/rec").components(separatedBy: "/").last!) == "rec")
    }
}
