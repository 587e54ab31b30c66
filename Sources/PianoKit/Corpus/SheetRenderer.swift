import Foundation

/// Turns pieces into audio: interleaved stereo float samples at `sampleRate`, one array per piece,
/// sample 0 at the piece's time 0.
public protocol PieceRenderer: Sendable {
    /// Output sample rate in Hz.
    var sampleRate: Int { get }
    /// What renders, for the corpus manifest (a program's version line).
    func version() -> String
    /// Renders `pieces` (all of one instrument) in order.
    func render(_ pieces: [Piece], workDirectory: String) throws -> [[Float]]
}

/// Renders pieces with an external MIDI synthesiser: fluidsynth with a SoundFont, or timidity
/// with a GUS patch set.
///
/// Starting the program costs far more than rendering a short note, so pieces are laid end to end
/// in one "sheet" MIDI file with silent gaps, rendered in one run, and cut apart at exact sample
/// positions. Reverb and chorus are off (fluidsynth's reverb is modulated by a free-running
/// oscillator, so a piece would sound different at another place on the sheet), and the gap lets
/// note releases die away. The same command therefore gives byte-identical files; a piece rendered
/// on another sheet (a resumed run, a subset of categories) can differ by one 64-sample block in
/// the timing of a few notes, from fluidsynth's floating-point player clock. timidity is run with
/// `--preserve-silence` (it drops leading silence otherwise) and writes 24-bit samples.
public struct SheetRenderer: PieceRenderer {
    /// The external synthesiser.
    public enum Engine: Sendable {
        /// fluidsynth playing a SoundFont file.
        case fluidsynth(soundFont: String)
        /// timidity with a configuration file of GUS patches.
        case timidity(config: String)
    }

    /// What plays.
    public var engine: Engine
    /// The program's executable.
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

    /// Creates a renderer; fails if the program or its sound file cannot be found.
    public init(engine: Engine, executable: String? = nil) throws {
        let (file, voice): (String, Voice) = switch engine {
        case .fluidsynth(let soundFont): (soundFont, .fluidsynth)
        case .timidity(let config): (config, .timidity)
        }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw FileError(file, "\(voice.sourceKind) not found")
        }
        let program = voice.rawValue
        guard let found = executable ?? Self.which(program) else {
            throw StageFailure("\(program) not found on PATH (Debian: apt-get install \(program))")
        }
        self.engine = engine
        self.executable = found
    }

    /// A renderer for `instrument` (fluidsynth or timidity voices).
    public init(instrument: Instrument) throws {
        let path = try instrument.sourcePath()
        switch instrument.voice {
        case .fluidsynth: try self.init(engine: .fluidsynth(soundFont: path))
        case .timidity: try self.init(engine: .timidity(config: path))
        case .synth: throw StageFailure("instrument \(instrument.code) is not played by an external synthesiser")
        }
    }

    /// The version line the program prints.
    public func version() -> String {
        let output = (try? Self.capture(executable, ["--version"])) ?? ""
        return output.split(separator: "\n").first.map(String.init) ?? "unknown"
    }

    /// Renders `pieces` in one run of the program and returns each one's interleaved stereo samples, in order.
    public func render(_ pieces: [Piece], workDirectory: String) throws -> [[Float]] {
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
        let arguments = switch engine {
        case .fluidsynth(let soundFont):
            ["-n", "-i", "-q", "-C", "0", "-R", "0", "-g", String(gain), "-r", String(sampleRate),
             "-O", "float", "-T", "wav", "-F", wavPath, soundFont, midiPath]
        case .timidity(let config):
            ["-c", config, "-Ow", "--output-24bit", "--output-stereo", "--preserve-silence", "-s", String(sampleRate),
             "-EFreverb=d", "-EFchorus=d", "-A", "100", "-o", wavPath, midiPath]
        }
        _ = try Self.capture(executable, arguments)
        let reader = try SoundFileReader(path: wavPath)
        guard reader.info.sampleRate == sampleRate, reader.info.channels == 2 else {
            throw FileError(wavPath, "\(executable) wrote \(reader.info.channels) channels at \(reader.info.sampleRate) Hz")
        }
        var result: [[Float]] = []
        for (piece, start) in zip(pieces, starts) {
            let first = Int((start * Double(sampleRate)).rounded())
            let count = Int((piece.duration * Double(sampleRate)).rounded())
            guard first + count <= reader.info.frames else {
                throw FileError(wavPath, "\(executable) stopped at frame \(reader.info.frames), before the end of \(piece.stem)")
            }
            try reader.seek(toFrame: first)
            result.append(reader.readFloat(frames: count))
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
            if piece.tuningCents != 0 {
                for event in fineTuning(cents: piece.tuningCents) {
                    order += 1
                    events.append((startTick, start, order, event))
                }
            }
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
            if piece.tuningCents != 0 {
                for (i, event) in fineTuning(cents: 0).enumerated() {
                    events.append((Int((release * sheetTicksPerSecond).rounded()), release, order + 2 + i, event))
                }
            }
        }
        events.sort { ($0.tick, $0.time, $0.order) < ($1.tick, $1.time, $1.order) }
        var timed = events.map { TimedEvent(tick: $0.tick, $0.event) }
        timed.append(TimedEvent(tick: Int((end * sheetTicksPerSecond).rounded()), .endOfTrack))
        return MIDIFile(format: 0, division: .ticksPerQuarter(1000), tracks: [MIDITrack(events: timed)])
    }

    /// Channel 0's fine tuning (registered parameter 1, +-100 cents over 14 bits, 0x2000 = in tune),
    /// then the null parameter so that later data entry changes nothing.
    static func fineTuning(cents: Double) -> [MIDIEvent] {
        let value = min(16383, max(0, Int((8192 + cents / 100 * 8192).rounded())))
        return [(101, 0), (100, 1), (6, value >> 7), (38, value & 127), (101, 127), (100, 127)].map {
            .controlChange(channel: 0, controller: UInt8($0.0), value: UInt8($0.1))
        }
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
