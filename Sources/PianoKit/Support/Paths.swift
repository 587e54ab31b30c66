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
