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
        guard let data = FileManager.default.contents(atPath: labelsPath), String(data: data, encoding: .utf8) != nil else {
            throw FileError(labelsPath, "cannot read")
        }
        // Parsed as bytes (tens of thousands of rows per pack run): fields split at tabs, numbers
        // read digit by digit; messages quote the offending text.
        let bytes = [UInt8](data), expected = set.version == 1 ? 5 : 6
        var rows: [Row] = []
        rows.reserveCapacity(min(set.images, bytes.count / 8))  // a row takes more than 8 bytes; the sidecar may lie
        var index = 0, lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            defer { lineStart = lineEnd + 1; index += 1 }
            guard index > 0, lineEnd > lineStart else { continue }
            let line = bytes[lineStart ..< lineEnd]
            func bad(_ what: String) -> FileError { FileError(labelsPath, line: index + 1, what) }
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
            guard fields.count == expected else { throw bad("expected \(expected) tab-separated fields, found \(fields.count)") }
            func text(_ field: ArraySlice<UInt8>) -> String { String(decoding: field, as: UTF8.self) }
            guard let step = Self.integer(fields[0]), step >= 0, step < set.steps, step % set.every == 0 else { throw bad("bad step '\(text(fields[0]))'") }
            guard rows.last.map({ $0.step < step }) ?? true else { throw bad("steps are not ascending") }
            guard let label = Self.integer(fields[3]), (0 ..< 128).contains(label) else { throw bad("bad class label '\(text(fields[3]))'") }
            func keys(_ field: ArraySlice<UInt8>) throws -> [Int] {
                try field.split(separator: UInt8(ascii: ",")).map { digits -> Int in
                    guard let key = Self.integer(digits), pianoKeys.contains(key) else { throw bad("bad key '\(text(digits))'") }
                    return key
                }
            }
            let notes = try keys(fields[4])
            let onsets = expected == 6 ? try keys(fields[5]) : nil
            if let onsets, !onsets.allSatisfy(notes.contains) { throw bad("onsets \(onsets) are not all sounding keys \(notes)") }
            guard set.imageStep(fields[2]) == step else { throw bad("file '\(text(fields[2]))' does not match step \(step)") }
            let file = text(fields[2])
            rows.append(Row(step: step, file: file, label: label, notes: notes, onsets: onsets))
        }
        guard rows.count == set.images else {
            throw FileError(labelsPath, "lists \(rows.count) thumbnails, thumbs.json says \(set.images)")
        }
        // One listing of the folder (a few getdents calls) rather than a lookup per thumbnail.
        let present = Self.imageSteps(in: path, set: set)
        for row in rows where !(present.map { $0[row.step] } ?? (access(path + "/" + row.file, F_OK) == 0)) {
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

extension ThumbnailFolder {
    /// The keys whose note ended just before row `i`: sounding at row i - 1 and either silent at
    /// row i or starting again there (onsets; a version 1 folder has none, so only silence
    /// counts). Empty for the first row. With `every` > 1 the rows are `every` steps apart.
    public func endedKeys(before i: Int) -> [Int] {
        guard i > 0 else { return [] }
        let previous = rows[i - 1], row = rows[i]
        return previous.notes.filter { !row.notes.contains($0) || (row.onsets?.contains($0) ?? false) }
    }

    /// A decimal integer written in ASCII digits with an optional minus sign, as `Int(String)`
    /// reads it; nil for anything else (empty, other characters, overflow).
    static func integer(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0, sign = 1, start = digits.startIndex
        if start < digits.endIndex, digits[start] == UInt8(ascii: "-") || digits[start] == UInt8(ascii: "+") {
            sign = digits[start] == UInt8(ascii: "-") ? -1 : 1
            start += 1
        }
        guard start < digits.endIndex else { return nil }
        for byte in digits[start...] {
            guard (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(byte) else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(sign * Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Per step of `set` (0 ..< set.steps), whether its JPEG (`set.imageName(step:)`) is among
    /// the entries of folder `path` (readdir; other names are ignored), or nil when it cannot be
    /// listed.
    static func imageSteps(in path: String, set: ThumbnailSet) -> [Bool]? {
        guard let folder = opendir(path) else { return nil }
        defer { closedir(folder) }
        var present = [Bool](repeating: false, count: max(0, set.steps))
        while let entry = readdir(folder) {
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let name = UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)])
                if let step = set.imageStep(name), step < present.count { present[step] = true }
            }
        }
        return present
    }
}
