/// A key press in ticks, as the corpus composes it.
public struct TickPress: Sendable, Equatable {
    /// Tick of the key going down.
    public var start: Int
    /// Tick of the key coming up.
    public var end: Int
    /// MIDI note number.
    public var pitch: Int
    /// MIDI velocity 1...127.
    public var velocity: Int
    /// Track (in a format 1 file) that holds it: 1 right hand, 2 left hand.
    public var track: Int

    /// Creates a press.
    public init(start: Int, end: Int, pitch: Int, velocity: Int, track: Int = 1) {
        self.start = start
        self.end = end
        self.pitch = pitch
        self.velocity = velocity
        self.track = track
    }
}

/// How a piece's MIDI file is laid out, varied across the corpus so that readers meet every form MAPS has.
public struct MIDIStyle: Sendable, Equatable {
    /// SMF format 0 or 1.
    public var format: Int
    /// Whether channel messages share status bytes.
    public var runningStatus: Bool
    /// Whether key releases are written as note-on with velocity 0.
    public var velocityZeroNoteOff: Bool
    /// Whether a GM-reset sysex starts the file.
    public var sysex: Bool
}

/// One recording of the corpus before it is rendered: what is played, and how the MIDI file is written.
public struct Piece: Sendable {
    /// The MAPS stem.
    public var stem: String
    /// The folder below the corpus root, e.g. `FR3Grand/ISOL/NO`.
    public var folder: String
    /// The General MIDI program that plays it.
    public var program: Int
    /// Ticks per quarter note.
    public var division = 480
    /// Tempo changes (tick, microseconds per quarter); the first should be at tick 0.
    public var tempos: [(tick: Int, tempo: Int)] = [(0, 500_000)]
    /// The key presses.
    public var presses: [TickPress]
    /// Sustain pedal spans in ticks (down, up).
    public var pedal: [(down: Int, up: Int)] = []
    /// Silence kept after the last note ends, in seconds.
    public var tail = 0.6
    /// The file layout.
    public var style: MIDIStyle
    /// How far the instrument is tuned away from A440 while playing the piece, in cents (an
    /// augmentation: the labels stay the keys played). Not written into the piece's MIDI file.
    public var tuningCents = 0.0

    /// The Standard MIDI File of the piece, with the pedal on channel 0.
    ///
    /// At one tick, events are written as tempo and program, then pedal, then note-offs, then
    /// note-ons: a pedal pressed at the tick a key comes up catches it, as `SustainPedal` assumes.
    public var midiFile: MIDIFile {
        var conductor: [(Int, Int, MIDIEvent)] = [(0, 0, .meta(type: 0x03, data: Array(stem.utf8)))]
        if style.sysex { conductor.append((0, 0, .sysex(status: 0xF0, data: [0x7E, 0x7F, 0x09, 0x01, 0xF7]))) }
        for change in tempos { conductor.append((change.tick, 0, .tempo(microsecondsPerQuarter: change.tempo))) }
        var hands: [Int: [(Int, Int, MIDIEvent)]] = [1: [(0, 0, .programChange(channel: 0, program: UInt8(program)))]]
        for span in pedal {
            hands[1, default: []].append((span.down, 1, .controlChange(channel: 0, controller: 64, value: 127)))
            hands[1, default: []].append((span.up, 1, .controlChange(channel: 0, controller: 64, value: 0)))
        }
        for press in presses {
            let off: MIDIEvent = style.velocityZeroNoteOff
                ? .noteOn(channel: 0, key: UInt8(press.pitch), velocity: 0)
                : .noteOff(channel: 0, key: UInt8(press.pitch), velocity: 64)
            hands[press.track, default: []].append((press.end, 2, off))
            hands[press.track, default: []].append((press.start, 3, .noteOn(channel: 0, key: UInt8(press.pitch), velocity: UInt8(press.velocity))))
        }
        func track(_ events: [(Int, Int, MIDIEvent)]) -> MIDITrack {
            let ordered = events.enumerated().sorted { ($0.element.0, $0.element.1, $0.offset) < ($1.element.0, $1.element.1, $1.offset) }
            return MIDITrack(events: ordered.map { TimedEvent(tick: $0.element.0, $0.element.2) })
        }
        let handTracks = hands.keys.sorted().map { hands[$0]! }
        if style.format == 0 {
            return MIDIFile(format: 0, division: .ticksPerQuarter(division), tracks: [track(conductor + handTracks.flatMap { $0 })])
        }
        return MIDIFile(format: 1, division: .ticksPerQuarter(division), tracks: [track(conductor)] + handTracks.map(track))
    }

    /// The ground truth: the sounding notes in seconds, sustain pedal applied, as a MAPS txt lists them.
    public var notes: [Note] {
        let file = midiFile
        let tempo = TempoMap(file)
        let presses = self.presses.map {
            KeyPress(onset: tempo.seconds(atTick: $0.start), release: tempo.seconds(atTick: $0.end), pitch: $0.pitch, velocity: $0.velocity)
        }
        let spans = pedal.map { PedalSpan(down: tempo.seconds(atTick: $0.down), up: tempo.seconds(atTick: $0.up)) }
        return SustainPedal.apply(presses, pedal: spans)
    }

    /// The recording's length in seconds: the last note or pedal event, plus the tail.
    public var duration: Double {
        let tempo = TempoMap(midiFile)
        let lastTick = (presses.map(\.end) + pedal.map(\.up)).max() ?? 0
        return max(tempo.seconds(atTick: lastTick), notes.map(\.offset).max() ?? 0) + tail
    }
}
