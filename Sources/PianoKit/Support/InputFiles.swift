import Foundation

/// A stage's command-line inputs expanded to files: files are taken as given, folders are walked
/// recursively for the file names a stage wants, hidden files and folders (a killed run's
/// `.partial-` outputs among them) skipped.
public enum InputFiles {
    /// The files `inputs` stand for, each folder's sorted; a missing input, or a folder holding no
    /// wanted file ("folder holds no `wanted`"), is a problem.
    public static func expand(_ inputs: [String], wanted: String, accept: (String) -> Bool) -> (files: [String], problems: [FileError]) {
        var files: [String] = [], problems: [FileError] = []
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                problems.append(FileError(input, "no such file or directory"))
                continue
            }
            guard isDirectory.boolValue else { files.append(input); continue }
            let found = walk(input, accept: accept)
            if found.isEmpty { problems.append(FileError(input, "folder holds no \(wanted)")) }
            files += found
        }
        return (files, problems)
    }

    /// The files under `root` whose names `accept` takes, sorted, named from `root` as given (a
    /// `root` that is a symbolic link to a folder is searched; links further down are not followed).
    static func walk(_ root: String, accept: (String) -> Bool) -> [String] {
        let resolved = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        guard let enumerator = FileManager.default.enumerator(atPath: resolved) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                enumerator.skipDescendants()
                continue
            }
            if accept(name) { files.append(root + "/" + relative) }
        }
        return files.sorted()
    }

    /// Whether `name`'s extension, lower-cased, is one of `extensions`.
    public static func hasExtension(_ name: String, in extensions: Set<String>) -> Bool {
        extensions.contains((name as NSString).pathExtension.lowercased())
    }
}

extension Encodable {
    /// Pretty JSON with sorted keys and a final newline, so equal values are equal bytes.
    public func prettyJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}
