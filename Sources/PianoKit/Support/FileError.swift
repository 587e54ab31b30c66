/// An error about one input or output file: the file, where in it (if known), and what is wrong.
///
/// Its description is the one line a stage prints on stderr, `path:line: message` or `path: message`.
public struct FileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file the error is about.
    public var path: String
    /// The 1-based line (for text formats) or nil.
    public var line: Int?
    /// What is wrong, in words.
    public var message: String

    /// Creates an error about `path`.
    public init(_ path: String, line: Int? = nil, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}

/// A format-level error raised by a parser that does not know the file name; callers wrap it in a `FileError`.
public struct FormatError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong, in words.
    public var message: String
    /// Creates a format error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension FileError {
    /// This error with a hidden temporary's name (`temporary`, or a file inside that folder) put
    /// back to the output's own `path`, so that messages name what the user asked for.
    public func replacingTemporary(_ temporary: String, with path: String) -> FileError {
        var error = self
        if error.path.hasPrefix(temporary) { error.path = path + error.path.dropFirst(temporary.count) }
        error.message = error.message.replacingOccurrences(of: temporary, with: path)
        return error
    }

    /// Wraps any error thrown while handling `path` so that its description names the file once.
    public static func wrap(_ error: any Error, path: String) -> FileError {
        switch error {
        case let e as FileError: return e
        case let e as FormatError: return FileError(path, e.message)
        default: return FileError(path, String(describing: error))
        }
    }
}
