import ArgumentParser
import Foundation
import PianoKit

/// `-o/--output`: where a stage writes (a folder, or for `pack` and `train` a file).
public struct OutputOption: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Where the outputs go: a folder (a file for pack and train); its folder is created if needed.", valueName: "path"))
    public var output: String

    public init() {}
}

/// `-j/--jobs`: how many items a stage works on at once.
public struct JobsOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Items (recordings, folders, threads) worked on at once (default: all cores).")
    public var jobs = ProcessInfo.processInfo.activeProcessorCount

    public init() {}

    public func validate() throws {
        guard jobs > 0 else { throw ValidationError("--jobs must be positive") }
    }
}

/// `--force`: redo outputs that are up to date.
public struct ForceOption: ParsableArguments {
    @Flag(help: "Redo outputs that are up to date (by default they are kept).")
    public var force = false

    public init() {}
}

/// The three options of a batch stage (ingest, spectro, corpus): `-o`, `--jobs`, `--force`.
public struct BatchOptions: ParsableArguments {
    @OptionGroup public var outputOption: OutputOption
    @OptionGroup public var jobsOption: JobsOption
    @OptionGroup public var forceOption: ForceOption

    /// The output path.
    public var output: String { outputOption.output }
    /// Items at once.
    public var jobs: Int { jobsOption.jobs }
    /// Whether to redo up-to-date outputs.
    public var force: Bool { forceOption.force }

    public init() {}
}

/// The time-frequency transforms `--transform` names (spectro, bench-cqt).
public enum TransformKind: String, CaseIterable, ExpressibleByArgument, Sendable {
    case cqt, stft
}

extension ParsableCommand {
    /// The toolkit's version, for every stage's `CommandConfiguration(version:)`.
    public static var toolkitVersion: String { Toolkit.version }

    /// Runs the command as ArgumentParser's `main()` does, but with one error prefix for the whole
    /// toolkit: `error:` in lower case, as the stages' own per-file lines have it. `usesBLAS`: the
    /// stage's time goes to OpenBLAS, which then runs the fastest kernels the CPU has
    /// (`BLASCore.useFastKernels`, which may start the process again).
    public static func stageMain(usesBLAS: Bool = false) {
        if usesBLAS { BLASCore.useFastKernels() }
        stopIdleBLASThreads()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message = "error: " + message.dropFirst("Error: ".count) }
            if code == .success {
                if !message.isEmpty { print(message) }
            } else if !message.isEmpty {
                printError(message)
            }
            Foundation.exit(code.rawValue)
        }
    }
}
