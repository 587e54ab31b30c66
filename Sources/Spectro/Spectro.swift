import ArgumentParser
import PianoKit

@main
struct Spectro: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spectro",
        abstract: "Not built yet: this stage is planned (issue 3) and does nothing so far.")

    @Argument(parsing: .captureForPassthrough, help: .hidden)
    var arguments: [String] = []

    func run() throws {
        printError("spectro: this stage is not built yet (planned in issue 3); nothing was done")
        throw ExitCode(2)
    }
}
