/// Converts between ticks and seconds for one MIDI file, following its tempo changes.
public struct TempoMap: Sendable {
    /// A stretch of constant tempo starting at `tick`, which falls at `seconds`.
    struct Segment: Sendable {
        var tick: Int
        var seconds: Double
        var secondsPerTick: Double
    }

    private let segments: [Segment]

    /// Builds the map from the file's division and the tempo events of all its tracks.
    ///
    /// Before the first tempo event the tempo is 120 BPM (500000 µs per quarter), as the spec says.
    /// With SMPTE division ticks are absolute time and tempo events are ignored.
    public init(_ file: MIDIFile) {
        switch file.division {
        case let .smpte(fps, ticksPerFrame):
            let framesPerSecond = fps == 29 ? 30000.0 / 1001.0 : Double(fps)
            segments = [Segment(tick: 0, seconds: 0, secondsPerTick: 1 / (framesPerSecond * Double(ticksPerFrame)))]
        case let .ticksPerQuarter(division):
            var changes: [(tick: Int, tempo: Int)] = []
            for track in file.tracks {
                for timed in track.events {
                    if case let .tempo(tempo) = timed.event { changes.append((timed.tick, tempo)) }
                }
            }
            changes.sort { $0.tick < $1.tick }  // stable: a later event at the same tick wins
            var result = [Segment(tick: 0, seconds: 0, secondsPerTick: 500_000e-6 / Double(division))]
            for change in changes {
                let last = result[result.count - 1]
                let seconds = last.seconds + Double(change.tick - last.tick) * last.secondsPerTick
                let segment = Segment(tick: change.tick, seconds: seconds, secondsPerTick: Double(change.tempo) * 1e-6 / Double(division))
                if last.tick == change.tick { result[result.count - 1] = segment } else { result.append(segment) }
            }
            segments = result
        }
    }

    /// The time in seconds of `tick`.
    public func seconds(atTick tick: Int) -> Double {
        let segment = self.segment(containing: tick)
        return segment.seconds + Double(tick - segment.tick) * segment.secondsPerTick
    }

    /// The tick nearest to `seconds` (the inverse of `seconds(atTick:)`, rounded).
    public func tick(atSeconds seconds: Double) -> Int {
        var index = segments.count - 1
        while index > 0 && segments[index].seconds > seconds { index -= 1 }
        let segment = segments[index]
        return segment.tick + Int(((seconds - segment.seconds) / segment.secondsPerTick).rounded())
    }

    private func segment(containing tick: Int) -> Segment {
        // Binary search for the last segment starting at or before `tick`.
        var low = 0, high = segments.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if segments[mid].tick <= tick { low = mid } else { high = mid - 1 }
        }
        return segments[low]
    }
}
