import ArgumentParser
import Foundation
import PianoKit
import StageOptions

@main
struct Spectro: ParsableCommand {
    static func main() { stageMain() }

    static let configuration = CommandConfiguration(
        commandName: "spectro",
        abstract: "Turn note maps into per-step 32x32 spectrogram thumbnails (JPEG) with labels.",
        discussion: """
        For each note map, reads its audio (any format libsndfile reads: wav, flac, aiff, \
        ogg/vorbis/opus, mp3; channels averaged to mono; resampled with libsoxr to the note \
        map's sample rate, 44100 Hz by default, with a note on stderr when it is), computes a \
        constant-Q (or STFT) spectrogram on the note map's time grid, maps it to levels (dB below the \
        recording's peak, 80 dB range) and writes <output>/<stem>/: one grayscale JPEG per step \
        (<step>.jpg, the spectrogram around the step area-averaged to --size), \
        labels.tsv (step, time, file, class label, sounding keys), preview.jpg (the whole track) \
        and thumbs.json (every parameter). See Schemas/thumbs.md.

        A bad note map or audio file is reported and skipped; the exit code is 1 if any failed. \
        Folders newer than their inputs and made with the same settings are skipped unless \
        --force is given; a folder appears only once it is complete.
        """,
        version: toolkitVersion)

    @Argument(help: "Note maps, or folders of them (searched recursively).")
    var inputs: [String]

    @Option(help: "Time-frequency transform: cqt or stft.")
    var transform = TransformKind.cqt

    @Option(help: "CQT bins per octave (12, 24, 36, ...); the STFT keeps the same frequency range.")
    var binsPerOctave = 36

    @Option(help: ArgumentHelp("Thumbnail size: ROWSxCOLS (rows follow frequency, e.g. 88x16 for one row per key at 36 bins per octave, 264x16 for one per bin; columns follow time), or one number for a square.", valueName: "size"))
    var size = String(ThumbnailGeometry.defaultSize)

    @Option(help: "Spectrogram frames in each thumbnail, centred on its step.")
    var context = ThumbnailGeometry.defaultContext

    @Option(help: "JPEG quality, 1-100.")
    var quality = 90

    @Option(help: "Write a thumbnail for every Nth step only.")
    var every = 1

    @Flag(help: "Also write the raw magnitudes as spectrogram.npy (float32, frames x bins).")
    var saveSpectrogram = false

    @OptionGroup var batch: BatchOptions

    func validate() throws {
        guard binsPerOctave > 0, binsPerOctave % 12 == 0, binsPerOctave <= FrontEnd.maximumBinsPerOctave else {
            throw ValidationError("--bins-per-octave must be a multiple of 12 in 12...\(FrontEnd.maximumBinsPerOctave)")
        }
        guard let geometry = ThumbnailGeometry(parsing: size), (1 ... FrontEnd.maximumSize).contains(geometry.rows), (1 ... FrontEnd.maximumSize).contains(geometry.columns) else {
            throw ValidationError("--size must be ROWSxCOLS or one number, each side 1...\(FrontEnd.maximumSize)")
        }
        guard (1 ... FrontEnd.maximumContext).contains(context) else { throw ValidationError("--context must be 1...\(FrontEnd.maximumContext)") }
        guard (1 ... 100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
        guard every > 0 else { throw ValidationError("--every must be positive") }
    }

    func run() throws {
        var options = SpectroOptions()
        options.transform = transform.rawValue
        options.binsPerOctave = binsPerOctave
        options.geometry = ThumbnailGeometry(parsing: size, context: context)!
        options.quality = quality
        options.every = every
        options.saveSpectrogram = saveSpectrogram
        let summary = try SpectroRun(outputDirectory: batch.output, options: options, force: batch.force, jobs: batch.jobs).run(inputs)
        if summary.total == 0 && summary.failures.isEmpty { throw StageFailure("no note maps found in \(inputs.joined(separator: " "))") }
        if !summary.failures.isEmpty { throw ExitCode(1) }
    }
}
