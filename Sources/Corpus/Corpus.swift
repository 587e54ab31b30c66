import ArgumentParser
import Foundation
import PianoKit
import StageOptions

@main
struct Corpus: ParsableCommand {
    static func main() { stageMain() }

    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Render a MAPS-layout piano corpus (wav + mid + txt) with fluidsynth, timidity or the built-in synth piano.",
        discussion: """
        Composes isolated notes (ISOL), random chords (RAND), usual chords (UCHO) and generated \
        music (MUS) from a seed, writes each as a Standard MIDI File and a MAPS note list, and \
        renders it with each instrument: by default two FluidR3 piano programs (fluidsynth), and \
        on request the other FluidR3 pianos, the OPL3 FM pianos (fluidsynth), the freepats \
        pianos (timidity) and eight variants of the built-in additive piano (--instruments list \
        shows them). --augment renders each recording under its own seeded room, EQ, noise, \
        compression, gain and detuning, and --bass-cut SHARE gives that share of them a high-pass \
        that removes the lowest keys' fundamentals. Files go where MAPS puts them, e.g. \
        <output>/FR3Grand/ISOL/NO/MAPS_ISOL_NO_F_S0_M60_FR3Grand.{wav,mid,txt}; \
        <output>/corpus.json records the settings. Recordings already there are skipped unless \
        --force is given. The same seed and size give the same files on every machine.
        """,
        version: toolkitVersion)

    @Option(help: "demo (seconds to render) or full.")
    var size: CorpusSize = .demo

    @Option(help: "Seed of the composer.")
    var seed: UInt64 = 1

    @Option(help: "The FluidR3 SoundFont (for the FR3* instruments; default: found in /usr/share/sounds/sf2).")
    var soundfont: String?

    @Option(help: "Comma-separated MAPS categories to render (ISOL,RAND,UCHO,MUS).")
    var categories = CorpusPlan.categories.joined(separator: ",")

    @Option(help: "Comma-separated instrument codes, or 'list' to print them all.")
    var instruments = Instrument.fluidR3.map(\.code).joined(separator: ",")

    @Flag(help: "Render each recording under its seeded augmentation (room, EQ, noise, compression, gain, detuning).")
    var augment = false

    @Option(help: ArgumentHelp("With --augment, the share (0...1) of recordings also given a bass cut: a 24 dB/octave high-pass at 35-140 Hz that takes the lowest keys' fundamentals away.", valueName: "share"))
    var bassCut: Double = 0

    @OptionGroup var batch: BatchOptions

    func validate() throws {
        guard (0 ... 1).contains(bassCut) else { throw ValidationError("--bass-cut must be between 0 and 1, not \(bassCut)") }
        guard bassCut == 0 || augment else { throw ValidationError("--bass-cut needs --augment") }
        for category in categoryList where !CorpusPlan.categories.contains(category) {
            throw ValidationError("unknown category '\(category)' (choose from \(CorpusPlan.categories.joined(separator: ",")))")
        }
        guard instruments != "list" else { return }
        for code in instrumentCodes where !Instrument.known.contains(where: { $0.code == code }) {
            throw ValidationError("unknown instrument '\(code)' (choose from \(Instrument.known.map(\.code).joined(separator: ",")))")
        }
    }

    var categoryList: [String] { categories.split(separator: ",").map { String($0).uppercased() } }
    var instrumentCodes: [String] { instruments.split(separator: ",").map(String.init) }

    func run() throws {
        if instruments == "list" {
            for instrument in Instrument.known {
                let source = instrument.voice == .synth ? "" : " \(instrument.source)"
                print("\(instrument.code)\t\(instrument.voice.rawValue)\(source) program \(instrument.program)\tfamily \(instrument.family)\t\(instrument.name)")
            }
            return
        }
        let chosen = Instrument.known.filter { instrumentCodes.contains($0.code) }
        let run = CorpusRun(root: batch.output, size: size, seed: seed, instruments: chosen, categories: categoryList,
                            soundFont: soundfont, augment: augment, bassCut: bassCut, jobs: batch.jobs, force: batch.force)
        let summary = try run.run()
        if !summary.failures.isEmpty { throw ExitCode(1) }
    }
}

extension CorpusSize: ExpressibleByArgument {}
