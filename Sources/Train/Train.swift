import ArgumentParser
import PianoKit

@main
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Not built yet: this stage is planned (issue 5) and does nothing so far.")

    @Argument(parsing: .captureForPassthrough, help: .hidden)
    var arguments: [String] = []

    func run() throws {
        printError("train: this stage is not built yet (planned in issue 5); nothing was done")
        throw ExitCode(2)
    }
}
