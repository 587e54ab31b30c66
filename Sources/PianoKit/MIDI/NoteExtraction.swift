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
    /// Key state is kept per channel and key, whichever track an event is in: a channel is one
    /// instrument, and a key sounds once on it. Tracks are merged by tick; at equal ticks every
    /// key release (note-off, or note-on with velocity 0) of every track comes before every
    /// strike (note-on with velocity > 0), and otherwise track order, then file order, holds. So a
    /// key released by one track (one hand) at the tick another track strikes it again ends the
    /// old press and starts a new one, whatever the order of the tracks or of the events in a
    /// track. A release never ends a press struck at its own tick, with one exception: a track
    /// that strikes a key and then, later in the same track at the same tick, releases it while
    /// no earlier press of the key was open wrote a zero-length note, and gets one.
    ///
    /// A note-on for a key that is already down ends the earlier press there (a re-strike),
    /// except at the tick that press began: a second strike at the same tick (two tracks doubling
    /// a key) is the same stroke and is ignored. A note-off ends the press of its key and channel
    /// and is ignored if none is open. Presses and pedal spans still open at the end close at the
    /// last event. Times are seconds from the tempo map.
    public init(_ file: MIDIFile) {
        let tempo = TempoMap(file)
        var merged: [(tick: Int, strike: Bool, track: Int, index: Int, event: MIDIEvent)] = []
        for (t, track) in file.tracks.enumerated() {
            for (i, timed) in track.events.enumerated() {
                var strike = false
                if case let .noteOn(_, _, velocity) = timed.event, velocity > 0 { strike = true }
                merged.append((timed.tick, strike, t, i, timed.event))
            }
        }
        // Releases (and everything but strikes) before strikes at one tick; then track, then file order.
        merged.sort { ($0.tick, $0.strike ? 1 : 0, $0.track, $0.index) < ($1.tick, $1.strike ? 1 : 0, $1.track, $1.index) }

        var open: [Int: (onset: Double, tick: Int, track: Int, index: Int, velocity: Int)] = [:]  // key: channel * 128 + pitch
        var pedalDown: [Int: Double] = [:]
        var presses: [KeyPress] = []
        var pedal: [PedalSpan] = []
        func close(_ key: Int, at time: Double) {
            if let start = open.removeValue(forKey: key) {
                presses.append(KeyPress(onset: start.onset, release: time, pitch: key % 128, velocity: start.velocity, channel: key / 128))
            }
        }
        // Releases at the current tick that found no press open: (key, track, index).
        var unmatched: [(key: Int, track: Int, index: Int)] = []
        var currentTick = merged.first?.tick ?? 0
        func finishTick() {
            // A track that wrote a strike and then its release at one tick wrote a zero-length note.
            for release in unmatched {
                if let start = open[release.key], start.tick == currentTick, start.track == release.track, start.index < release.index {
                    close(release.key, at: start.onset)
                }
            }
            unmatched.removeAll()
        }
        for item in merged {
            if item.tick != currentTick {
                finishTick()
                currentTick = item.tick
            }
            let time = tempo.seconds(atTick: item.tick)
            switch item.event {
            case let .noteOn(channel, pitch, velocity) where velocity > 0:
                let key = Int(channel) * 128 + Int(pitch)
                if open[key]?.tick == item.tick { break }  // doubled at the tick it was struck: one stroke
                close(key, at: time)
                open[key] = (time, item.tick, item.track, item.index, Int(velocity))
            case let .noteOff(channel, pitch, _), let .noteOn(channel, pitch, _):  // velocity 0 is a release
                let key = Int(channel) * 128 + Int(pitch)
                if open[key] != nil { close(key, at: time) } else { unmatched.append((key, item.track, item.index)) }
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
        finishTick()
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
