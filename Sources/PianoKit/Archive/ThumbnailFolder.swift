import Foundation

/// One recording's thumbnail folder as `pack` reads it: the sidecar and the rows of `labels.tsv`.
public struct ThumbnailFolder: Sendable {
    /// One thumbnail: its step, file, class label and sounding keys.
    public struct Row: Sendable, Equatable {
        /// Step on the time grid.
        public var step: Int
        /// JPEG file name.
        public var file: String
        /// 128-way class (0 = no note).
        public var label: Int
        /// Sounding keys, ascending.
        public var notes: [Int]
        /// Keys whose note starts at the step, ascending; nil in a version 1 folder (no onsets column).
        public var onsets: [Int]?
    }

    /// The folder.
    public var path: String
    /// Its sidecar.
    public var set: ThumbnailSet
    /// Its thumbnails, in step order.
    public var rows: [Row]

    /// Reads and checks the folder: sidecar, label index, and that every JPEG it names exists.
    public init(path: String) throws {
        self.path = path
        set = try ThumbnailSet.read(path: path + "/" + ThumbnailSet.fileName)
        let labelsPath = path + "/" + ThumbnailSet.labelsFileName
        guard let data = FileManager.default.contents(atPath: labelsPath), let text = String(data: data, encoding: .utf8) else {
            throw FileError(labelsPath, "cannot read")
        }
        var rows: [Row] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where index > 0 && !line.isEmpty {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            func bad(_ what: String) -> FileError { FileError(labelsPath, line: index + 1, what) }
            let expected = set.version == 1 ? 5 : 6
            guard fields.count == expected else { throw bad("expected \(expected) tab-separated fields, found \(fields.count)") }
            guard let step = Int(fields[0]), step >= 0, step < set.steps, step % set.every == 0 else { throw bad("bad step '\(fields[0])'") }
            guard rows.last.map({ $0.step < step }) ?? true else { throw bad("steps are not ascending") }
            guard let label = Int(fields[3]), (0 ..< 128).contains(label) else { throw bad("bad class label '\(fields[3])'") }
            func keys(_ field: Substring) throws -> [Int] {
                try field.split(separator: ",").map { text -> Int in
                    guard let key = Int(text), pianoKeys.contains(key) else { throw bad("bad key '\(text)'") }
                    return key
                }
            }
            let notes = try keys(fields[4])
            let onsets = expected == 6 ? try keys(fields[5]) : nil
            if let onsets, !Set(onsets).isSubset(of: notes) { throw bad("onsets \(onsets) are not all sounding keys \(notes)") }
            guard String(fields[2]) == set.imageName(step: step) else { throw bad("file '\(fields[2])' does not match step \(step)") }
            rows.append(Row(step: step, file: String(fields[2]), label: label, notes: notes, onsets: onsets))
        }
        guard rows.count == set.images else {
            throw FileError(labelsPath, "lists \(rows.count) thumbnails, thumbs.json says \(set.images)")
        }
        // access(2) rather than FileManager: one system call per thumbnail, no attributes built.
        for row in rows where access(path + "/" + row.file, F_OK) != 0 {
            throw FileError(path + "/" + row.file, "missing thumbnail")
        }
        self.rows = rows
    }

    /// Finds recording folders: each input is one (it has a thumbs.json) or holds them.
    public static func find(_ inputs: [String]) -> (folders: [String], problems: [FileError]) {
        var folders: [String] = [], problems: [FileError] = []
        for input in inputs {
            let manager = FileManager.default
            if manager.fileExists(atPath: input + "/" + ThumbnailSet.fileName) {
                folders.append(input)
                continue
            }
            guard let names = try? manager.contentsOfDirectory(atPath: input) else {
                problems.append(FileError(input, "no such folder"))
                continue
            }
            let found = names.filter { !$0.hasPrefix(".") && manager.fileExists(atPath: input + "/" + $0 + "/" + ThumbnailSet.fileName) }.sorted()
            if found.isEmpty { problems.append(FileError(input, "holds no thumbnail folders (no */thumbs.json)")) }
            folders += found.map { input + "/" + $0 }
        }
        return (folders, problems)
    }
}
