/// Writes Standard MIDI Files that other readers (mido, pretty_midi, fluidsynth) accept.
public enum MIDIWriter {
    /// Encodes `file`; with `runningStatus` a channel message repeats no status byte it shares with the one before.
    ///
    /// Events are written in the order of their ticks (ties keep their order); a track that does
    /// not end with an end-of-track event gets one at its last tick.
    public static func encode(_ file: MIDIFile, runningStatus: Bool = false) -> [UInt8] {
        precondition(file.format != 0 || file.tracks.count == 1, "format 0 holds exactly one track")
        var out: [UInt8] = Array("MThd".utf8)
        appendUInt32(6, to: &out)
        appendUInt16(UInt16(file.format), to: &out)
        appendUInt16(UInt16(file.tracks.count), to: &out)
        switch file.division {
        case .ticksPerQuarter(let ticks):
            precondition(ticks > 0 && ticks < 0x8000, "ticks per quarter must be 1...32767")
            appendUInt16(UInt16(ticks), to: &out)
        case .smpte(let fps, let ticksPerFrame):
            out.append(UInt8(bitPattern: Int8(-fps)))
            out.append(UInt8(ticksPerFrame))
        }
        for track in file.tracks {
            let body = encodeTrack(track, runningStatus: runningStatus)
            out.append(contentsOf: Array("MTrk".utf8))
            appendUInt32(UInt32(body.count), to: &out)
            out.append(contentsOf: body)
        }
        return out
    }

    static func encodeTrack(_ track: MIDITrack, runningStatus useRunningStatus: Bool) -> [UInt8] {
        var events = track.events.enumerated().sorted { ($0.element.tick, $0.offset) < ($1.element.tick, $1.offset) }.map(\.element)
        if events.last?.event != .endOfTrack {
            events.removeAll { $0.event == .endOfTrack }
            events.append(TimedEvent(tick: events.last?.tick ?? 0, .endOfTrack))
        }
        var out: [UInt8] = []
        var previousTick = 0
        var runningStatus: UInt8? = nil
        for timed in events {
            VariableLength.append(timed.tick - previousTick, to: &out)
            previousTick = timed.tick
            func channelMessage(_ status: UInt8, _ data: [UInt8]) {
                if !(useRunningStatus && runningStatus == status) { out.append(status) }
                out.append(contentsOf: data)
                runningStatus = status
            }
            func nonChannel(_ prefix: [UInt8], _ data: [UInt8]) {
                out.append(contentsOf: prefix)
                VariableLength.append(data.count, to: &out)
                out.append(contentsOf: data)
                runningStatus = nil
            }
            switch timed.event {
            case let .noteOn(channel, key, velocity): channelMessage(0x90 | channel, [key, velocity])
            case let .noteOff(channel, key, velocity): channelMessage(0x80 | channel, [key, velocity])
            case let .controlChange(channel, controller, value): channelMessage(0xB0 | channel, [controller, value])
            case let .programChange(channel, program): channelMessage(0xC0 | channel, [program])
            case let .otherChannel(status, data): channelMessage(status, data)
            case let .tempo(tempo):
                nonChannel([0xFF, 0x51], [UInt8(tempo >> 16 & 0xFF), UInt8(tempo >> 8 & 0xFF), UInt8(tempo & 0xFF)])
            case .endOfTrack: nonChannel([0xFF, 0x2F], [])
            case let .meta(type, data): nonChannel([0xFF, type], data)
            case let .sysex(status, data): nonChannel([status], data)
            }
        }
        return out
    }

    private static func appendUInt16(_ value: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xFF))
    }

    private static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(value >> UInt32(shift) & 0xFF)) }
    }
}
