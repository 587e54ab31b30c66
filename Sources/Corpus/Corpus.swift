import ArgumentParser
import Foundation
import PianoKit

@main
struct Corpus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Render a MAPS-layout piano corpus (wav + mid + txt) with fluidsynth.",
        discussion: """
        Composes isolated notes (ISOL), random chords (RAND), usual chords (UCHO) and generated \
        music (MUS) from a seed, writes each as a Standard MIDI File and a MAPS note list, and \
        renders it with fluidsynth and a General MIDI SoundFont, two piano programs standing for \
        two instruments. Files go where MAPS puts them, e.g. \
        <output>/FR3Grand/ISOL/NO/MAPS_ISOL_NO_F_S0_M60_FR3Grand.{wav,mid,txt}; \
        <output>/corpus.json records the settings. Recordings already there are skipped unless \
        --force is given. The same seed and size give the same files on every machine.
        """)

    @Option(name: .shortAndLong, help: "Corpus root folder.")
    var output: String

    @Option(help: "demo (seconds to render) or full.")
    var size: CorpusSize = .demo

    @Option(help: "Seed of the composer.")
    var seed: UInt64 = 1

    @Option(help: "The SoundFont to render with.")
    var soundfont = "/usr/share/sounds/sf2/FluidR3_GM.sf2"

    @Option(help: "Comma-separated MAPS categories to render (ISOL,RAND,UCHO,MUS).")
    var categories = CorpusPlan.categories.joined(separator: ",")

    @Option(help: "Comma-separated instrument codes (FR3Grand = GM program 0, FR3Brght = GM program 1).")
    var instruments = Instrument.fluidR3.map(\.code).joined(separator: ",")

    @Option(name: .shortAndLong, help: "fluidsynth runs in parallel.")
    var jobs = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Re-render recordings that are already there.")
    var force = false

    func validate() throws {
        guard jobs > 0 else { throw ValidationError("--jobs must be positive") }
        for category in categoryList where !CorpusPlan.categories.contains(category) {
            throw ValidationError("unknown category '\(category)' (choose from \(CorpusPlan.categories.joined(separator: ",")))")
        }
        for code in instrumentCodes where !Instrument.fluidR3.contains(where: { $0.code == code }) {
            throw ValidationError("unknown instrument '\(code)' (choose from \(Instrument.fluidR3.map(\.code).joined(separator: ",")))")
        }
    }

    var categoryList: [String] { categories.split(separator: ",").map { String($0).uppercased() } }
    var instrumentCodes: [String] { instruments.split(separator: ",").map(String.init) }

    func run() throws {
        let chosen = Instrument.fluidR3.filter { instrumentCodes.contains($0.code) }
        let renderer = try FluidSynthRenderer(soundFont: soundfont)
        let run = CorpusRun(root: output, size: size, seed: seed, instruments: chosen, categories: categoryList,
                            renderer: renderer, jobs: jobs, force: force)
        let summary = try run.run()
        if !summary.failures.isEmpty { throw ExitCode(1) }
    }
}

extension CorpusSize: ExpressibleByArgument {}
