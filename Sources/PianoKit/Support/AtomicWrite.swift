import Foundation

/// Writes files so that a reader never sees a partial one: the bytes go to a hidden temporary
/// name in the same directory, and a rename puts them in place only once they are complete.
public enum AtomicWrite {
    /// The prefix of every temporary name, so that stale ones from a killed run can be found.
    public static let temporaryPrefix = ".partial-"

    /// A temporary path beside `path`, unique to this process and call:
    /// `.partial-<host>.<pid>-<random>-<name>`, so a later run can tell a killed run's leftovers
    /// from a live run's work in progress (several jobs may share an output folder).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let unique = "\(owner).\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0 ... .max))"
        return dir + "/" + temporaryPrefix + unique + "-" + url.lastPathComponent
    }

    /// This machine's short name with anything but letters and digits made `_` (dots and dashes
    /// delimit the temporary name's fields).
    static let owner: String = {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let cleaned = String(host.map { $0.isLetter || $0.isNumber ? $0 : "_" })
        return cleaned.isEmpty ? "host" : cleaned
    }()

    /// Temporaries of other machines are left alone this long (they may be a live job's on a shared disk).
    static let foreignStaleSeconds: TimeInterval = 24 * 3600

    /// Whether the temporary `name` in `directory` belongs to no running writer: made on this
    /// machine by a process that no longer exists, or on another one more than a day ago (or in a
    /// form this code does not write).
    static func isStale(_ name: String, in directory: String) -> Bool {
        let fields = name.dropFirst(temporaryPrefix.count).split(separator: "-", maxSplits: 1)
        let who = fields.first?.split(separator: ".") ?? []
        guard who.count == 2, let pid = Int32(who[1]) else { return true }
        if who[0] == owner { return kill(pid, 0) != 0 && errno == ESRCH }
        let modified = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name))?[.modificationDate] as? Date
        return modified.map { Date().timeIntervalSince($0) > foreignStaleSeconds } ?? false
    }

    /// Writes `data` to `path` atomically, creating the parent directory if needed.
    public static func write(_ data: Data, to path: String) throws {
        try createParent(of: path)
        let temporary = temporaryPath(for: path)
        // Plain POSIX writes: FileManager.createFile writes atomically itself, through a second
        // temporary (`.dat.nosync…`) that a killed run would leave behind and removeStale misses.
        do {
            try writeWhole(data, to: temporary)
        } catch {
            unlink(temporary)
            throw FileError.wrap(error, path: path).replacingTemporary(temporary, with: path)
        }
        try commit(temporary, to: path)
    }

    /// Creates the folder that will hold `path`, if it is not there yet.
    public static func createParent(of path: String) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw FileError(parent, "cannot create directory: \(whyNotCreated(parent, error))")
        }
    }

    /// Renames a finished temporary file into place, removing it if the rename fails.
    public static func commit(_ temporary: String, to path: String) throws {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError(path, "cannot rename finished output into place: \(reason)")
        }
    }

    /// Creates a stage's output folder if needed, checks that files can be made in it (so an
    /// unwritable folder fails now, before any long work) and clears what killed earlier runs left
    /// in it. Returns whether the folder was created (a run that then makes nothing removes it
    /// again with `removeIfEmpty`).
    @discardableResult
    public static func prepareOutputDirectory(_ directory: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        let existed = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
        if existed, !isDirectory.boolValue { throw FileError(directory, "cannot create output folder: it is a file") }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw FileError(directory, "cannot create output folder: \(whyNotCreated(directory, error))")
        }
        try probe(directory, for: directory)
        removeStale(in: directory)
        return !existed
    }

    /// Checks, before any long work, that the file `path` can be written: creates its folder if
    /// needed and a file in it, which it removes again. The error names `path`.
    public static func probeFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw FileError(path, "is a folder: give a file name for the output")
        }
        try createParent(of: path)
        try probe(URL(fileURLWithPath: path).deletingLastPathComponent().path, for: path)
    }

    /// Creates and removes a temporary file in `directory`; on failure throws an error naming `output`.
    static func probe(_ directory: String, for output: String) throws {
        let temporary = temporaryPath(for: directory + "/probe")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw FileError(output, "cannot write there: cannot create a file in \(directory): \(String(cString: strerror(errno)))")
        }
        close(fd)
        unlink(temporary)
    }

    /// Removes `directory` if it holds nothing (a folder a failed run created and did not fill).
    public static func removeIfEmpty(_ directory: String) {
        if (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true { rmdir(directory) }
    }

    /// Why `directory` could not be created, in words: a file standing where a folder must be, or
    /// the system's reason for the first missing folder (Foundation's message is often only a code).
    static func whyNotCreated(_ directory: String, _ error: any Error) -> String {
        var path = Paths.absolute(directory), missing: String?
        while true {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                if !isDirectory.boolValue { return "\(path) is a file, not a folder" }
                guard let missing else { break }
                if mkdir(missing, 0o755) == 0 { rmdir(missing); break }
                return "\(missing): \(String(cString: strerror(errno)))"
            }
            if path == "/" || path.isEmpty { break }
            missing = path
            path = (path as NSString).deletingLastPathComponent
        }
        return error.localizedDescription
    }

    /// Removes temporary files and folders left in `directory` by runs that were killed (not those
    /// of runs still writing there); with `for`, only the temporaries of that one output. Returns how many.
    @discardableResult
    public static func removeStale(in directory: String, for output: String? = nil) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(temporaryPrefix) && isStale(name, in: directory) && output.map({ name.hasSuffix("-" + $0) }) ?? true {
            // An old folder moved aside by a run killed before the new one was in place goes back.
            if let original = originalName(ofAside: name), !FileManager.default.fileExists(atPath: directory + "/" + original),
               rename(directory + "/" + name, directory + "/" + original) == 0 {
                printError("warning: \(directory)/\(original): put back the folder a killed run had moved aside")
                continue
            }
            if (try? FileManager.default.removeItem(atPath: directory + "/" + name)) != nil { removed += 1 }
        }
        return removed
    }

    /// For an old folder's aside name (`.partial-<host>.<pid>-<random>.old-<name>`), `<name>`.
    static func originalName(ofAside name: String) -> String? {
        let fields = name.dropFirst(temporaryPrefix.count).split(separator: "-", maxSplits: 1)
        guard fields.count == 2, let marker = fields[1].range(of: oldMarker),
              fields[1][..<marker.lowerBound].allSatisfy(\.isNumber) else { return nil }
        let original = String(fields[1][marker.upperBound...])
        return original.isEmpty ? nil : original
    }

    /// Removes what killed runs left while writing `path` (a model, an archive): its stale temporaries.
    public static func removeStale(for path: String) {
        let url = URL(fileURLWithPath: path)
        removeStale(in: url.deletingLastPathComponent().path, for: url.lastPathComponent)
    }
}
