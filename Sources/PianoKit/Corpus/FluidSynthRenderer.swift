import Foundation

/// Renders pieces to audio with the fluidsynth command-line program and a SoundFont.
///
/// Starting fluidsynth costs far more than rendering a short note, so pieces are laid end to end
/// in one "sheet" MIDI file with silent gaps, rendered in one run as 32-bit float, and cut apart
/// at exact sample positions. Reverb and chorus are off (fluidsynth's reverb is modulated by a
/// free-running oscillator, so a piece would sound different at another place on the sheet), the
/// gap lets note releases die away, and the float output is rounded to 16 bits here without
/// dither. The same command therefore gives byte-identical files; a piece rendered on another
/// sheet (a resumed run, a subset of categories) can differ by one 64-sample block in the timing
/// of a few notes, from fluidsynth's floating-point player clock.
public struct FluidSynthRenderer: Sendable {
    /// The SoundFont file.
    public var soundFont: String
    /// The fluidsynth executable.
    public var executable: String
    /// Output sample rate.
    public var sampleRate = 44100
    /// Silence between pieces on a sheet, in seconds (at least).
    public var gap = 3.0
    /// fluidsynth's master gain.
    public var gain = 1.5

    /// The grid pieces start on, in seconds (see `render`); assumes the default 44.1 kHz.
    static let slot = 0.64

    /// Sheet ticks per second: division 1000 at 120 BPM.
    static let sheetTicksPerSecond = 2000.0

    /// Creates a renderer; fails if fluidsynth or the SoundFont cannot be found.
    public init(soundFont: String, executable: String? = nil) throws {
        guard FileManager.default.isReadableFile(atPath: soundFont) else {
            throw FileError(soundFont, "SoundFont not found (Debian: apt-get install fluid-soundfont-gm)")
        }
        guard let found = executable ?? Self.which("fluidsynth") else {
            throw StageFailure("fluidsynth not found on PATH (Debian: apt-get install fluidsynth)")
        }
        self.soundFont = soundFont
        self.executable = found
    }

    /// The version line fluidsynth prints.
    public func version() -> String {
        let output = (try? Self.capture(executable, ["--version"])) ?? ""
        return output.split(separator: "\n").first.map(String.init) ?? "unknown"
    }

    /// Renders `pieces` in one fluidsynth run and returns each one's interleaved stereo 16-bit samples, in order.
    public func render(_ pieces: [Piece], workDirectory: String) throws -> [[Int16]] {
        // Lay the pieces out on a 0.64 s grid: 28224 samples, a whole number of fluidsynth's
        // 64-sample blocks and of milliseconds (its player's clock), so every piece meets the
        // same block boundaries and sounds the same wherever it sits on the sheet.
        var starts: [Double] = []
        var cursor = Self.slot
        for piece in pieces {
            starts.append(cursor)
            cursor += ((piece.duration + gap) / Self.slot).rounded(.up) * Self.slot
        }
        let sheet = Self.sheet(pieces, starts: starts, end: cursor)
        let name = UUID().uuidString
        let midiPath = workDirectory + "/sheet-\(name).mid", wavPath = workDirectory + "/sheet-\(name).wav"
        defer {
            unlink(midiPath)
            unlink(wavPath)
        }
        guard FileManager.default.createFile(atPath: midiPath, contents: Data(MIDIWriter.encode(sheet))) else {
            throw FileError(midiPath, "cannot write render sheet")
        }
        let arguments = ["-n", "-i", "-q", "-C", "0", "-R", "0", "-g", String(gain), "-r", String(sampleRate),
                         "-O", "float", "-T", "wav", "-F", wavPath, soundFont, midiPath]
        _ = try Self.capture(executable, arguments)
        let reader = try SoundFileReader(path: wavPath)
        guard reader.info.sampleRate == sampleRate, reader.info.channels == 2 else {
            throw FileError(wavPath, "fluidsynth wrote \(reader.info.channels) channels at \(reader.info.sampleRate) Hz")
        }
        var result: [[Int16]] = []
        for (piece, start) in zip(pieces, starts) {
            let first = Int((start * Double(sampleRate)).rounded())
            let count = Int((piece.duration * Double(sampleRate)).rounded())
            guard first + count <= reader.info.frames else {
                throw FileError(wavPath, "fluidsynth stopped at frame \(reader.info.frames), before the end of \(piece.stem)")
            }
            try reader.seek(toFrame: first)
            result.append(WavWriter.quantize(reader.readFloat(frames: count)))
        }
        return result
    }

    /// One format-0 MIDI file holding every piece's channel events at its start time.
    static func sheet(_ pieces: [Piece], starts: [Double], end: Double) -> MIDIFile {
        var events: [(tick: Int, time: Double, order: Int, event: MIDIEvent)] = [(0, 0, 0, .tempo(microsecondsPerQuarter: 500_000))]
        for (piece, start) in zip(pieces, starts) {
            let file = piece.midiFile
            let tempo = TempoMap(file)
            let startTick = Int((start * sheetTicksPerSecond).rounded())
            var order = 0
            for track in file.tracks {
                for timed in track.events {
                    switch timed.event {
                    case .noteOn, .noteOff, .controlChange, .programChange:
                        // Round the offset within the piece, not the sheet time, so that the
                        // rounding does not depend on where the piece sits.
                        let offset = tempo.seconds(atTick: timed.tick)
                        order += 1
                        events.append((startTick + Int((offset * sheetTicksPerSecond).rounded()), start + offset, order, timed.event))
                    default: continue
                    }
                }
            }
            let release = start + piece.duration + 0.05  // make sure nothing is left held
            events.append((Int((release * sheetTicksPerSecond).rounded()), release, order + 1, .controlChange(channel: 0, controller: 64, value: 0)))
        }
        events.sort { ($0.tick, $0.time, $0.order) < ($1.tick, $1.time, $1.order) }
        var timed = events.map { TimedEvent(tick: $0.tick, $0.event) }
        timed.append(TimedEvent(tick: Int((end * sheetTicksPerSecond).rounded()), .endOfTrack))
        return MIDIFile(format: 0, division: .ticksPerQuarter(1000), tracks: [MIDITrack(events: timed)])
    }

    /// Finds an executable on PATH.
    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a program, returning its stdout; a non-zero exit is an error carrying its stderr.
    static func capture(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain stderr on another thread while stdout is read here, so a chatty child cannot block on a full pipe.
        let errData = ErrorOutput()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errData.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw StageFailure("\(executable) exited with status \(process.terminationStatus): \(message.prefix(300))")
        }
        return String(decoding: outData, as: UTF8.self)
    }
}

/// Holds what a child process wrote on stderr, filled by the thread that drains the pipe.
private final class ErrorOutput: @unchecked Sendable {
    var data = Data()
}
