import ArgumentParser
import PianoKit

@main
struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Not built yet: this stage is planned (issue 6) and does nothing so far.")

    @Argument(parsing: .captureForPassthrough, help: .hidden)
    var arguments: [String] = []

    func run() throws {
        printError("infer: this stage is not built yet (planned in issue 6); nothing was done")
        throw ExitCode(2)
    }
}
