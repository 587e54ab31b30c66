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
    /// Fills a fresh temporary folder beside `path` with `body`, then puts it in place of `path`.
    ///
    /// `path` is never missing while an older folder is there: on Linux the new folder and the
    /// old one swap names in one atomic `renameat2(RENAME_EXCHANGE)` (macOS: `renamex_np(RENAME_SWAP)`),
    /// and the old one, now under a temporary name, is removed afterwards (a run killed before
    /// that leaves a stale temporary that the next run removes). Where the file system cannot swap,
    /// the old folder is first moved aside under a temporary name marked `.old`
    /// (`.partial-<host>.<pid>-<random>.old-<name>`), and if the run is killed before the new
    /// folder is renamed in, the next run of any stage over that folder puts the old one back
    /// (`removeStale`).
    public static func writeDirectory(_ path: String, _ body: (String) throws -> Void) throws {
        try createParent(of: path)
        let temporary = temporaryPath(for: path)
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
            try body(temporary)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw FileError.wrap(error, path: path).replacingTemporary(temporary, with: path)
        }
        try replaceDirectory(path, with: temporary)
    }

    /// Puts the complete folder `temporary` at `path`, replacing any folder there as
    /// `writeDirectory` describes; `exchange: false` forces the move-aside path (for tests).
    static func replaceDirectory(_ path: String, with temporary: String, exchange: Bool = true) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return try commit(temporary, to: path)
        }
        if exchange, isDirectory.boolValue, swapNames(temporary, path) {
            try? FileManager.default.removeItem(atPath: temporary)  // now the old folder
            return
        }
        let old = asidePath(for: path)
        guard rename(path, old) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw FileError(path, "cannot move the old folder aside: \(reason)")
        }
        do {
            try commit(temporary, to: path)
        } catch {
            rename(old, path)  // put the old one back
            throw error
        }
        try? FileManager.default.removeItem(atPath: old)
    }

    /// The temporary name an old folder is moved aside to: `.partial-<host>.<pid>-<random>.old-<name>`.
    static func asidePath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let unique = "\(owner).\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0 ... .max))"
        return url.deletingLastPathComponent().path + "/" + temporaryPrefix + unique + oldMarker + url.lastPathComponent
    }

    /// What follows the random field in the name of an old folder moved aside.
    static let oldMarker = ".old-"

    /// Swaps the names of `a` and `b` atomically; false where the system or file system cannot.
    static func swapNames(_ a: String, _ b: String) -> Bool {
        #if os(Linux)
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }  // RTLD_DEFAULT; glibc >= 2.28
        let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, 1 << 1) == 0  // RENAME_EXCHANGE
        #elseif canImport(Darwin)
        typealias RenamexNp = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: -2), "renamex_np") else { return false }  // RTLD_DEFAULT
        let renamex = unsafeBitCast(symbol, to: RenamexNp.self)
        return renamex(a, b, 1 << 1) == 0  // RENAME_SWAP
        #else
        return false
        #endif
    }
}
