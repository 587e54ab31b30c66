/// Parses Standard MIDI Files (formats 0, 1 and 2) with running status, meta and sysex events.
///
/// Every length is checked against the bytes that are really there, so a truncated or lying
/// file gives a `FormatError` naming the track and byte offset instead of a crash or a large
/// allocation.
public enum MIDIReader {
    /// Parses a whole file.
    public static func parse(_ bytes: [UInt8]) throws -> MIDIFile {
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
            do {
                tracks.append(try parseTrack(body))
            } catch let error as FormatError {
                throw FormatError("track \(tracks.count) (chunk at byte \(chunkStart)): \(error.message)")
            }
        }
        return MIDIFile(format: format, division: division, tracks: tracks)
    }

    /// Parses one MTrk chunk body into events with absolute ticks.
    static func parseTrack(_ body: ArraySlice<UInt8>) throws -> MIDITrack {
        var cursor = ByteCursor(body)
        var events: [TimedEvent] = []
        var tick = 0
        var runningStatus: UInt8? = nil
        while cursor.remaining > 0 {
            tick += try cursor.readVariableLength()
            let eventOffset = cursor.offset
            var status = try cursor.peekByte()
            if status < 0x80 {
                guard let running = runningStatus else {
                    throw FormatError("data byte 0x\(String(status, radix: 16)) at byte \(eventOffset) with no running status")
                }
                status = running
            } else {
                cursor.advance(1)
            }
            switch status {
            case 0xFF:
                runningStatus = nil
                let type = try cursor.readByte()
                let length = try cursor.readVariableLength()
                guard length <= cursor.remaining else {
                    throw FormatError("meta event at byte \(eventOffset) claims \(length) bytes but only \(cursor.remaining) remain")
                }
                let data = Array(try cursor.read(length))
                if type == 0x2F {
                    events.append(TimedEvent(tick: tick, .endOfTrack))
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
                let length = try cursor.readVariableLength()
                guard length <= cursor.remaining else {
                    throw FormatError("sysex at byte \(eventOffset) claims \(length) bytes but only \(cursor.remaining) remain")
                }
                events.append(TimedEvent(tick: tick, .sysex(status: status, data: Array(try cursor.read(length)))))
            case 0xF1 ... 0xFE:
                throw FormatError("system message 0x\(String(status, radix: 16)) at byte \(eventOffset) is not allowed in a file")
            default:
                runningStatus = status
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
