import ArgumentParser
import Foundation
import PianoKit
import StageOptions

@main
struct Infer: ParsableCommand {
    static func main() { stageMain(usesBLAS: true) }

    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Transcribe piano recordings with a trained model: MIDI, note list, piano roll and metrics.",
        discussion: """
        For each recording (any format libsndfile reads: wav, flac, aiff, ogg/vorbis/opus, mp3; \
        any channel count, averaged to mono; any sample rate, resampled with libsoxr to the \
        model's with a note on stderr): computes the spectrogram and one thumbnail per step with the same code as `spectro` (JPEG round trip \
        included, so the network sees the pixels it was trained on), runs the network in batches \
        and turns its outputs into notes. Writes <stem>.mid, <stem>.txt (MAPS note list) and \
        <stem>.roll.svg (the estimate over the reference) into the output folder; when a \
        reference is known (--reference, or <stem>.txt / <stem>.mid beside the wav) also \
        <stem>.metrics.json (step accuracy, mir_eval note and frame metrics; Schemas/metrics.md) \
        and summary.json, and prints a table. Up-to-date outputs are kept unless --force.
        """,
        version: toolkitVersion,
        subcommands: [Transcribe.self, Score.self],
        defaultSubcommand: Transcribe.self)
}

extension Infer {
    struct Transcribe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transcribe",
            abstract: "Transcribe recordings (the default: `infer audio.wav... [-o out] [--model model.safetensors]`).",
            discussion: """
            Without --model, the bundled model (docs/model-card.md) transcribes. The older form \
            `infer model.safetensors audio.wav... -o out` still works: a first argument ending in \
            .safetensors is the model.
            """)

        @Argument(help: "Audio files (wav, flac, aiff, ogg, opus, mp3, ...), or folders searched recursively for .wav, .flac, .aiff, .aif, .ogg, .oga, .opus and .mp3 (a MAPS tree works); of one stem in two formats in a folder the first in that order is used, with a warning. A first argument ending in .safetensors is the model (the older form).")
        var inputs: [String]

        @Option(help: "The model written by train (default: the bundled model).")
        var model: String?

        @Option(name: .shortAndLong, help: "Folder for the outputs.")
        var output = "."

        @Option(help: "Reference notes (MAPS .txt or .mid) for a single recording; by default <stem>.txt or <stem>.mid beside each wav.")
        var reference: String?

        @Flag(help: "Do not look for references beside the wavs (no metrics).")
        var noReference = false

        @Option(help: "Single-label: a step's class needs this probability, else silence (default 0). Frame head: a key sounds at this probability (default 0.8, or 0.2 with an onset head).")
        var threshold: Float?

        @Option(help: "Onset head: an onset peak at or above this probability starts a note (default \(NoteDecoder.defaultOnsetThreshold)).")
        var onsetThreshold: Float?

        @Option(help: "Onset head: each note's end moves back to its last step whose frame probability reaches this (default \(NoteDecoder.defaultEndThreshold); the frame threshold itself for no move).")
        var endThreshold: Float?

        @Option(help: "Offset head: an offset peak at or above this probability ends a note (default 0.5).")
        var offsetThreshold: Float?

        @Option(help: "Offset head: a note whose frame probability has fallen below the threshold waits this many milliseconds for an offset peak to end it there (default 0: offsets only end notes early).")
        var offsetHoldMs: Double?

        @Option(help: "Notes shorter than this many milliseconds are dropped.")
        var minNoteMs = 50.0

        @Option(help: "Single-label: steps in the majority vote that smooths the class sequence (1 = none).")
        var smooth = 3

        @Option(help: "Frame head: a note holds across runs of at most this many steps below the frame threshold (0 = none; default \(NoteDecoder.defaultGapSteps), or \(NoteDecoder.onsetGatedGapSteps) with an onset head).")
        var gapSteps: Int?

        @Option(help: "Frame head without an onset head: a rise of this many dB at a key's fundamental inside a sounding run starts a new note (0 = off).")
        var onsetRiseDb = 6.0

        @Option(help: "Frame head without an onset head: each note's onset moves to the steepest rise at its fundamental within this many milliseconds (0 = off).")
        var onsetSnapMs = 100.0

        @Option(help: "Thumbnails per network batch.")
        var batch = 256

        @Option(help: "How the network meets a recording: sliding (the whole recording at once, several times faster, without the JPEG round trip; for models whose spec allows it, e.g. the bundled one), thumbnails (one JPEG round-tripped thumbnail per step, exactly what the network was trained on), or auto (sliding where allowed).")
        var evaluation = InferenceMode.auto

        @OptionGroup var jobsOption: JobsOption

        @Flag(help: "Also write <stem>.thumbnails.npy (uint8 steps x size x size: the network's input pixels) and <stem>.outputs.npy (float32 steps x outputs: its probabilities).")
        var saveArrays = false

        @Flag(help: "Also read the paper's single label of every step (the key held, or silence) through the model's temporal stage (train-stage adds one; the bundled model has one): writes <stem>.steps.txt, <stem>.stage.npy with --save-arrays (float32 steps x 88: the probability each key is held), and the single-label step accuracy with a reference.")
        var singleLabel = false

        @OptionGroup var forceOption: ForceOption

        func validate() throws {
            guard batch > 0, smooth > 0, (gapSteps ?? 0) >= 0, minNoteMs >= 0, onsetRiseDb >= 0, onsetSnapMs >= 0 else {
                throw ValidationError("--batch and --smooth must be positive; --gap-steps, --min-note-ms, --onset-rise-db and --onset-snap-ms not negative")
            }
            if let threshold, !(0 ... 1).contains(threshold) { throw ValidationError("--threshold must be in 0...1") }
            if let onsetThreshold, !(0 ... 1).contains(onsetThreshold) { throw ValidationError("--onset-threshold must be in 0...1") }
            if let offsetThreshold, !(0 ... 1).contains(offsetThreshold) { throw ValidationError("--offset-threshold must be in 0...1") }
            if let endThreshold, !(0 ... 1).contains(endThreshold) { throw ValidationError("--end-threshold must be in 0...1") }
            if let offsetHoldMs, offsetHoldMs < 0 { throw ValidationError("--offset-hold-ms must not be negative") }
            guard !audio.isEmpty else { throw ValidationError("no audio given") }
            if reference != nil, audio.count != 1 { throw ValidationError("--reference goes with exactly one audio file") }
            if reference != nil, noReference { throw ValidationError("--reference and --no-reference exclude each other") }
        }

        /// The model and the audio: `--model`, else a first input ending in .safetensors (the older form), else the bundled model.
        var modelAndAudio: (model: String?, audio: [String]) {
            if let model { return (model, inputs) }
            if let first = inputs.first, ModelFile.isModelName(first) { return (first, Array(inputs.dropFirst())) }
            return (nil, inputs)
        }

        /// Refuses a model among the audio (`infer song.wav model.safetensors`: the two swapped).
        func checkNoModelAmongAudio() throws {
            guard let misplaced = audio.first(where: ModelFile.isModelName) else { return }
            let hint = model == nil ? "put the model first or give it with --model" : "give one model, with --model"
            throw StageFailure("\(misplaced): a model among the audio inputs: did you swap the model and the audio? (\(hint))")
        }

        var audio: [String] { modelAndAudio.audio }

        func run() throws {
            try checkNoModelAmongAudio()
            let model = try modelAndAudio.model ?? BundledModel.path()
            let transcriber = try Transcriber(modelPath: model)
            var options = InferOptions(heads: transcriber.network.heads.map(\.kind))
            if let threshold { options.decoder.threshold = threshold }
            if let onsetThreshold { options.decoder.onsetThreshold = onsetThreshold }
            if let offsetThreshold { options.decoder.offsetThreshold = offsetThreshold }
            if let endThreshold { options.decoder.endThreshold = endThreshold }
            if let offsetHoldMs { options.decoder.offsetHoldSeconds = offsetHoldMs / 1000 }
            options.decoder.minNoteSeconds = minNoteMs / 1000
            options.decoder.smoothing = smooth
            if let gapSteps { options.decoder.gapSteps = gapSteps }
            options.decoder.onsetRise = onsetRiseDb
            options.decoder.onsetSnapSeconds = onsetSnapMs / 1000
            options.batch = batch
            options.evaluation = evaluation
            if let reason = transcriber.refusal(evaluation) { throw FileError(model, "--evaluation sliding: \(reason)") }
            options.saveArrays = saveArrays
            if singleLabel, transcriber.stage == nil {
                throw FileError(model, "--single-label: the model has no temporal stage (add one with train-stage)")
            }
            options.singleLabel = singleLabel
            let found = InferRun.items(audio, reference: reference, findReferences: !noReference)
            if found.items.isEmpty {
                for problem in found.problems { printError("error: \(problem)") }
                throw StageFailure("no audio to transcribe")
            }
            let run = InferRun(outputDirectory: output, options: options, force: forceOption.force, threads: jobsOption.jobs)
            let (summary, metrics) = try run.run(found.items, transcriber: transcriber, problems: found.problems, warnings: found.warnings)
            if !metrics.isEmpty {
                print(InferSummary(model: model, files: metrics).table, terminator: "")
            }
            guard summary.made + summary.upToDate > 0 else { throw ExitCode(1) }
            print("outputs in \(output): <stem>.mid, <stem>.txt, <stem>.roll.svg" + (singleLabel ? ", <stem>.steps.txt" : "")
                  + (metrics.isEmpty ? "" : ", <stem>.metrics.json, \(InferRun.summaryName)"))
            if !summary.failures.isEmpty { throw ExitCode(1) }
        }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score an estimated note list against a reference (mir_eval note and frame metrics).")

        @Argument(help: "The estimate: a MAPS .txt or a .mid.")
        var estimate: String

        @Argument(help: "The reference: a MAPS .txt or a .mid.")
        var reference: String

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            let estimated = try NoteFiles.read(path: estimate), referenced = try NoteFiles.read(path: reference)
            let report = ScoreReport(estimate: estimate, reference: reference, estimated: estimated, referenced: referenced)
            if json {
                print(String(decoding: try report.encoded(), as: UTF8.self), terminator: "")
            } else {
                print(report.table, terminator: "")
            }
        }
    }
}

extension InferenceMode: ExpressibleByArgument {}
