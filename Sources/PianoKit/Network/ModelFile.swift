import Foundation

/// A trained network on disk: safetensors with the architecture, label kind, input size and the
/// audio front end it was trained on in `__metadata__`, so that `infer` can rebuild it and refuse
/// audio settings it does not fit. Documented in `Schemas/model.md`.
public enum ModelFile {
    /// The value of the `format` metadata key.
    public static let formatName = "piano-model"
    /// The version this code writes and reads.
    public static let currentVersion = 1

    /// The file's bytes.
    public static func encode(_ network: Network, frontEnd: ArchiveManifest.FrontEndRecord, extra: [String: String] = [:]) throws -> Data {
        var metadata = extra
        metadata["format"] = formatName
        metadata["version"] = String(currentVersion)
        metadata["architecture"] = network.architecture.rawValue
        metadata["labels"] = network.labels.rawValue
        metadata["inputSize"] = String(network.input.height)
        metadata["frontEnd"] = try SafeTensors.jsonString(frontEnd)
        var tensors: [String: Tensor] = [:]
        for p in network.parameters { tensors[p.name] = Tensor(shape: p.shape, values: p.value) }
        return try SafeTensors.encode(tensors, metadata: metadata)
    }

    /// Reads a model file: checks its metadata, rebuilds the network and loads every tensor.
    public static func read(path: String) throws -> (network: Network, frontEnd: ArchiveManifest.FrontEndRecord, metadata: [String: String]) {
        let bytes = try Paths.readBytes(path, limit: 1 << 30)
        do {
            let (tensors, metadata) = try SafeTensors.decode(Data(bytes))
            guard metadata["format"] == formatName else { throw FormatError("not a \(formatName) model (format '\(metadata["format"] ?? "none")')") }
            guard metadata["version"] == String(currentVersion) else { throw FormatError("model version \(metadata["version"] ?? "none") is not supported") }
            guard let architecture = metadata["architecture"].flatMap(Architecture.init(rawValue:)),
                  let labels = metadata["labels"].flatMap(LabelKind.init(rawValue:)),
                  let size = metadata["inputSize"].flatMap(Int.init), (1 ... 1024).contains(size),
                  let frontEndText = metadata["frontEnd"],
                  let frontEnd = try? JSONDecoder().decode(ArchiveManifest.FrontEndRecord.self, from: Data(frontEndText.utf8))
            else { throw FormatError("model metadata lacks a valid architecture, labels, inputSize or frontEnd") }
            let stored = tensors.values.reduce(0) { $0 + $1.values.count }, needed = Network.parameterCount(architecture, labels: labels, size: size)
            guard stored == needed else {
                throw FormatError("the tensors (\(stored) parameters) do not match the \(architecture.rawValue) network for \(size)x\(size) inputs the metadata names (\(needed))")
            }
            let network = Network(architecture, labels: labels, size: size, seed: 0)
            let expected = Set(network.parameters.map(\.name))
            guard Set(tensors.keys) == expected else {
                throw FormatError("tensors \(tensors.keys.sorted()) do not match a \(architecture.rawValue) network's \(expected.sorted())")
            }
            for p in network.parameters {
                let tensor = tensors[p.name]!
                guard tensor.shape == p.shape else { throw FormatError("tensor \(p.name) has shape \(tensor.shape), expected \(p.shape)") }
                p.value = tensor.values
            }
            return (network, frontEnd, metadata)
        } catch let error as FormatError {
            throw FileError(path, error.message)
        }
    }
}
