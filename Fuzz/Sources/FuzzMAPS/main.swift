import FuzzSupport
import PianoKit

/// Parses the input as a MAPS note list, both as text (lossy UTF-8) and through `read(path:)`,
/// which does its own decoding (UTF-8, else Latin-1), and labels steps from the notes as ingest does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    _ = try? MAPSNoteList.parse(text, path: "fuzz.txt")
    let path = ScratchFile.holding(start, count, suffix: ".txt")
    guard let notes = try? MAPSNoteList.read(path: path) else { return 0 }
    // A fixed length stands in for the wav's: ingest labels the steps the audio has.
    _ = StepLabels(notes: notes, grid: TimeGrid(sampleRate: 44100, hop: 512), steps: 1000)
    return 0
}
