import Foundation

/// The list of all note maps in a folder (`index.json`), so later stages and people can see
/// what is there without opening every file. Documented in `Schemas/notemap-index.md`.
public struct NoteMapIndex: Codable, Sendable, Equatable {
    /// The value of `format`.
    public static let formatName = "piano-notemap-index"
    /// The version this code writes.
    public static let currentVersion = 1
    /// The index's file name.
    public static let fileName = "index.json"

    /// One note map, summarised.
    public struct Entry: Codable, Sendable, Equatable {
        /// The recording's stem.
        public var stem: String
        /// The note map's file name, in the index's folder.
        public var file: String
        /// MAPS category (ISOL, RAND, UCHO, MUS or other).
        public var category: String
        /// MAPS instrument code, if the name has one.
        public var instrument: String?
        /// Samples between steps.
        public var hop: Int
        /// Steps on the time grid.
        public var steps: Int
        /// Length in seconds.
        public var duration: Double
        /// Number of notes.
        public var notes: Int
    }

    /// Always `piano-notemap-index`.
    public var format = formatName
    /// Format version.
    public var version = currentVersion
    /// Every note map in the folder, by stem.
    public var recordings: [Entry]

    /// Indexes every valid note map in `directory`; unreadable ones are returned as problems.
    public static func scan(_ directory: String) -> (index: NoteMapIndex, problems: [FileError]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(NoteMap.fileSuffix) && !$0.hasPrefix(".") }.sorted()
        var entries: [Entry] = []
        var problems: [FileError] = []
        for name in names {
            do {
                let map = try NoteMap.read(path: directory + "/" + name)
                entries.append(Entry(stem: map.stem, file: name, category: map.maps.category, instrument: map.maps.instrument,
                                     hop: map.hop, steps: map.steps, duration: map.audio.duration, notes: map.notes.count))
            } catch {
                problems.append(FileError.wrap(error, path: directory + "/" + name))
            }
        }
        return (NoteMapIndex(recordings: entries), problems)
    }

    /// The index as JSON, one recording a line.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let lines = try recordings.map { "    " + String(decoding: try encoder.encode($0), as: UTF8.self) }
        let list = lines.isEmpty ? "[]" : "[\n" + lines.joined(separator: ",\n") + "\n  ]"
        return Data("{\n  \"format\": \"\(format)\",\n  \"version\": \(version),\n  \"recordings\": \(list)\n}\n".utf8)
    }
}
