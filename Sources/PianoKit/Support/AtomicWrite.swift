import Foundation

/// Writes files so that a reader never sees a partial one: the bytes go to a hidden temporary
/// name in the same directory, and a rename puts them in place only once they are complete.
public enum AtomicWrite {
    /// The prefix of every temporary name, so that stale ones from a killed run can be found.
    public static let temporaryPrefix = ".partial-"

    /// A temporary path beside `path`, unique to this process and call.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let unique = "\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0 ... .max))"
        return dir + "/" + temporaryPrefix + unique + "-" + url.lastPathComponent
    }

    /// Writes `data` to `path` atomically, creating the parent directory if needed.
    public static func write(_ data: Data, to path: String) throws {
        try createParent(of: path)
        let temporary = temporaryPath(for: path)
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw FileError(path, "cannot write (temporary file \(temporary) could not be created)")
        }
        try commit(temporary, to: path)
    }

    /// Creates the folder that will hold `path`, if it is not there yet.
    public static func createParent(of path: String) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw FileError(parent, "cannot create directory: \(error.localizedDescription)")
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

    /// Creates a stage's output folder if needed and clears what a killed earlier run left in it.
    public static func prepareOutputDirectory(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw FileError(directory, "cannot create output folder: \(error.localizedDescription)")
        }
        removeStale(in: directory)
    }

    /// Removes temporary files and folders left in `directory` by a run that was killed; returns how many.
    @discardableResult
    public static func removeStale(in directory: String) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(temporaryPrefix) {
            if (try? FileManager.default.removeItem(atPath: directory + "/" + name)) != nil { removed += 1 }
        }
        return removed
    }
}
