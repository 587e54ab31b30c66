import ArgumentParser
import Foundation
import PianoKit
import StageOptions

@main
struct Ingest: ParsableCommand {
    static func main() { stageMain() }

    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Turn recordings (NAME.wav, .flac, .ogg, .mp3, ... + NAME.mid and/or NAME.txt) into note maps.",
        discussion: """
        Finds recordings under the given folders (recursively) and files, pairs audio with \
        .mid/.txt by stem, and writes <output>/<stem>.notemap.json for each, plus \
        <output>/index.json listing every note map in the folder. Audio is anything libsndfile \
        reads, found by extension: .wav, .flac, .aiff/.aif, .ogg/.oga/.opus (Vorbis, Opus), .mp3; \
        any sample rate, any channel count. If a folder holds one stem in two audio formats, \
        the first in that order is used and the other named in a warning. Note maps hold the \
        notes, the audio's header and the per-step labels on the time grid at --sample-rate \
        (step k at k*hop/sample-rate seconds; spectro resamples the audio to that rate); see \
        Schemas/notemap.md.

        A bad recording is reported on stderr and skipped; the others finish, and the exit code \
        is 1 if any failed. Outputs that are newer than their inputs and made with the same \
        settings are skipped unless --force is given.
        """,
        version: toolkitVersion)

    @Argument(help: "MAPS folders or recording files.")
    var inputs: [String]

    @Option(help: "Samples between time steps (the pipeline's hop), at --sample-rate.")
    var hop = 512

    @Option(help: "The time grid's sample rate in Hz, the front end's: audio at another rate is resampled to it by spectro.")
    var sampleRate = 44100

    @Option(help: "Take notes from 'mid', 'txt', or 'auto' (MIDI when present, since it has velocities).")
    var notesFrom: NotesSource = .auto

    @Flag(inversion: .prefixedNo, help: "Lengthen MIDI note ends by the sustain pedal (CC64), as MAPS's txt files do.")
    var pedal = true

    @Option(help: "Cross-check: largest onset difference in milliseconds for a txt and a MIDI note to match.")
    var onsetToleranceMs = 10.0

    @Option(help: "Cross-check: largest offset difference in milliseconds before a matched note is reported.")
    var offsetToleranceMs = 10.0

    @Option(help: ArgumentHelp("The older spelling of --onset-tolerance-ms, in seconds.", visibility: .hidden))
    var onsetTolerance: Double?

    @Option(help: ArgumentHelp("The older spelling of --offset-tolerance-ms, in seconds.", visibility: .hidden))
    var offsetTolerance: Double?

    var onsetSeconds: Double { onsetTolerance ?? onsetToleranceMs / 1000 }
    var offsetSeconds: Double { offsetTolerance ?? offsetToleranceMs / 1000 }

    @Flag(help: "Fail a recording whose txt and MIDI disagree, or whose MIDI file has system messages inside a track or running status across a meta event, instead of warning.")
    var strict = false

    @OptionGroup var batch: BatchOptions

    func validate() throws {
        guard hop > 0 else { throw ValidationError("--hop must be positive") }
        guard (8000 ... 768_000).contains(sampleRate) else { throw ValidationError("--sample-rate must be 8000 to 768000 Hz") }
        guard onsetSeconds >= 0, offsetSeconds >= 0 else { throw ValidationError("tolerances must not be negative") }
    }

    func run() throws {
        var options = IngestOptions()
        options.hop = hop
        options.sampleRate = sampleRate
        options.sustainPedal = pedal
        options.notesFrom = notesFrom
        options.onsetTolerance = onsetSeconds
        options.offsetTolerance = offsetSeconds
        options.strict = strict
        let summary = try IngestRun(outputDirectory: batch.output, options: options, force: batch.force, jobs: batch.jobs).run(inputs)
        if summary.total == 0 && summary.failures.isEmpty {
            throw StageFailure("no recordings found in \(inputs.joined(separator: " "))")
        }
        if !summary.failures.isEmpty { throw ExitCode(1) }
    }
}

extension NotesSource: ExpressibleByArgument {}
