import Foundation
import Testing
@testable import PianoKit

/// The library side of issue 16's common mistakes: audio known by its magic bytes where a model
/// belongs, errors that name the output rather than its temporary, output probes, settings
/// differences in words, and input identities.
@Suite struct MistakeTests {
    func scratch() throws -> String {
        let folder = NSTemporaryDirectory() + "mistakes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func audioKnownByMagicBytes() {
        func kind(_ text: String, _ tail: [UInt8] = []) -> String? { ModelFile.audioKind(Array(text.utf8) + tail) }
        #expect(kind("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ") == "RIFF/WAVE")
        #expect(kind("fLaC") == "FLAC")
        #expect(kind("OggS") == "Ogg")
        #expect(kind("ID3\u{4}") == "MP3 (ID3)")
        #expect(kind("FORM\u{0}\u{0}\u{0}\u{0}AIFF") == "AIFF")
        #expect(ModelFile.audioKind([0xFF, 0xFB, 0x90, 0x00]) == "MPEG audio (MP3)")
        // A safetensors length word is not audio.
        #expect(ModelFile.audioKind([0x10, 0x02, 0, 0, 0, 0, 0, 0, 0x7B]) == nil)
    }

    @Test func audioGivenAsModelSaysSwapped() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/song.wav"
        try WavWriter.write(samples: [Int16](repeating: 0, count: 441), channels: 1, sampleRate: 44100, to: path)
        #expect(throws: FileError(path, "a RIFF/WAVE audio file, not a model: did you swap the model and the audio?")) {
            try ModelFile.read(path: path)
        }
    }

    @Test func checkpointNamesItsModel() {
        #expect(ModelFile.modelPath(forCheckpoint: "runs/m.checkpoint.safetensors") == "runs/m.safetensors")
        #expect(ModelFile.modelPath(forCheckpoint: "odd.safetensors") == "the model file train wrote beside it")
        #expect(ModelFile.isModelName("M.SafeTensors") && !ModelFile.isModelName("song.wav"))
    }

    @Test func errorsNameTheOutputNotItsTemporary() {
        let temporary = "/out/.partial-host.1-2-song"
        let inside = FileError(temporary + "/000001.jpg", "cannot create: No space left on device")
        #expect(inside.replacingTemporary(temporary, with: "/out/song").path == "/out/song/000001.jpg")
        let said = FileError("/out/song", "cannot write \(temporary)")
        #expect(said.replacingTemporary(temporary, with: "/out/song").message == "cannot write /out/song")
    }

    @Test func unwritableOutputFailsAtTheProbeNamingThePath() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let blocker = folder + "/blocker"
        try Data("a file".utf8).write(to: URL(fileURLWithPath: blocker))
        #expect(throws: FileError.self) { try AtomicWrite.probeFile(blocker + "/model.safetensors") }
        do {
            try AtomicWrite.probeFile("/proc/x.safetensors")
            Issue.record("/proc took a file")
        } catch let error as FileError {
            #expect(error.path == "/proc/x.safetensors" && !error.description.contains(AtomicWrite.temporaryPrefix))
        }
        do {
            try AtomicWrite.write(Data("x".utf8), to: "/proc/x.txt")
            Issue.record("/proc took a file")
        } catch let error as FileError {
            #expect(error.path == "/proc/x.txt" && !error.description.contains(AtomicWrite.temporaryPrefix))
        }
        // A probe leaves nothing behind, and a folder created for a run that made nothing goes again.
        let out = folder + "/new"
        #expect(try AtomicWrite.prepareOutputDirectory(out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
        #expect(try !AtomicWrite.prepareOutputDirectory(out))
        AtomicWrite.removeIfEmpty(out)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func settingsDifferencesInWords() throws {
        let old = Data(#"{"model": "m", "options": {"decoder": {"minNoteSeconds": 0.05, "heads": ["frame"]}, "batch": 256}, "inputs": {"a": 1}}"#.utf8)
        let new = Data(#"{"model": "m", "options": {"decoder": {"minNoteSeconds": 0.08, "heads": ["frame"]}, "batch": 256}, "inputs": {}}"#.utf8)
        #expect(SettingsDifference.describe(old: old, new: new, ignoring: ["inputs"]) == ["options.decoder.minNoteSeconds 0.05 → 0.08"])
        let line = SettingsDifference.warning(folder: "out", differences: ["hop 512 → 256"])
        #expect(line == "warning: out: holds outputs made with other settings (hop 512 → 256); those of this run's inputs are remade")
    }

    @Test func inputIdentityTellsFilesApart() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data("one".utf8).write(to: URL(fileURLWithPath: folder + "/piece.flac"))
        try Data("other".utf8).write(to: URL(fileURLWithPath: folder + "/piece.mp3"))
        let flac = try #require(InputIdentity(of: folder + "/piece.flac")), mp3 = try #require(InputIdentity(of: folder + "/piece.mp3"))
        #expect(flac != mp3 && flac.bytes == 3 && flac.path.hasSuffix("/piece.flac"))
        #expect(InputIdentity(of: folder + "/missing.wav") == nil)
    }

    @Test func onceFlag() {
        let flag = OnceFlag()
        #expect(flag.first() && !flag.first() && !flag.first())
    }
}
