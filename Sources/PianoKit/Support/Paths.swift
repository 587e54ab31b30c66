import Foundation

/// Path helpers shared by the stages.
public enum Paths {
    /// The absolute, standardised form of `path` (relative paths are taken from the current directory).
    public static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// `path` relative to `directory` (with `..` as needed), so that a tree can be moved as a whole.
    public static func relative(_ path: String, from directory: String) -> String {
        let target = absolute(path).split(separator: "/")
        let base = absolute(directory).split(separator: "/")
        var common = 0
        while common < min(target.count, base.count), target[common] == base[common] { common += 1 }
        let ups = Array(repeating: "..", count: base.count - common)
        let rest = target[common...].map(String.init)
        let parts = ups + rest
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// Resolves `path` stored in a file that lives in `directory`: absolute paths stay, relative ones are joined.
    public static func resolve(_ path: String, against directory: String) -> String {
        path.hasPrefix("/") ? path : absolute(directory + "/" + path)
    }

    /// The modification time of `path`, or nil if it does not exist.
    public static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// Whether `output` exists and is at least as new as every one of `inputs`.
    public static func isNewer(_ output: String, than inputs: [String]) -> Bool {
        guard let made = modificationDate(output) else { return false }
        return inputs.allSatisfy { (modificationDate($0) ?? .distantFuture) <= made }
    }

    /// Throws unless `path` exists and is not a folder: `missing` names the first problem
    /// ("no such audio file"), `kind` the second ("is a folder, not an archive").
    public static func requireFile(_ path: String, missing: String, kind: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw FileError(path, missing) }
        guard !isDirectory.boolValue else { throw FileError(path, "is a folder, not \(kind)") }
    }

    /// Reads a whole small file into `buffer` (grown as needed, kept between calls) with open, read
    /// and close only (no stat: pack reads tens of thousands of thumbnails); returns its length.
    /// A relative `path` is opened relative to `directory` (an open folder's descriptor; by
    /// default the working directory), which spares the kernel the walk down a long path. A read
    /// that returns fewer bytes than asked ends the file (as it does for regular files), which
    /// spares the closing read of 0 bytes.
    /// Throws `FileError` for a file that cannot be opened or read, or is larger than `limit` bytes.
    public static func readSmallFile(_ path: String, into buffer: inout [UInt8], limit: Int, relativeTo directory: Int32 = AT_FDCWD) throws -> Int {
        let fd = openat(directory, path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path, errno == ENOENT ? "no such file" : "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        if buffer.count < 4096 { buffer = [UInt8](repeating: 0, count: 4096) }
        var length = 0
        while true {
            if length == buffer.count {
                guard buffer.count <= limit else { throw FileError(path, "file is more than the \(limit) bytes this reader accepts") }
                buffer += [UInt8](repeating: 0, count: buffer.count)
            }
            let asked = buffer.count - length
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + length, asked) }
            if got < 0 {
                if errno == EINTR { continue }
                throw FileError(path, errno == EISDIR ? "is a folder, not a file" : "cannot read (\(String(cString: strerror(errno))))")
            }
            length += got
            if got < asked { break }
        }
        guard length <= limit else { throw FileError(path, "file is \(length) bytes, more than the \(limit) this reader accepts") }
        return length
    }

    /// Reads a whole file, refusing one larger than `limit` bytes before reading it.
    public static func readBytes(_ path: String, limit: Int) throws -> [UInt8] {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int
        else { throw FileError(path, "cannot read file") }
        guard attributes[.type] as? FileAttributeType != .typeDirectory else { throw FileError(path, "is a folder, not a file") }
        guard size <= limit else { throw FileError(path, "file is \(size) bytes, more than the \(limit) this reader accepts") }
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError(path, "cannot read file") }
        return [UInt8](data)
    }
}
