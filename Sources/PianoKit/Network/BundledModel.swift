import Foundation

/// The model that ships with the toolkit (`Sources/PianoKit/Resources/piano-keys88.safetensors`,
/// a SwiftPM resource; its model card is docs/model-card.md), used by `infer` when no model is given.
public enum BundledModel {
    /// The resource's file name.
    public static let fileName = "piano-keys88.safetensors"
    /// The folder SwiftPM copies the library's resources into, beside the executables.
    static let resourceFolder = "piano-thumbs_PianoKit.resources"

    /// The environment variable that names a model to use instead.
    public static let environmentVariable = "PIANO_THUMBS_MODEL"

    /// The places looked in beside the running executable (symbolic links resolved): the resource
    /// folder (where `swift build` puts it), then `../share/piano-thumbs/` (an installed layout,
    /// bin/ and share/ side by side).
    public static var candidates: [String] {
        guard let folder = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent().path else { return [] }
        return [folder + "/" + resourceFolder + "/" + fileName, folder + "/../share/piano-thumbs/" + fileName]
    }

    /// The model to use when none is given: `$PIANO_THUMBS_MODEL` when set (an error if it names no
    /// file), else the first of `candidates` that exists; throws naming every place looked in.
    public static func path() throws -> String {
        if let given = ProcessInfo.processInfo.environment[environmentVariable], !given.isEmpty {
            guard FileManager.default.isReadableFile(atPath: given) else {
                throw FileError(given, "\(environmentVariable) names a model that is not there")
            }
            return given
        }
        let places = candidates
        if let found = places.first(where: { FileManager.default.isReadableFile(atPath: $0) }) { return found }
        throw StageFailure("no model given and the bundled model \(fileName) is not installed; looked in: \(places.joined(separator: ", ")); pass --model FILE")
    }
}
