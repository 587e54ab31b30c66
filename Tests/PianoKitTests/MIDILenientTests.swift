import Foundation
import Testing
@testable import PianoKit

/// System common/real-time messages inside a track and running status across a meta event: read
/// with a warning naming the offset (as mido reads them), refused with `strict`; garbage refused
/// either way. Files are built byte by byte.
@Suite struct MIDILenientTests {
    /// Format 0, 480 ticks a quarter (960 ticks a second at 120 BPM). The header is 14 bytes and
    /// the MTrk header 8, so the body starts at byte 22; offsets are those of status (or first
    /// data) bytes, after the delta time.
    static func file(_ body: [UInt8]) -> [UInt8] {
        SMF.header(format: 0, tracks: 1, division: 480) + SMF.track(body + SMF.endOfTrack)
    }

    static let expected = [Note(onset: 0, offset: 0.5, pitch: 60, velocity: 100), Note(onset: 0.5, offset: 1.0, pitch: 62, velocity: 90)]

    /// Each case: the body, the offset of the first tolerated thing, and the warning's words.
    @Test(arguments: [
        ("clock and active sensing between notes",
         event(0, [0x90, 60, 100]) + event(0, [0xF8]) + event(480, [0xFE]) + event(0, [0x80, 60, 0]) + event(0, [0x90, 62, 90]) + event(480, [0x80, 62, 0]),
         27, "skipped 2 system messages (0xf8, 0xfe)"),
        ("song position, song select, quarter frame, tune request",
         event(0, [0xF2, 0x10, 0x20]) + event(0, [0xF3, 5]) + event(0, [0xF1, 0x31]) + event(0, [0xF6])
            + event(0, [0x90, 60, 100]) + event(480, [0x80, 60, 0]) + event(0, [0x90, 62, 90]) + event(480, [0x80, 62, 0]),
         23, "skipped 4 system messages (0xf1, 0xf2, 0xf3, 0xf6)"),
        ("start, continue, stop inside running status",
         event(0, [0x90, 60, 100]) + event(0, [0xFA]) + event(480, [60, 0]) + event(0, [0xFB]) + event(0, [62, 90]) + event(0, [0xFC]) + event(480, [62, 0]),
         27, "skipped 3 system messages (0xfa, 0xfb, 0xfc)"),
        ("running status after a text meta",
         event(0, [0x90, 60, 100]) + event(480, [0xFF, 0x01, 0x02, 0x68, 0x69]) + event(0, [60, 0]) + event(0, [62, 90]) + event(480, [62, 0]),
         34, "running status continued across a meta event or system message 1 time"),
        ("running status after a song select",
         event(0, [0x90, 60, 100]) + event(480, [0xF3, 1]) + event(0, [60, 0]) + event(0, [62, 90]) + event(480, [62, 0]),
         31, "running status continued"),
    ] as [(String, [UInt8], Int, String)])
    func toleratedWithAWarning(name: String, body: [UInt8], offset: Int, words: String) throws {
        var warnings: [String] = []
        let file = try MIDIReader.parse(Self.file(body)) { warnings.append($0) }
        #expect(MIDIPerformance(file).notes(sustain: false) == Self.expected, "\(name)")
        #expect(warnings.contains { $0.contains(words) && $0.contains("byte \(offset)") && $0.hasPrefix("track 0 (chunk at byte 14)") }, "\(name): \(warnings)")
        #expect(throws: FormatError.self, "\(name) with strict") { try MIDIReader.parse(Self.file(body), strict: true) }
    }

    @Test func warningsNameTheFileThroughNoteFiles() throws {
        let path = "/tmp/piano-midi-lenient-\(getpid()).mid"
        let body = event(0, [0x90, 60, 100]) + event(0, [0xF8]) + event(480, [0x80, 60, 0]) + event(0, [0x90, 62, 90]) + event(480, [0x80, 62, 0])
        try Data(Self.file(body)).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        var warnings: [String] = []
        #expect(try NoteFiles.readMIDI(path: path, sustain: false) { warnings.append($0) } == Self.expected)
        #expect(warnings == ["\(path): track 0 (chunk at byte 14): skipped 1 system message (0xf8) not allowed in a file, the first at byte 27"])
        let error = #expect(throws: FileError.self) { try NoteFiles.readMIDI(path: path, sustain: false, strict: true) }
        #expect(error?.description == "\(path): track 0 (chunk at byte 14): system message 0xf8 at byte 27 is not allowed in a file")
    }

    /// A file the reader refuses tells nothing it tolerated before the refusal.
    @Test func noWarningsFromARefusedFile() {
        var warnings: [String] = []
        #expect(throws: FormatError.self) { try MIDIReader.parse(Self.file(event(0, [0xF8]) + event(0, [0xF4]))) { warnings.append($0) } }
        #expect(warnings.isEmpty)
    }

    @Test(arguments: [
        ("undefined system common F4", event(0, [0xF4]), "system message 0xf4 at byte 23"),
        ("undefined system common F5", event(0, [0xF5, 1]), "system message 0xf5"),
        ("status byte inside song position", event(0, [0xF2, 0x10, 0x90]), "inside the system message at byte 23"),
        ("data byte at the start", event(0, [60, 100]), "no running status"),
        ("data byte after a meta with no status before", event(0, [0xFF, 0x01, 0x00]) + event(0, [60, 100]), "no running status"),
        ("data byte after a sysex", event(0, [0x90, 60, 100]) + event(0, [0xF0, 0x01, 0xF7]) + event(0, [60, 0]), "no running status"),
        ("status byte inside a note", event(0, [0x90, 60, 0xF8]), "status byte 0xf8 inside the event"),
    ] as [(String, [UInt8], String)])
    func garbageIsStillRefused(name: String, body: [UInt8], message: String) {
        #expect(performing: { _ = try MIDIReader.parse(Self.file(body)) }, throws: { "\($0)".contains(message) })
    }
}
