import Foundation
import Testing
@testable import PianoKit

/// A scratch folder with helpers to write recordings into it.
final class Scratch: @unchecked Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "piano-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8]) {
        let full = path + "/" + name
        try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(bytes))
    }

    func write(_ name: String, _ text: String) { write(name, Array(text.utf8)) }

    /// One second of stereo silence at 44.1 kHz.
    func wav(_ name: String, frames: Int = 44100) throws {
        try WavWriter.write(samples: [Int16](repeating: 0, count: frames * 2), channels: 2, sampleRate: 44100, to: path + "/" + name)
    }

    /// A MIDI file with a C4 from 0.25 s to 0.75 s, and the matching txt.
    static let goodMIDI: [UInt8] = MIDIWriter.encode(MIDIFile(format: 0, division: .ticksPerQuarter(480), tracks: [MIDITrack(events: [
        TimedEvent(tick: 240, .noteOn(channel: 0, key: 60, velocity: 80)), TimedEvent(tick: 720, .noteOff(channel: 0, key: 60, velocity: 0)),
    ])]))
    static let goodText = "OnsetTime\tOffsetTime\tMidiPitch\n0.250000\t0.750000\t60\n"

    func goodRecording(_ stem: String) throws {
        try wav(stem + ".wav")
        write(stem + ".mid", Self.goodMIDI)
        write(stem + ".txt", Self.goodText)
    }

    /// Every file below the scratch folder whose name contains `fragment`.
    func files(containing fragment: String) -> [String] {
        (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).filter { $0.contains(fragment) }
    }
}

@Suite struct IngestTests {
    func ingest(_ scratch: Scratch, inputs: [String]? = nil, options: IngestOptions = IngestOptions(), force: Bool = false) throws -> BatchSummary {
        try IngestRun(outputDirectory: scratch.path + "/out", options: options, force: force, jobs: 2)
            .run(inputs ?? [scratch.path + "/in"])
    }

    @Test func goodRecordingGivesAValidNoteMap() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/MAPS_ISOL_NO_F_S0_M60_Test")
        let summary = try ingest(scratch)
        #expect(summary.made == 1 && summary.failures.isEmpty)
        let map = try NoteMap.read(path: scratch.path + "/out/MAPS_ISOL_NO_F_S0_M60_Test.notemap.json")
        #expect(map.notes == [Note(onset: 0.25, offset: 0.75, pitch: 60, velocity: 80)])
        #expect(map.steps == 44100 / 512 + 1 && map.notesFrom == "mid" && map.crossCheck?.agree == true)
        #expect(map.sources.wav == "../in/MAPS_ISOL_NO_F_S0_M60_Test.wav")
        #expect(map.maps.pitch == 60)
        let index = try JSONDecoder().decode(NoteMapIndex.self, from: Data(contentsOf: URL(fileURLWithPath: scratch.path + "/out/index.json")))
        #expect(index.recordings.map(\.stem) == ["MAPS_ISOL_NO_F_S0_M60_Test"])
    }

    @Test func rerunSkipsUpToDateAndForceRemakes() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/a")
        #expect(try ingest(scratch).made == 1)
        #expect(try ingest(scratch).upToDate == 1)
        var options = IngestOptions()
        options.hop = 256
        #expect(try ingest(scratch, options: options).made == 1)  // other settings: remade
        #expect(try ingest(scratch, options: options, force: true).made == 1)
    }

    /// A wav named on its own finds its .mid and .txt beside it (one slice of a tree per job); a lone wav is still an error.
    @Test func wavGivenAloneFindsItsPartners() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/a")
        try scratch.wav("in/lonely.wav")
        let summary = try ingest(scratch, inputs: [scratch.path + "/in/a.wav", scratch.path + "/in/lonely.wav"])
        #expect(summary.made == 1 && summary.failures.count == 1)
        let map = try NoteMap.read(path: scratch.path + "/out/a.notemap.json")
        #expect(map.notesFrom == "mid" && map.crossCheck?.agree == true)
    }

    @Test func txtOnlyRecordingHasNoVelocities() throws {
        let scratch = try Scratch()
        try scratch.wav("in/x.wav")
        scratch.write("in/x.txt", Scratch.goodText)
        #expect(try ingest(scratch).made == 1)
        let map = try NoteMap.read(path: scratch.path + "/out/x.notemap.json")
        #expect(map.notesFrom == "txt" && map.notes == [Note(onset: 0.25, offset: 0.75, pitch: 60)] && map.crossCheck == nil)
    }

    @Test func disagreementWarnsOrFailsWithStrict() throws {
        let scratch = try Scratch()
        try scratch.wav("in/x.wav")
        scratch.write("in/x.mid", Scratch.goodMIDI)
        scratch.write("in/x.txt", "OnsetTime\tOffsetTime\tMidiPitch\n0.25\t0.75\t60\n0.5\t0.6\t62\n")
        #expect(try ingest(scratch).failures.isEmpty)
        let map = try NoteMap.read(path: scratch.path + "/out/x.notemap.json")
        #expect(map.crossCheck?.onlyInTxt == [Note(onset: 0.5, offset: 0.6, pitch: 62)])
        var strict = IngestOptions()
        strict.strict = true
        let failed = try ingest(scratch, options: strict, force: true)
        #expect(failed.failures.count == 1 && failed.failures[0].description.contains("1 notes only in txt"))
    }

    /// Each bad recording sits beside a good one: the bad one fails with an error naming its file
    /// and the problem, leaves no note map and no temporary file, and the good one still completes.
    @Test(arguments: [
        ("truncated MIDI", { @Sendable (s: Scratch) in try s.wav("in/r.wav"); s.write("in/r.mid", Array(Scratch.goodMIDI.prefix(30))) }, "r.mid", "claims"),
        ("garbage MIDI", { @Sendable (s: Scratch) in try s.wav("in/r.wav"); s.write("in/r.mid", "garbage garbage garbage") }, "r.mid", "not a MIDI file"),
        ("wrong track chunk length", { @Sendable (s: Scratch) in
            try s.wav("in/r.wav")
            var bytes = Scratch.goodMIDI
            bytes[21] = bytes[21] &+ 3  // the MTrk length's low byte
            s.write("in/r.mid", bytes)
        }, "r.mid", "claims"),
        ("wrong header chunk length", { @Sendable (s: Scratch) in
            try s.wav("in/r.wav")
            var bytes = Scratch.goodMIDI
            bytes[7] = 200
            s.write("in/r.mid", bytes)
        }, "r.mid", "header length"),
        ("txt with a bad line", { @Sendable (s: Scratch) in try s.wav("in/r.wav"); s.write("in/r.txt", "OnsetTime\tOffsetTime\tMidiPitch\n0.1\t0.2\t60\n0.3\tx\t61\n") }, "r.txt:3", "offset 'x'"),
        ("txt with a bad header", { @Sendable (s: Scratch) in try s.wav("in/r.wav"); s.write("in/r.txt", "Onset Pitch\n") }, "r.txt:1", "header"),
        ("empty txt", { @Sendable (s: Scratch) in try s.wav("in/r.wav"); s.write("in/r.txt", "") }, "r.txt", "empty note list"),
        ("wav that is not audio", { @Sendable (s: Scratch) in s.write("in/r.wav", "RIFF....WAVEfmt nonsense"); s.write("in/r.txt", Scratch.goodText) }, "r.wav", "not readable audio"),
        ("wav that is text", { @Sendable (s: Scratch) in s.write("in/r.wav", "hello"); s.write("in/r.mid", Scratch.goodMIDI) }, "r.wav", "not readable audio"),
        ("missing notes", { @Sendable (s: Scratch) in try s.wav("in/r.wav") }, "r.wav", "no .mid or .txt"),
        ("missing wav for mid", { @Sendable (s: Scratch) in s.write("in/r.mid", Scratch.goodMIDI) }, "r.mid", "no audio beside it"),
        ("missing wav for txt", { @Sendable (s: Scratch) in s.write("in/r.txt", Scratch.goodText) }, "r.txt", "no audio beside it"),
        ("notes-from mid without mid", { @Sendable (s: Scratch) in try s.wav("in/r.wav"); s.write("in/r.txt", Scratch.goodText) }, "r.wav", "no .mid"),
        ("MIDI with a bad running status", { @Sendable (s: Scratch) in
            try s.wav("in/r.wav")
            s.write("in/r.mid", SMF.header(format: 0, tracks: 1, division: 96) + SMF.track([0x00, 60, 100] + SMF.endOfTrack))
        }, "r.mid", "no running status"),
        ("txt with offset before onset", { @Sendable (s: Scratch) in try s.wav("in/r.wav"); s.write("in/r.txt", "OnsetTime\tOffsetTime\tMidiPitch\n2\t1\t60\n") }, "r.txt:2", "before onset"),
    ] as [(String, @Sendable (Scratch) throws -> Void, String, String)])
    func badRecordingIsReportedAndSkipped(name: String, make: @Sendable (Scratch) throws -> Void, file: String, problem: String) throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/good")
        try make(scratch)
        var options = IngestOptions()
        if name.hasPrefix("notes-from mid") { options.notesFrom = .mid }
        let summary = try ingest(scratch, options: options)
        #expect(summary.failures.count == 1, "\(name)")
        let message = summary.failures.first?.description ?? ""
        #expect(message.contains(file) && message.contains(problem), "\(name): \(message)")
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/out/good.notemap.json"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/out/r.notemap.json"))
        #expect(scratch.files(containing: AtomicWrite.temporaryPrefix).isEmpty)
    }

    @Test func emptyFolderIsAnError() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path + "/in", withIntermediateDirectories: true)
        let summary = try ingest(scratch)
        #expect(summary.failures.map(\.description) == ["\(scratch.path)/in: folder holds no audio (.wav, .flac, .aiff, .aif, .ogg, .oga, .opus or .mp3), .mid or .txt files"])
        #expect(scratch.files(containing: ".notemap.json").isEmpty)
    }

    @Test func missingInputIsAnError() throws {
        let scratch = try Scratch()
        let summary = try ingest(scratch, inputs: [scratch.path + "/nowhere"])
        #expect(summary.failures.first?.description.contains("no such file or directory") == true)
    }

    @Test func staleTemporaryFilesAreRemoved() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/a")
        scratch.write("out/" + AtomicWrite.temporaryPrefix + "123-a.notemap.json", "{half")
        _ = try ingest(scratch)
        #expect(scratch.files(containing: AtomicWrite.temporaryPrefix).isEmpty)
    }

    /// Only killed runs' temporaries go: a live writer's (this process) and another machine's recent one stay.
    @Test func liveTemporariesOfOtherRunsAreKept() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/a")
        let me = ProcessInfo.processInfo.processIdentifier, prefix = AtomicWrite.temporaryPrefix, host = AtomicWrite.owner
        let live = "\(prefix)\(host).\(me)-1-b.notemap.json", dead = "\(prefix)\(host).2147483646-1-c.notemap.json"
        let foreign = "\(prefix)otherhost.\(me)-1-d.notemap.json"
        for name in [live, dead, foreign] { scratch.write("out/" + name, "{half") }
        _ = try ingest(scratch)
        #expect(Set(scratch.files(containing: prefix).map { ($0 as NSString).lastPathComponent }) == [live, foreign])
        #expect(AtomicWrite.temporaryPath(for: "/x/y.npz").hasPrefix("/x/\(prefix)\(host).\(me)-"))
    }

    @Test func corruptNoteMapIsRejectedOnRead() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/a")
        _ = try ingest(scratch)
        let path = scratch.path + "/out/a.notemap.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let noRate = text.replacingOccurrences(of: "  \"sampleRate\": 44100,\n", with: "")
        #expect(noRate != text)
        for (broken, expected) in [(text.replacingOccurrences(of: "\"version\": 2", with: "\"version\": 9"), "version 9"),
                                   (text.replacingOccurrences(of: "\"hop\": 512", with: "\"hop\": 256"), "steps is"),
                                   (noRate, "missing field 'sampleRate'"),
                                   (text.replacingOccurrences(of: "\"version\": 2", with: "\"version\": 1"), "sampleRate is a version 2 field"),
                                   (text.replacingOccurrences(of: "\"sampleRate\": 44100", with: "\"sampleRate\": 48000"), "steps is"),
                                   (String(text.prefix(100)), "not a note map")] {
            try broken.write(toFile: path, atomically: true, encoding: .utf8)
            #expect { try NoteMap.read(path: path) } throws: { "\($0)".contains(expected) && "\($0)".contains(path) }
        }
    }
}

@Suite struct IngestCommandTests {
    /// The built `ingest` executable, next to the test bundle.
    static var executable: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundle, bundle.deletingLastPathComponent()] where FileManager.default.isExecutableFile(atPath: dir.path + "/ingest") {
            return dir.path + "/ingest"
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/.build/debug/ingest"
    }

    func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func exitCodeSaysSomeFailed() throws {
        let scratch = try Scratch()
        try scratch.goodRecording("in/good")
        try scratch.wav("in/lonely.wav")
        let result = try run([scratch.path + "/in", "-o", scratch.path + "/out"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("lonely.wav: no .mid or .txt beside it"))
        #expect(result.stderr.contains("done 1 of 2, 1 failed"))
        let clean = try run([scratch.path + "/in/good.wav", scratch.path + "/in/good.mid", "-o", scratch.path + "/out2"])
        #expect(clean.status == 0 && clean.stderr.contains("done 1 of 1, 0 failed"))
    }

    @Test func emptyFolderExitsNonZero() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path + "/in", withIntermediateDirectories: true)
        let result = try run([scratch.path + "/in", "-o", scratch.path + "/out"])
        #expect(result.status != 0 && result.stderr.contains("folder holds no audio (.wav, .flac, .aiff, .aif, .ogg, .oga, .opus or .mp3), .mid or .txt files"))
    }
}
