import Foundation

/// Writes `data` to `path` with plain POSIX calls (no temporary name: use inside a temporary folder).
func writeWhole(_ data: Data, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FileError(path, "cannot create: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == data.count else { throw FileError(path, "short write: \(String(cString: strerror(errno)))") }
}

extension AtomicWrite {
    /// Fills a fresh temporary folder beside `path` with `body`, then puts it in place of `path`
    /// (an older folder there is removed only once the new one is complete).
    public static func writeDirectory(_ path: String, _ body: (String) throws -> Void) throws {
        try createParent(of: path)
        let temporary = temporaryPath(for: path)
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
            try body(temporary)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        var old: String?
        if FileManager.default.fileExists(atPath: path) {
            old = temporaryPath(for: path)
            guard rename(path, old!) == 0 else {
                try? FileManager.default.removeItem(atPath: temporary)
                throw FileError(path, "cannot move the old folder aside: \(String(cString: strerror(errno)))")
            }
        }
        try commit(temporary, to: path)
        if let old { try? FileManager.default.removeItem(atPath: old) }
    }
}
