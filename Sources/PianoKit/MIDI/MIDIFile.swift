/// A Standard MIDI File in memory: its format, its time division and its tracks of timed events.
public struct MIDIFile: Sendable, Equatable {
    /// How ticks map to time, from the header's division word.
    public enum Division: Sendable, Equatable {
        /// Metrical time: ticks per quarter note; the tempo map turns them into seconds.
        case ticksPerQuarter(Int)
        /// Time-code time: frames per second (24, 25, 29 for 29.97 drop-frame, 30) and ticks per frame.
        case smpte(framesPerSecond: Int, ticksPerFrame: Int)
    }

    /// 0 (one track), 1 (simultaneous tracks) or 2 (independent sequences; read like 1).
    public var format: Int
    /// The header's time division.
    public var division: Division
    /// The tracks, each a list of events with absolute tick times in file order.
    public var tracks: [MIDITrack]

    /// Creates a file from its parts.
    public init(format: Int, division: Division, tracks: [MIDITrack]) {
        self.format = format
        self.division = division
        self.tracks = tracks
    }
}

/// One track: events in the order they occur, each with its absolute tick.
public struct MIDITrack: Sendable, Equatable {
    /// The events, sorted by tick (ties keep file order).
    public var events: [TimedEvent]
    /// Creates a track.
    public init(events: [TimedEvent] = []) { self.events = events }
}

/// A MIDI event at an absolute tick.
public struct TimedEvent: Sendable, Equatable {
    /// Ticks from the start of the track.
    public var tick: Int
    /// What happens then.
    public var event: MIDIEvent
    /// Creates a timed event.
    public init(tick: Int, _ event: MIDIEvent) {
        self.tick = tick
        self.event = event
    }
}

/// The events this toolkit distinguishes; everything else is kept as raw bytes.
public enum MIDIEvent: Sendable, Equatable {
    /// Key pressed (a velocity of 0 is read as `noteOff`).
    case noteOn(channel: UInt8, key: UInt8, velocity: UInt8)
    /// Key released.
    case noteOff(channel: UInt8, key: UInt8, velocity: UInt8)
    /// Controller change; controller 64 is the sustain pedal.
    case controlChange(channel: UInt8, controller: UInt8, value: UInt8)
    /// Program (instrument) change.
    case programChange(channel: UInt8, program: UInt8)
    /// Any other channel message: status byte and its one or two data bytes.
    case otherChannel(status: UInt8, data: [UInt8])
    /// Set tempo meta event, in microseconds per quarter note.
    case tempo(microsecondsPerQuarter: Int)
    /// End-of-track meta event.
    case endOfTrack
    /// Any other meta event: its type and payload.
    case meta(type: UInt8, data: [UInt8])
    /// A system-exclusive message: the status (0xF0 or 0xF7) and payload as stored.
    case sysex(status: UInt8, data: [UInt8])

    /// The MIDI controller number of the sustain (damper) pedal.
    public static let sustainController: UInt8 = 64
}
