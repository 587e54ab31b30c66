import ArgumentParser
import PianoKit

@main
struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Not built yet: this stage is planned (issue 4) and does nothing so far.")

    @Argument(parsing: .captureForPassthrough, help: .hidden)
    var arguments: [String] = []

    func run() throws {
        printError("pack: this stage is not built yet (planned in issue 4); nothing was done")
        throw ExitCode(2)
    }
}
