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
    /// The hidden file beside it that remembers which note map files the index has summarised
    /// (`.index-cache.json`; see `Schemas/notemap-index.md`). Only a cache: deleting it costs one
    /// run that reads every note map again.
    public static let cacheFileName = ".index-cache.json"

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

    /// What a note map file was when its entry was made: identifies the file without opening it.
    struct Stamp: Codable, Sendable, Equatable {
        /// Size in bytes.
        var bytes: Int
        /// Modification time, nanoseconds since 1970-01-01 UTC.
        var modified: Int
        /// Inode number (a note map renamed into place is a new inode).
        var inode: UInt64
    }

    /// The contents of `.index-cache.json`: every summarised note map with its file's stamp.
    struct Cache: Codable, Sendable {
        static let formatName = "piano-notemap-index-cache"
        var format = formatName
        var version = 1
        var maps: [Cached]

        struct Cached: Codable, Sendable {
            var stamp: Stamp
            var entry: Entry
        }
    }

    /// Always `piano-notemap-index`.
    public var format = formatName
    /// Format version.
    public var version = currentVersion
    /// Every note map in the folder, by stem.
    public var recordings: [Entry]

    /// The size, modification time (ns since the epoch) and inode of `path`, from one `stat`; nil
    /// if it is not a readable regular file.
    static func stamp(_ path: String) -> Stamp? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        #if canImport(Darwin)
        let time = info.st_mtimespec
        #else
        let time = info.st_mtim
        #endif
        return Stamp(bytes: Int(info.st_size), modified: Int(time.tv_sec) * 1_000_000_000 + Int(time.tv_nsec), inode: UInt64(info.st_ino))
    }

    /// The cache beside the index in `directory`, by note map file name; empty when there is none
    /// or it cannot be read.
    static func cached(in directory: String) -> [String: Cache.Cached] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + cacheFileName),
              let cache = try? JSONDecoder().decode(Cache.self, from: data),
              cache.format == Cache.formatName, cache.version == 1
        else { return [:] }
        var byFile: [String: Cache.Cached] = [:]
        for item in cache.maps { byFile[item.entry.file] = item }
        return byFile
    }

    /// Indexes every valid note map in `directory`; unreadable ones are returned as problems.
    ///
    /// A note map whose file has the size, modification time (to the nanosecond) and inode that
    /// the folder's `.index-cache.json` recorded for it is summarised from the cache without being
    /// opened; only new or changed ones are read (ingest puts every note map in place by renaming a
    /// new file, so a remade map is a new inode with a new time). So a run costs one `stat` per
    /// note map plus reading the maps it does not know, and its memory is the entries (a few
    /// hundred bytes each) plus one note map at a time, however large the folder's maps are.
    /// With `reuse: false` every note map is read.
    public static func scan(_ directory: String, reuse: Bool = true) -> (index: NoteMapIndex, problems: [FileError]) {
        let (index, problems, _) = scanWithCache(directory, reuse: reuse)
        return (index, problems)
    }

    static func scanWithCache(_ directory: String, reuse: Bool = true) -> (index: NoteMapIndex, problems: [FileError], cache: Cache) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(NoteMap.fileSuffix) && !$0.hasPrefix(".") }.sorted()
        let known = reuse ? cached(in: directory) : [:]
        var entries: [Entry] = []
        var stamped: [Cache.Cached] = []
        var problems: [FileError] = []
        for name in names {
            let path = directory + "/" + name
            let before = stamp(path)
            if let before, let item = known[name], item.stamp == before {
                entries.append(item.entry)
                stamped.append(item)
                continue
            }
            do {
                let map = try NoteMap.read(path: path)
                let entry = Entry(stem: map.stem, file: name, category: map.maps.category, instrument: map.maps.instrument,
                                  hop: map.hop, steps: map.steps, duration: map.audio.duration, notes: map.notes.count)
                entries.append(entry)
                // Cached only if the file did not change while it was read (else the next run reads it again).
                if let before, stamp(path) == before { stamped.append(.init(stamp: before, entry: entry)) }
            } catch {
                problems.append(FileError.wrap(error, path: path))
            }
        }
        return (NoteMapIndex(recordings: entries), problems, Cache(maps: stamped))
    }

    /// Scans `directory` (reusing its cache), then writes `index.json` and the cache, each atomically.
    /// The index is written first: a run killed between the two leaves a stale cache, which only
    /// means more note maps are read next time. Returns the note maps left out.
    public static func update(_ directory: String) throws -> [FileError] {
        let (index, problems, cache) = scanWithCache(directory)
        try AtomicWrite.write(try index.encoded(), to: directory + "/" + fileName)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try AtomicWrite.write(try encoder.encode(cache), to: directory + "/" + cacheFileName)
        return problems
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
