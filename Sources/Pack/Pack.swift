import ArgumentParser
import Foundation
import PianoKit
import StageOptions

@main
struct Pack: ParsableCommand {
    static func main() { stageMain() }

    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack thumbnail folders into one checksummed train/valid/test archive that numpy.load opens.",
        discussion: """
        The archive is a zip of .npy arrays (per split: <split>_images uint8 N x S x S, \
        <split>_labels uint8 N (class 0-127, 0 = no note), <split>_notes uint8 N x 88 multi-hot \
        over MIDI 21-108, <split>_source int32 N x 2 (recording id, step)) and manifest.json \
        (every parameter, the recordings of each split, counts, class histograms, a SHA-256 per \
        member). See Schemas/archive.md. The same inputs and seed give the same bytes.
        """,
        version: toolkitVersion,
        subcommands: [Create.self, Info.self, Verify.self],
        defaultSubcommand: Create.self)
}

extension Pack {
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Pack thumbnail folders (the default: `pack <thumbs-dir...> -o data.npz`).")

        @Argument(help: "Thumbnail folders: each a recording's folder, or a folder holding them.")
        var inputs: [String]

        @OptionGroup var outputOption: OutputOption

        @Option(help: "Train:valid:test proportions.")
        var split = "8:1:1"

        @Option(help: "recording (no recording in two splits) or step (the paper's split over images; it leaks).")
        var splitBy = SplitBy.recording

        @Option(help: "Comma-separated instruments whose recordings form the test split (MAPS-style); the proportions split the rest into train and valid.")
        var testInstruments: String?

        @Option(help: "Shuffling seed.")
        var seed: UInt64 = 1

        @Option(help: "Each split is written as runs of up to this many consecutive steps of one recording, the runs in a seeded random order over the split (1: every example shuffled on its own; larger runs compress better).")
        var shuffleBlock = PackOptions().shuffleBlock

        @Option(help: "Write numbered shards of at most this many examples, each a complete archive.")
        var shardSize: Int?

        @Option(help: "zlib compression level, 1-9.")
        var level = 6

        @OptionGroup var jobsOption: JobsOption

        @Flag(help: "Fail the whole run, writing nothing, on any bad thumbnail folder (by default it is reported, left out and named in the manifest's leftOut, and pack exits 1).")
        var strict = false

        @Flag(help: "Write the archive even when a split that --split gives a share comes out empty (e.g. valid and test from two recordings split by recording); by default that is an error.")
        var allowEmptySplits = false

        @Flag(help: "Also write offset targets (<split>_offsets uint8 N x 88: the keys whose note ended just before the step), for a network with an offset head. Needs label indexes with onsets.")
        var offsets = false

        @Flag(help: .hidden)
        var forceZip64 = false

        var ratios: [Int] { split.split(separator: ":").compactMap { Int($0) } }

        func validate() throws {
            guard ratios.count == 3, ratios.allSatisfy({ $0 >= 0 }), ratios.reduce(0, +) > 0, split.split(separator: ":").count == 3 else {
                throw ValidationError("--split must be three non-negative numbers like 8:1:1")
            }
            guard testInstruments == nil || splitBy == .recording else { throw ValidationError("--test-instruments splits by recording") }
            guard shardSize.map({ $0 > 0 }) ?? true else { throw ValidationError("--shard-size must be positive") }
            guard shuffleBlock > 0 else { throw ValidationError("--shuffle-block must be positive") }
            guard (1 ... 9).contains(level) else { throw ValidationError("--level must be 1-9") }
        }

        func run() throws {
            var options = PackOptions()
            options.ratios = ratios
            options.splitBy = splitBy.rawValue
            options.testInstruments = testInstruments?.split(separator: ",").map(String.init) ?? []
            options.seed = seed
            options.shuffleBlock = shuffleBlock
            options.shardSize = shardSize
            options.level = Int32(level)
            options.threads = jobsOption.jobs
            options.forceZip64 = forceZip64
            options.strict = strict
            options.allowEmptySplits = allowEmptySplits
            options.offsets = offsets
            let (summary, _) = try PackRun(output: outputOption.output, options: options).run(inputs)
            if !summary.failures.isEmpty { throw ExitCode(1) }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an archive's counts, parameters and class histogram.")

        @Argument(help: "An archive written by pack.")
        var archive: String

        func run() throws {
            let manifest = try ArchiveReader(path: archive).manifest
            let t = manifest.frontEnd.transform, g = manifest.frontEnd.geometry
            print("\(archive): \(manifest.format) v\(manifest.version), shard \(manifest.shard.index + 1) of \(manifest.shard.count)")
            print("front end: \(t.transform), \(t.bins) bins (\(t.binsPerOctave)/octave from \(t.fmin) Hz), hop \(t.hop) at \(t.sampleRate) Hz; \(g) thumbnails (rows x columns) of \(g.context) frames, JPEG quality \(manifest.frontEnd.quality), every \(manifest.frontEnd.every) steps")
            let s = manifest.split
            print("split by \(s.by) \(s.ratios.map(String.init).joined(separator: ":")), seed \(s.seed)" + (s.testInstruments.isEmpty ? "" : ", test instruments \(s.testInstruments.joined(separator: ","))") + (s.leaks ? " (LEAKS: frames of one recording are in several splits)" : ""))
            for name in ArchiveManifest.splitNames {
                let contents = manifest.splits[name]!
                let notes = contents.count - contents.classHistogram[0]
                print("\(name): \(contents.count) examples from \(contents.recordings.count) recordings, \(notes) with a note, \(contents.classHistogram[0]) silent")
                let classes = contents.classHistogram.enumerated().filter { $0.element > 0 && $0.offset > 0 }
                if !classes.isEmpty {
                    print("  classes: " + classes.map { "\($0.offset):\($0.element)" }.joined(separator: " "))
                }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every member's CRC-32 and SHA-256 and every shape against the manifest.")

        @Argument(help: "Archives written by pack.")
        var archives: [String]

        func run() throws {
            var failed = 0
            for archive in archives {
                let problems: [String]
                do {
                    let reader = try ArchiveReader(path: archive)
                    problems = reader.verify()
                    if problems.isEmpty { print("\(archive): ok (\(reader.manifest.members.count) members, \(reader.manifest.splits.values.map(\.count).reduce(0, +)) examples)") }
                } catch {
                    problems = ["\(error)"]
                }
                for problem in problems { printError("error: \(problem)") }
                if !problems.isEmpty { failed += 1 }
            }
            if failed > 0 {
                printError("\(failed) of \(archives.count) archives failed verification")
                throw ExitCode(1)
            }
        }
    }
}

/// How `--split-by` splits.
enum SplitBy: String, CaseIterable, ExpressibleByArgument {
    case recording, step
}
