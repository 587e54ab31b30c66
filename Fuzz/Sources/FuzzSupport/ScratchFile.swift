import Foundation

/// A per-process file that fuzz targets overwrite with each input, for readers that only take a path.
///
/// It lives in `$FUZZ_SCRATCH` (scripts/fuzz.sh points it at a folder in /dev/shm, so that a
/// million iterations do not write to disk), else in the temporary folder, and is reused across
/// iterations rather than created anew, so a run leaves at most one file per suffix behind.
public enum ScratchFile {
    /// The folder holding the scratch files.
    public static let folder: String = ProcessInfo.processInfo.environment["FUZZ_SCRATCH"] ?? NSTemporaryDirectory()

    /// The path of this process's scratch file ending in `suffix`.
    public static func path(suffix: String) -> String { "\(folder)/piano-fuzz-\(getpid())\(suffix)" }

    /// Replaces the scratch file ending in `suffix` with the `count` bytes at `start` and returns its path.
    public static func holding(_ start: UnsafeRawPointer, _ count: Int, suffix: String) -> String {
        let path = path(suffix: suffix)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot create the scratch file \(path): \(String(cString: strerror(errno)))")
        defer { close(fd) }
        var written = 0
        while written < count {
            let n = write(fd, start + written, count - written)
            precondition(n > 0, "cannot write the scratch file \(path): \(String(cString: strerror(errno)))")
            written += n
        }
        return path
    }
}
