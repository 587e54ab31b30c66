/// What a MIDI file says was played: key presses, sustain-pedal spans and the file's length, in seconds.
public struct MIDIPerformance: Sendable {
    /// Every key press, from note-on to the matching note-off.
    public var presses: [KeyPress]
    /// Every span during which the sustain pedal was down.
    public var pedal: [PedalSpan]
    /// The time of the last event (usually the end-of-track), in seconds.
    public var end: Double

    /// Reads the performance out of a parsed file.
    ///
    /// Tracks are merged by tick (ties keep track order, then file order). A note-on for a key
    /// that is already down ends the earlier press there (a re-strike); a note-off (or note-on
    /// with velocity 0) ends the press of its key and channel and is ignored if none is open.
    /// Presses and pedal spans still open at the end close at the last event.
    public init(_ file: MIDIFile) {
        let tempo = TempoMap(file)
        var merged: [(tick: Int, track: Int, index: Int, event: MIDIEvent)] = []
        for (t, track) in file.tracks.enumerated() {
            for (i, timed) in track.events.enumerated() { merged.append((timed.tick, t, i, timed.event)) }
        }
        merged.sort { ($0.tick, $0.track, $0.index) < ($1.tick, $1.track, $1.index) }

        var open: [Int: (onset: Double, velocity: Int)] = [:]  // key: channel * 128 + pitch
        var pedalDown: [Int: Double] = [:]
        var presses: [KeyPress] = []
        var pedal: [PedalSpan] = []
        func close(_ key: Int, at time: Double) {
            if let start = open.removeValue(forKey: key) {
                presses.append(KeyPress(onset: start.onset, release: time, pitch: key % 128, velocity: start.velocity, channel: key / 128))
            }
        }
        for item in merged {
            let time = tempo.seconds(atTick: item.tick)
            switch item.event {
            case let .noteOn(channel, pitch, velocity):
                let key = Int(channel) * 128 + Int(pitch)
                close(key, at: time)
                open[key] = (time, Int(velocity))
            case let .noteOff(channel, pitch, _):
                close(Int(channel) * 128 + Int(pitch), at: time)
            case let .controlChange(channel, MIDIEvent.sustainController, value):
                let ch = Int(channel)
                if value >= 64 {
                    if pedalDown[ch] == nil { pedalDown[ch] = time }
                } else if let down = pedalDown.removeValue(forKey: ch) {
                    pedal.append(PedalSpan(down: down, up: time, channel: ch))
                }
            default:
                break
            }
        }
        let end = merged.last.map { tempo.seconds(atTick: $0.tick) } ?? 0
        for key in open.keys.sorted() { close(key, at: end) }
        for (channel, down) in pedalDown.sorted(by: { $0.key < $1.key }) { pedal.append(PedalSpan(down: down, up: end, channel: channel)) }
        self.presses = presses.sorted { ($0.onset, $0.pitch) < ($1.onset, $1.pitch) }
        self.pedal = pedal
        self.end = end
    }

    /// The sounding notes: with `sustain`, the pedal lengthens notes as in MAPS's txt files; without, note-offs are final.
    public func notes(sustain: Bool) -> [Note] {
        if sustain { return SustainPedal.apply(presses, pedal: pedal) }
        return presses.map { Note(onset: $0.onset, offset: $0.release, pitch: $0.pitch, velocity: $0.velocity) }.sorted(by: Note.byOnset)
    }
}
