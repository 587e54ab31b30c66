import Foundation

/// The model that ships with the toolkit (`Sources/PianoKit/Resources/piano-keys88.safetensors`,
/// a SwiftPM resource; its model card is docs/model-card.md), used by `infer` when no model is given.
public enum BundledModel {
    /// The resource's file name.
    public static let fileName = "piano-keys88.safetensors"
    /// The folder SwiftPM copies the library's resources into, beside the executables.
    static let resourceFolder = "piano-thumbs_PianoKit.resources"

    /// The places looked in, in order: `$PIANO_THUMBS_MODEL`; the resource folder beside the
    /// running executable (where `swift build` puts it); `../share/piano-thumbs/` from the
    /// executable's folder (an installed layout: bin/ and share/ side by side).
    public static func candidates(executable: String = CommandLine.arguments.first ?? "") -> [String] {
        var result: [String] = []
        if let path = ProcessInfo.processInfo.environment["PIANO_THUMBS_MODEL"], !path.isEmpty { result.append(path) }
        let resolved = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        var folders = [resolved.deletingLastPathComponent().path]
        if let main = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent().path, !folders.contains(main) { folders.append(main) }
        for folder in folders {
            result.append(folder + "/" + resourceFolder + "/" + fileName)
            result.append(folder + "/../share/piano-thumbs/" + fileName)
        }
        return result
    }

    /// The bundled model's path; throws naming every place looked in when none has it, or naming
    /// `$PIANO_THUMBS_MODEL` when that is set to a file that is not there.
    public static func path() throws -> String {
        if let given = ProcessInfo.processInfo.environment["PIANO_THUMBS_MODEL"], !given.isEmpty,
           !FileManager.default.isReadableFile(atPath: given) {
            throw FileError(given, "PIANO_THUMBS_MODEL names a model that is not there")
        }
        let places = candidates()
        if let found = places.first(where: { FileManager.default.isReadableFile(atPath: $0) }) { return found }
        throw StageFailure("no model given and the bundled model \(fileName) is not installed; looked in: \(places.joined(separator: ", ")); pass --model FILE")
    }
}
