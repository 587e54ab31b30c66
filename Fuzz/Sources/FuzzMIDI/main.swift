import PianoKit

/// Parses the input as a Standard MIDI File and extracts its notes and step labels as ingest does
/// (NoteFiles.readMIDI, then StepLabels), with and without the sustain pedal.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let file = try? MIDIReader.parse(bytes) else { return 0 }
    let performance = MIDIPerformance(file)
    let grid = TimeGrid(sampleRate: 44100, hop: 512)
    for sustain in [false, true] {
        // A fixed length stands in for the wav's: ingest labels the steps the audio has.
        _ = StepLabels(notes: performance.notes(sustain: sustain), grid: grid, steps: 1000)
    }
    return 0
}
