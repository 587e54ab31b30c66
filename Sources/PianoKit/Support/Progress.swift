import Foundation

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
///
/// Thread-safe: workers call `advance()` from any thread.
public final class Progress: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let enabled: Bool
    private let lock = NSLock()
    private var done = 0
    private var failed = 0
    private var lastDraw = Date.distantPast

    /// Creates a bar for `total` items; it is silent unless stderr is a terminal.
    public init(total: Int, label: String, enabled: Bool = isatty(STDERR_FILENO) != 0) {
        self.total = total
        self.label = label
        self.enabled = enabled && total > 0
    }

    /// Records one finished item (failed or not) and redraws at most ten times a second.
    public func advance(failed itemFailed: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        if itemFailed { failed += 1 }
        guard enabled else { return }
        let now = Date()
        if done == total || now.timeIntervalSince(lastDraw) > 0.1 {
            lastDraw = now
            draw()
        }
    }

    /// Clears the bar so that ordinary messages can be printed on a clean line.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// Prints a warning line above the bar.
    public func warn(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        let prefix = enabled ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data((prefix + line + "\n").utf8))
        if enabled { draw() }
    }

    private func draw() {
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let failures = failed > 0 ? ", \(failed) failed" : ""
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)\(failures)".utf8))
    }
}
