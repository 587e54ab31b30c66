import Foundation

/// A trained network on disk: safetensors with the network spec, the input shape and the audio
/// front end it was trained on in `__metadata__`, so that `infer` can rebuild it and refuse audio
/// settings it does not fit. Documented in `Schemas/model.md`.
public enum ModelFile {
    /// The value of the `format` metadata key.
    public static let formatName = "piano-model"
    /// The version this code writes. Version 1 files (a named architecture and a label kind instead
    /// of a spec) are still read.
    public static let currentVersion = 2

    /// The file's bytes: the network, and `stage` beside it when given.
    public static func encode(_ network: Network, frontEnd: ArchiveManifest.FrontEndRecord, extra: [String: String] = [:],
                              stage: TemporalStage? = nil) throws -> Data {
        var metadata = extra
        metadata["format"] = formatName
        metadata["version"] = String(currentVersion)
        metadata["network"] = try network.spec.json()
        metadata["input"] = try SafeTensors.jsonString([network.input.channels, network.input.height, network.input.width])
        metadata["frontEnd"] = try SafeTensors.jsonString(frontEnd)
        var tensors: [String: Tensor] = [:]
        for p in network.parameters { tensors[p.name] = Tensor(shape: p.shape, values: p.value) }
        if let stage {
            if let refusal = TemporalStage.refusal(frontEnd) { throw FormatError(refusal) }
            metadata[TemporalStage.metadataKey] = try SafeTensors.jsonString(stage.settings)
            tensors.merge(stage.tensors) { $1 }
        }
        return try SafeTensors.encode(tensors, metadata: metadata)
    }

    /// The spec and input shape a model's metadata names (version 1: from its architecture, label
    /// kind and square input size); throws `FormatError`.
    public static func network(in metadata: [String: String]) throws -> (spec: NetworkSpec, input: ActivationShape) {
        switch metadata["version"] {
        case "1":
            guard let named = metadata["architecture"].flatMap(NetworkSpec.Named.init(rawValue:)),
                  let head: HeadKind = metadata["labels"].flatMap({ ["single": .single, "multi": .frame][$0] }),
                  let size = metadata["inputSize"].flatMap(Int.init), (1 ... 1024).contains(size)
            else { throw FormatError("model metadata lacks a valid architecture, labels or inputSize") }
            return (.named(named, heads: [head]), ActivationShape(channels: 1, height: size, width: size))
        case String(currentVersion):
            guard let text = metadata["network"] else { throw FormatError("model metadata lacks the network spec") }
            let spec = try NetworkSpec.decode(Data(text.utf8))
            guard let dims = metadata["input"].flatMap({ try? JSONDecoder().decode([Int].self, from: Data($0.utf8)) }),
                  dims.count == 3, dims.allSatisfy((1 ... 1 << 16).contains) else {
                throw FormatError("model metadata lacks a valid input shape ([channels, rows, columns])")
            }
            return (spec, ActivationShape(channels: dims[0], height: dims[1], width: dims[2]))
        default:
            throw FormatError("model version \(metadata["version"] ?? "none") is not supported (this build reads 1 and \(currentVersion))")
        }
    }

    /// Reads a model file: checks its metadata, checks the tensors' size against the spec's before
    /// building anything, rebuilds the network and loads every tensor.
    public static func read(path: String) throws -> (network: Network, frontEnd: ArchiveManifest.FrontEndRecord, metadata: [String: String]) {
        let model = try readWithStage(path: path)
        return (model.network, model.frontEnd, model.metadata)
    }

    /// `read(path:)`, and the temporal stage stored beside the network (nil when there is none),
    /// checked as the network is: settings, tensor names and shapes, front end.
    public static func readWithStage(path: String) throws -> (network: Network, frontEnd: ArchiveManifest.FrontEndRecord, metadata: [String: String],
                                                               stage: TemporalStage?) {
        let bytes = try Paths.readBytes(path, limit: 1 << 30)
        do {
            var (tensors, metadata): ([String: Tensor], [String: String])
            do {
                (tensors, metadata) = try SafeTensors.decode(Data(bytes))
            } catch {
                // Not safetensors: a recording given where the model belongs says so (its magic bytes).
                guard let kind = audioKind(bytes) else { throw error }
                throw FormatError("a \(kind) audio file, not a model: did you swap the model and the audio?")
            }
            guard metadata["format"] == formatName else { throw FormatError("not a \(formatName) model (format '\(metadata["format"] ?? "none")')") }
            if metadata["checkpoint"] == "true" {
                throw FormatError("this is a training checkpoint (for train --resume), not a model: use \(modelPath(forCheckpoint: path))")
            }
            let (spec, input) = try network(in: metadata)
            guard let frontEndText = metadata["frontEnd"],
                  let frontEnd = try? JSONDecoder().decode(ArchiveManifest.FrontEndRecord.self, from: Data(frontEndText.utf8))
            else { throw FormatError("model metadata lacks a valid frontEnd") }
            let stage = try TemporalStage.take(from: &tensors, metadata: metadata, frontEnd: frontEnd)
            if stage != nil, !Set([HeadKind.frame, .onset]).isSubset(of: spec.heads.map(\.kind)) {
                throw FormatError("a temporal stage reads frame and onset heads; the \(spec.name) network has \(spec.heads.map(\.kind.rawValue))")
            }
            let needed = try spec.plan(input: input).parameters
            let stored = tensors.values.reduce(0) { $0 + $1.values.count }
            guard stored == needed else {
                throw FormatError("the tensors (\(stored) parameters) do not match the \(spec.name) network for \(input.height)x\(input.width) inputs the metadata names (\(needed))")
            }
            let network = try Network(spec, input: input, seed: 0)
            let expected = Set(network.parameters.map(\.name))
            guard Set(tensors.keys) == expected else {
                throw FormatError("tensors \(tensors.keys.sorted()) do not match the \(spec.name) network's \(expected.sorted())")
            }
            for p in network.parameters {
                let tensor = tensors[p.name]!
                guard tensor.shape == p.shape else { throw FormatError("tensor \(p.name) has shape \(tensor.shape), expected \(p.shape)") }
                p.value = tensor.values
            }
            return (network, frontEnd, metadata, stage)
        } catch let error as FormatError {
            throw FileError(path, error.message)
        }
    }

    /// Whether a command-line argument names a model file (by its extension).
    public static func isModelName(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".safetensors")
    }

    /// The model `train` wrote beside a checkpoint (`m.checkpoint.safetensors` → `m.safetensors`),
    /// or words for it when the checkpoint's name is not train's.
    static func modelPath(forCheckpoint path: String) -> String {
        let suffix = ".checkpoint.safetensors"
        guard path.hasSuffix(suffix) else { return "the model file train wrote beside it" }
        return String(path.dropLast(suffix.count)) + ".safetensors"
    }

    /// The audio format whose magic bytes `bytes` start with (RIFF/WAVE, FLAC, Ogg, MP3, AIFF), or nil:
    /// a recording given where a model belongs.
    public static func audioKind(_ bytes: [UInt8]) -> String? {
        func starts(_ text: String, at offset: Int = 0) -> Bool {
            let magic = Array(text.utf8)
            return bytes.count >= offset + magic.count && Array(bytes[offset ..< offset + magic.count]) == magic
        }
        if starts("RIFF") { return starts("WAVE", at: 8) ? "RIFF/WAVE" : "RIFF" }
        if starts("RF64") { return "RF64/WAVE" }
        if starts("fLaC") { return "FLAC" }
        if starts("OggS") { return "Ogg" }
        if starts("FORM") { return starts("AIFC", at: 8) ? "AIFF-C" : "AIFF" }
        if starts("ID3") { return "MP3 (ID3)" }
        // An MPEG audio frame: 11 sync bits, then a layer other than the reserved 00.
        if bytes.count >= 2, bytes[0] == 0xFF, bytes[1] & 0xE0 == 0xE0, bytes[1] & 0x06 != 0 { return "MPEG audio (MP3)" }
        return nil
    }
}
