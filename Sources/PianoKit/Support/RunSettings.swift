import Foundation

/// What an output was made from: the input file's absolute path, size and modification time, so
/// that an up-to-date check sees another file under the same stem (`piece.flac`, then `piece.mp3`)
/// or the same file changed, whatever the times say.
public struct InputIdentity: Codable, Sendable, Equatable {
    /// The absolute path.
    public var path: String
    /// Size in bytes.
    public var bytes: Int
    /// Modification time, seconds since 1970.
    public var modified: Double

    /// The identity of the file at `path` now, or nil when it cannot be read.
    public init?(of path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let bytes = attributes[.size] as? Int, let date = attributes[.modificationDate] as? Date else { return nil }
        self.path = Paths.absolute(path)
        self.bytes = bytes
        self.modified = date.timeIntervalSince1970
    }
}

/// Differences between two runs' settings, in words, for the warning a stage prints when an output
/// folder holds outputs made with other settings.
public enum SettingsDifference {
    /// `key old → new` for each leaf of two JSON encodings that differs (keys as dotted paths, sorted),
    /// leaving out the keys in `ignoring` (at any depth).
    public static func describe(old: Data, new: Data, ignoring: Set<String> = []) -> [String] {
        let before = flatten(try? JSONSerialization.jsonObject(with: old), ignoring: ignoring)
        let after = flatten(try? JSONSerialization.jsonObject(with: new), ignoring: ignoring)
        return Set(before.keys).union(after.keys).sorted().compactMap { key in
            let (a, b) = (before[key] ?? "none", after[key] ?? "none")
            return a == b ? nil : "\(key) \(a) → \(b)"
        }
    }

    /// The warning line: `warning: FOLDER: outputs there were made with other settings (...); they are remade`.
    public static func warning(folder: String, differences: [String]) -> String {
        let shown = differences.prefix(4).joined(separator: ", ") + (differences.count > 4 ? ", and \(differences.count - 4) more" : "")
        return "warning: \(folder): holds outputs made with other settings (\(shown)); those of this run's inputs are remade"
    }

    static func flatten(_ value: Any?, prefix: String = "", ignoring: Set<String>) -> [String: String] {
        switch value {
        case let object as [String: Any]:
            var result: [String: String] = [:]
            for (key, inner) in object where !ignoring.contains(key) {
                result.merge(flatten(inner, prefix: prefix.isEmpty ? key : prefix + "." + key, ignoring: ignoring)) { a, _ in a }
            }
            return result
        case let array as [Any]:
            let text = (try? JSONSerialization.data(withJSONObject: array, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
            return [prefix: text ?? "\(array)"]
        case nil:
            return [:]
        case let other?:
            return [prefix: "\(other)"]
        }
    }
}

/// True the first time it is asked, false after: for a warning a parallel run prints once.
public final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var asked = false

    /// Creates a flag not yet asked.
    public init() {}

    /// Whether this is the first call.
    public func first() -> Bool {
        lock.lock(); defer { lock.unlock() }
        defer { asked = true }
        return !asked
    }
}
