import Foundation

/// Prints one line on stderr.
public func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// A stage-level failure with a message for stderr (the executable exits non-zero).
public struct StageFailure: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var description: String
    /// Creates a failure.
    public init(_ description: String) { self.description = description }
}
