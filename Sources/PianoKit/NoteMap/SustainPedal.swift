/// A key held down from `onset` to `release`: a note before the sustain pedal is taken into account.
public struct KeyPress: Sendable, Equatable {
    /// When the key goes down (seconds).
    public var onset: Double
    /// When the key comes up (seconds).
    public var release: Double
    /// MIDI note number.
    public var pitch: Int
    /// MIDI velocity.
    public var velocity: Int
    /// MIDI channel; the pedal acts on its own channel only.
    public var channel: Int

    /// Creates a key press.
    public init(onset: Double, release: Double, pitch: Int, velocity: Int, channel: Int = 0) {
        self.onset = onset
        self.release = release
        self.pitch = pitch
        self.velocity = velocity
        self.channel = channel
    }
}

/// A time span during which the sustain pedal (controller 64 >= 64) is down on one channel.
public struct PedalSpan: Sendable, Equatable {
    /// When the pedal goes down (seconds).
    public var down: Double
    /// When it comes up (seconds).
    public var up: Double
    /// MIDI channel.
    public var channel: Int

    /// Creates a pedal span.
    public init(down: Double, up: Double, channel: Int = 0) {
        self.down = down
        self.up = up
        self.channel = channel
    }
}

/// Turns key presses into sounding notes the way MAPS's txt files count them.
///
/// A key released while the pedal is down (down <= release < up) keeps sounding until the pedal
/// comes up. A sustained note ends early if the same key on the same channel is struck again,
/// since the new stroke replaces the old sound.
public enum SustainPedal {
    /// The sounding notes for `presses` under `pedal`, sorted by onset.
    public static func apply(_ presses: [KeyPress], pedal: [PedalSpan]) -> [Note] {
        var pedalByChannel: [Int: [PedalSpan]] = [:]
        for span in pedal { pedalByChannel[span.channel, default: []].append(span) }
        var nextOnset: [Int: Double] = [:]  // key: channel * 128 + pitch
        let order = presses.indices.sorted { (presses[$0].onset, $0) > (presses[$1].onset, $1) }
        var notes = [Note?](repeating: nil, count: presses.count)
        for index in order {  // latest first, so that the next stroke of each key is known
            let press = presses[index]
            var offset = press.release
            if let span = pedalByChannel[press.channel]?.first(where: { $0.down <= press.release && press.release < $0.up }) {
                offset = span.up
            }
            let key = press.channel * 128 + press.pitch
            if let next = nextOnset[key], next < offset { offset = max(next, press.onset) }
            nextOnset[key] = press.onset
            notes[index] = Note(onset: press.onset, offset: offset, pitch: press.pitch, velocity: press.velocity)
        }
        return notes.compactMap { $0 }.sorted(by: Note.byOnset)
    }
}
