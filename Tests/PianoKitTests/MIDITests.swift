import Testing
@testable import PianoKit

/// Builds MIDI bytes by hand, so the reader is tested against the spec rather than against the writer.
enum SMF {
    static func header(format: UInt16, tracks: UInt16, division: UInt16) -> [UInt8] {
        Array("MThd".utf8) + [0, 0, 0, 6, UInt8(format >> 8), UInt8(format & 0xFF), UInt8(tracks >> 8), UInt8(tracks & 0xFF), UInt8(division >> 8), UInt8(division & 0xFF)]
    }

    static func track(_ body: [UInt8]) -> [UInt8] {
        let n = body.count
        return Array("MTrk".utf8) + [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + body
    }

    static let endOfTrack: [UInt8] = [0x00, 0xFF, 0x2F, 0x00]
}

@Suite struct MIDIReaderTests {
    /// Format 0, 480 ticks per quarter at the default 120 BPM: 960 ticks per second.
    /// Running status carries the second note-on and the velocity-0 note-offs; a sysex and a text meta sit in between.
    @Test func formatZeroWithRunningStatusSysexAndVelocityZero() throws {
        let body: [UInt8] = [
            0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7,  // GM reset sysex
            0x00, 0xFF, 0x01, 0x02, 0x68, 0x69,  // text "hi"
            0x00, 0x90, 60, 100,  // note on 60 at 0
            0x83, 0x60, 64, 90,  // +480 (running status) note on 64 at 0.5 s
            0x83, 0x60, 60, 0,  // +480 note 60 velocity 0 at 1.0 s
            0x00, 64, 0,  // note 64 velocity 0 at 1.0 s
        ] + SMF.endOfTrack
        let file = try MIDIReader.parse(SMF.header(format: 0, tracks: 1, division: 480) + SMF.track(body))
        #expect(file.format == 0)
        #expect(file.tracks[0].events.contains(.init(tick: 0, .sysex(status: 0xF0, data: [0x7E, 0x7F, 0x09, 0x01, 0xF7]))))
        let notes = MIDIPerformance(file).notes(sustain: true)
        #expect(notes == [Note(onset: 0, offset: 1, pitch: 60, velocity: 100), Note(onset: 0.5, offset: 1, pitch: 64, velocity: 90)])
    }

    /// Format 1: the tempo track halves the tempo (1 000 000 µs a quarter) at tick 480; the notes are in track 1.
    @Test func formatOneTempoChangeInConductorTrack() throws {
        let conductor: [UInt8] = [0x83, 0x60, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40] + SMF.endOfTrack
        let notes: [UInt8] = [
            0x00, 0x91, 72, 80,  // channel 1
            0x87, 0x40, 0x81, 72, 0,  // +960: note off (0x81) at tick 960
        ] + SMF.endOfTrack
        let file = try MIDIReader.parse(SMF.header(format: 1, tracks: 2, division: 480) + SMF.track(conductor) + SMF.track(notes))
        // Ticks 0-480 at 0.5 s a quarter = 0.5 s, then 480 ticks at 1 s a quarter = 1 s: note off at 1.5 s.
        #expect(MIDIPerformance(file).notes(sustain: false) == [Note(onset: 0, offset: 1.5, pitch: 72, velocity: 80)])
        #expect(TempoMap(file).tick(atSeconds: 1.5) == 960)
    }

    @Test func overlappingSameKeyIsARestrike() throws {
        let body: [UInt8] = [0x00, 0x90, 60, 100, 0x60, 0x90, 60, 50, 0x60, 0x80, 60, 0, 0x60, 0x80, 60, 0] + SMF.endOfTrack
        let file = try MIDIReader.parse(SMF.header(format: 0, tracks: 1, division: 96) + SMF.track(body))
        // 96 ticks a quarter at 120 BPM: 0x60 = 96 ticks = 0.5 s. Second note-on ends the first; the extra note-off is ignored.
        #expect(MIDIPerformance(file).notes(sustain: false) == [Note(onset: 0, offset: 0.5, pitch: 60, velocity: 100), Note(onset: 0.5, offset: 1.0, pitch: 60, velocity: 50)])
    }

    @Test func sustainPedalFromControllerSixtyFour() throws {
        let body: [UInt8] = [0x00, 0xB0, 64, 127, 0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x60, 0xB0, 64, 0] + SMF.endOfTrack
        let file = try MIDIReader.parse(SMF.header(format: 0, tracks: 1, division: 96) + SMF.track(body))
        #expect(MIDIPerformance(file).notes(sustain: true)[0].offset == 1.0)
        #expect(MIDIPerformance(file).notes(sustain: false)[0].offset == 0.5)
    }

    @Test func smpteDivisionIgnoresTempo() throws {
        // 25 fps, 40 ticks a frame: 1000 ticks a second. 0x87 0x68 = 1000 ticks.
        let body: [UInt8] = [0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x00, 0x90, 60, 100, 0x87, 0x68, 0x80, 60, 0] + SMF.endOfTrack
        let division = UInt16(UInt8(bitPattern: -25)) << 8 | 40
        let file = try MIDIReader.parse(SMF.header(format: 0, tracks: 1, division: division) + SMF.track(body))
        #expect(MIDIPerformance(file).notes(sustain: false)[0].offset == 1.0)
    }

    @Test func unknownChunksAreSkipped() throws {
        let alien = Array("XFIH".utf8) + [0, 0, 0, 2, 1, 2]
        let body: [UInt8] = [0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0] + SMF.endOfTrack
        let file = try MIDIReader.parse(SMF.header(format: 0, tracks: 1, division: 96) + alien + SMF.track(body))
        #expect(MIDIPerformance(file).presses.count == 1)
    }

    @Test(arguments: [
        ("empty", [UInt8](), "too short"),
        ("garbage", Array("this is not a midi file at all".utf8), "no MThd"),
        ("truncated track", SMF.header(format: 0, tracks: 1, division: 96) + Array(SMF.track([0x00, 0x90, 60, 100] + SMF.endOfTrack).prefix(12)), "claims 8 bytes but only 4 remain"),
        ("lying chunk length", SMF.header(format: 0, tracks: 1, division: 96) + Array("MTrk".utf8) + [0x7F, 0xFF, 0xFF, 0xFF, 0x00], "claims"),
        ("missing track", SMF.header(format: 1, tracks: 2, division: 96) + SMF.track(SMF.endOfTrack), "declares 2 tracks but the file ends after 1"),
        ("event cut short", SMF.header(format: 0, tracks: 1, division: 96) + SMF.track([0x00, 0x90, 60]), "unexpected end"),
        ("no running status", SMF.header(format: 0, tracks: 1, division: 96) + SMF.track([0x00, 60, 100] + SMF.endOfTrack), "no running status"),
        ("long variable length", SMF.header(format: 0, tracks: 1, division: 96) + SMF.track([0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), "longer than 4 bytes"),
        ("meta length past end", SMF.header(format: 0, tracks: 1, division: 96) + SMF.track([0x00, 0xFF, 0x01, 0x7F, 0x41]), "meta event"),
        ("format 0 with two tracks", SMF.header(format: 0, tracks: 2, division: 96), "must be 1"),
        ("zero division", SMF.header(format: 0, tracks: 1, division: 0) + SMF.track(SMF.endOfTrack), "division of 0"),
        ("bad tempo length", SMF.header(format: 0, tracks: 1, division: 96) + SMF.track([0x00, 0xFF, 0x51, 0x02, 0x01, 0x02] + SMF.endOfTrack), "tempo event"),
        ("format 3", SMF.header(format: 3, tracks: 1, division: 96) + SMF.track(SMF.endOfTrack), "unknown MIDI format"),
    ] as [(String, [UInt8], String)])
    func badFilesGiveAClearError(name: String, bytes: [UInt8], expected: String) {
        #expect {
            _ = try MIDIReader.parse(bytes)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }
}

@Suite struct MIDIWriterTests {
    @Test(arguments: [false, true])
    func writerRoundTripsThroughTheReader(runningStatus: Bool) throws {
        let track = MIDITrack(events: [
            TimedEvent(tick: 0, .tempo(microsecondsPerQuarter: 600_000)),
            TimedEvent(tick: 0, .programChange(channel: 0, program: 1)),
            TimedEvent(tick: 0, .noteOn(channel: 0, key: 60, velocity: 90)),
            TimedEvent(tick: 0, .noteOn(channel: 0, key: 64, velocity: 91)),
            TimedEvent(tick: 200, .noteOff(channel: 0, key: 60, velocity: 64)),
            TimedEvent(tick: 300, .noteOff(channel: 0, key: 64, velocity: 64)),
            TimedEvent(tick: 100_000, .sysex(status: 0xF0, data: [1, 2, 0xF7])),
            TimedEvent(tick: 100_001, .endOfTrack),
        ])
        let file = MIDIFile(format: 0, division: .ticksPerQuarter(480), tracks: [track])
        let bytes = MIDIWriter.encode(file, runningStatus: runningStatus)
        #expect(try MIDIReader.parse(bytes) == file)
        let plain = MIDIWriter.encode(file, runningStatus: false)
        #expect(runningStatus ? bytes.count == plain.count - 2 : bytes == plain)  // two status bytes saved
    }

    @Test func missingEndOfTrackIsAdded() throws {
        let file = MIDIFile(format: 0, division: .ticksPerQuarter(96), tracks: [MIDITrack(events: [TimedEvent(tick: 5, .noteOn(channel: 0, key: 1, velocity: 1))])])
        #expect(try MIDIReader.parse(MIDIWriter.encode(file)).tracks[0].events.last == TimedEvent(tick: 5, .endOfTrack))
    }
}
