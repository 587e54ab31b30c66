/// Parses Standard MIDI Files (formats 0, 1 and 2) with running status, meta and sysex events.
///
/// Every length is checked against the bytes that are really there, so a truncated or lying
/// file gives a `FormatError` naming the track and byte offset instead of a crash or a large
/// allocation.
///
/// Two things the standard does not allow in a file, but which other readers (mido, most
/// sequencers) accept and whose meaning is clear, are read with a warning unless `strict`:
/// system common and real-time messages of known length inside a track (F1 and F3 with one data
/// byte, F2 with two, F6 and F8–FE with none) are skipped; and a data byte right after a meta
/// event (or one of those system messages) continues the running status from before it. Anything
/// else that is not a valid event (F4, F5, a data byte with no running status at all, a status
/// byte among data bytes) is still refused.
public enum MIDIReader {
    /// Parses a whole file; `warn` hears one line per track and kind of tolerated oddity, naming
    /// the track, the count and the byte offset of the first (offsets count from the file's start).
    /// With `strict` those oddities are errors, as in versions before the tolerance.
    public static func parse(_ bytes: [UInt8], strict: Bool = false, warn: (String) -> Void = { _ in }) throws -> MIDIFile {
        var cursor = ByteCursor(bytes)
        guard bytes.count >= 14 else {
            throw FormatError("not a MIDI file: \(bytes.count) bytes is too short for a header")
        }
        guard try cursor.readTag() == "MThd" else { throw FormatError("not a MIDI file: no MThd header") }
        let headerLength = Int(try cursor.readUInt32())
        guard headerLength >= 6, headerLength <= cursor.remaining else {
            throw FormatError("bad MThd header length \(headerLength)")
        }
        let format = Int(try cursor.readUInt16())
        let trackCount = Int(try cursor.readUInt16())
        let divisionWord = try cursor.readUInt16()
        try cursor.skip(headerLength - 6)
        guard format <= 2 else { throw FormatError("unknown MIDI format \(format)") }
        guard trackCount > 0 else { throw FormatError("header declares no tracks") }
        if format == 0 && trackCount != 1 {
            throw FormatError("format 0 file declares \(trackCount) tracks (must be 1)")
        }
        let division: MIDIFile.Division
        if divisionWord & 0x8000 != 0 {
            let fps = -Int(Int8(bitPattern: UInt8(divisionWord >> 8)))
            guard [24, 25, 29, 30].contains(fps), divisionWord & 0xFF > 0 else {
                throw FormatError("bad SMPTE division 0x\(String(divisionWord, radix: 16))")
            }
            division = .smpte(framesPerSecond: fps, ticksPerFrame: Int(divisionWord & 0xFF))
        } else {
            guard divisionWord > 0 else { throw FormatError("division of 0 ticks per quarter note") }
            division = .ticksPerQuarter(Int(divisionWord))
        }

        var tracks: [MIDITrack] = []
        var warnings: [String] = []  // told only once the whole file has been read
        while tracks.count < trackCount {
            guard cursor.remaining > 0 else {
                throw FormatError("header declares \(trackCount) tracks but the file ends after \(tracks.count)")
            }
            let chunkStart = cursor.offset
            guard cursor.remaining >= 8 else {
                throw FormatError("truncated chunk header at byte \(chunkStart)")
            }
            let tag = try cursor.readTag()
            let length = Int(try cursor.readUInt32())
            guard length <= cursor.remaining else {
                throw FormatError("chunk '\(tag)' at byte \(chunkStart) claims \(length) bytes but only \(cursor.remaining) remain")
            }
            let body = try cursor.read(length)
            guard tag == "MTrk" else { continue }  // unknown chunks are skipped, as the spec asks
            let where_ = "track \(tracks.count) (chunk at byte \(chunkStart))"
            do {
                tracks.append(try parseTrack(body, strict: strict) { warnings.append("\(where_): \($0)") })
            } catch let error as FormatError {
                throw FormatError("\(where_): \(error.message)")
            }
        }
        warnings.forEach(warn)
        return MIDIFile(format: format, division: division, tracks: tracks)
    }

    /// Data bytes that follow each system common and real-time status a track may hold when not
    /// strict: F1 (time-code quarter frame) 1, F2 (song position) 2, F3 (song select) 1, F6 (tune
    /// request) 0, F8–FE (real-time: clock, start, continue, stop, active sensing, and the
    /// undefined F9 and FD, all single bytes by the MIDI 1.0 spec) 0. F4 and F5 are undefined
    /// system common messages of unknown length, so they are refused.
    static let systemMessageLengths: [UInt8: Int] = [
        0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xF9: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFD: 0, 0xFE: 0,
    ]

    /// Counts of one kind of tolerated oddity in a track, and where the first was.
    struct Tolerated {
        var count = 0
        var firstOffset = 0
        var statuses = Set<UInt8>()
        mutating func note(_ offset: Int, status: UInt8? = nil) {
            if count == 0 { firstOffset = offset }
            count += 1
            if let status { statuses.insert(status) }
        }
    }

    /// Parses one MTrk chunk body into events with absolute ticks; `warn` hears what was tolerated.
    static func parseTrack(_ body: ArraySlice<UInt8>, strict: Bool = false, warn: (String) -> Void = { _ in }) throws -> MIDITrack {
        var cursor = ByteCursor(body)
        var events: [TimedEvent] = []
        var tick = 0
        var runningStatus: UInt8? = nil
        // The running status a meta event or system message interrupted (the standard cancels it).
        var suspendedStatus: UInt8? = nil
        var skipped = Tolerated(), continued = Tolerated()
        var parsed = false  // a refused track reports its error only
        defer {
            if parsed && skipped.count > 0 {
                let kinds = skipped.statuses.sorted().map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
                warn("skipped \(skipped.count) system message\(skipped.count == 1 ? "" : "s") (\(kinds)) not allowed in a file, the first at byte \(skipped.firstOffset)")
            }
            if parsed && continued.count > 0 {
                warn("running status continued across a meta event or system message \(continued.count) time\(continued.count == 1 ? "" : "s"), the first at byte \(continued.firstOffset)")
            }
        }
        while cursor.remaining > 0 {
            tick += try cursor.readVariableLength()
            let eventOffset = cursor.offset
            var status = try cursor.peekByte()
            if status < 0x80 {
                if runningStatus == nil, !strict, let suspended = suspendedStatus {
                    continued.note(eventOffset)
                    runningStatus = suspended
                }
                guard let running = runningStatus else {
                    throw FormatError("data byte 0x\(String(status, radix: 16)) at byte \(eventOffset) with no running status")
                }
                status = running
            } else {
                cursor.advance(1)
            }
            if status >= 0xF0 && status != 0xF0 && status != 0xF7 && status != 0xFF {
                guard !strict, let length = systemMessageLengths[status] else {
                    throw FormatError("system message 0x\(String(status, radix: 16)) at byte \(eventOffset) is not allowed in a file")
                }
                for _ in 0 ..< length {
                    let byte = try cursor.readByte()
                    guard byte < 0x80 else {
                        throw FormatError("status byte 0x\(String(byte, radix: 16)) inside the system message at byte \(eventOffset)")
                    }
                }
                skipped.note(eventOffset, status: status)
                if status < 0xF8, let running = runningStatus {  // real-time messages leave running status alone
                    suspendedStatus = running
                    runningStatus = nil
                }
                continue
            }
            switch status {
            case 0xFF:
                if let running = runningStatus { suspendedStatus = running }
                runningStatus = nil
                let type = try cursor.readByte()
                let length = try cursor.readVariableLength()
                guard length <= cursor.remaining else {
                    throw FormatError("meta event at byte \(eventOffset) claims \(length) bytes but only \(cursor.remaining) remain")
                }
                let data = Array(try cursor.read(length))
                if type == 0x2F {
                    events.append(TimedEvent(tick: tick, .endOfTrack))
                    parsed = true
                    return MIDITrack(events: events)  // bytes after end-of-track are ignored
                } else if type == 0x51 {
                    guard data.count == 3 else { throw FormatError("tempo event at byte \(eventOffset) has \(data.count) bytes, not 3") }
                    let tempo = Int(data[0]) << 16 | Int(data[1]) << 8 | Int(data[2])
                    guard tempo > 0 else { throw FormatError("tempo of 0 at byte \(eventOffset)") }
                    events.append(TimedEvent(tick: tick, .tempo(microsecondsPerQuarter: tempo)))
                } else {
                    events.append(TimedEvent(tick: tick, .meta(type: type, data: data)))
                }
            case 0xF0, 0xF7:
                runningStatus = nil
                suspendedStatus = nil
                let length = try cursor.readVariableLength()
                guard length <= cursor.remaining else {
                    throw FormatError("sysex at byte \(eventOffset) claims \(length) bytes but only \(cursor.remaining) remain")
                }
                events.append(TimedEvent(tick: tick, .sysex(status: status, data: Array(try cursor.read(length)))))
            default:
                runningStatus = status
                suspendedStatus = nil
                let channel = status & 0x0F
                let dataCount = (status & 0xF0 == 0xC0 || status & 0xF0 == 0xD0) ? 1 : 2
                var data: [UInt8] = []
                for _ in 0 ..< dataCount {
                    let byte = try cursor.readByte()
                    guard byte < 0x80 else {
                        throw FormatError("status byte 0x\(String(byte, radix: 16)) inside the event at byte \(eventOffset)")
                    }
                    data.append(byte)
                }
                let event: MIDIEvent
                switch status & 0xF0 {
                case 0x90 where data[1] > 0: event = .noteOn(channel: channel, key: data[0], velocity: data[1])
                case 0x90, 0x80: event = .noteOff(channel: channel, key: data[0], velocity: data[1])
                case 0xB0: event = .controlChange(channel: channel, controller: data[0], value: data[1])
                case 0xC0: event = .programChange(channel: channel, program: data[0])
                default: event = .otherChannel(status: status, data: data)
                }
                events.append(TimedEvent(tick: tick, event))
            }
        }
        parsed = true
        return MIDITrack(events: events)  // a missing end-of-track is tolerated
    }
}

/// A bounds-checked reader over bytes; every read past the end throws.
struct ByteCursor {
    private let bytes: ArraySlice<UInt8>
    private(set) var position: Int

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }
    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    /// Offset from the start of the underlying buffer.
    var offset: Int { position }
    var remaining: Int { bytes.endIndex - position }

    mutating func advance(_ count: Int) { position += count }

    func peekByte() throws -> UInt8 {
        guard remaining >= 1 else { throw FormatError("unexpected end of data at byte \(position)") }
        return bytes[position]
    }

    mutating func readByte() throws -> UInt8 {
        let byte = try peekByte()
        position += 1
        return byte
    }

    mutating func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw FormatError("unexpected end of data at byte \(position): wanted \(count) bytes, \(remaining) remain")
        }
        defer { position += count }
        return bytes[position ..< position + count]
    }

    mutating func skip(_ count: Int) throws { _ = try read(count) }

    mutating func readUInt16() throws -> UInt16 {
        let b = try read(2)
        return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    mutating func readUInt32() throws -> UInt32 {
        let b = try read(4)
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func readTag() throws -> String {
        let b = try read(4)
        return String(decoding: b.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    /// Reads a variable-length quantity of at most four bytes.
    mutating func readVariableLength() throws -> Int {
        var value = 0
        for _ in 0 ..< 4 {
            let byte = try readByte()
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 { return value }
        }
        throw FormatError("variable-length quantity longer than 4 bytes at byte \(position - 4)")
    }
}
