import PianoKit

/// Parses the input as a Standard MIDI File and extracts its notes and step labels as ingest does
/// (NoteFiles.readMIDI, then StepLabels), with and without the sustain pedal. The strict parse
/// (ingest --strict) runs too; it must never accept what the tolerant one refuses.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    var warnings = 0
    let tolerant = try? MIDIReader.parse(bytes) { _ in warnings += 1 }
    let strict = try? MIDIReader.parse(bytes, strict: true)
    if tolerant == nil && strict != nil { fatalError("strict parse accepted what the tolerant one refused") }
    if let strict, strict != tolerant || warnings > 0 { fatalError("a strictly valid file read differently, or with warnings") }
    guard let file = tolerant else { return 0 }
    let performance = MIDIPerformance(file)
    let grid = TimeGrid(sampleRate: 44100, hop: 512)
    for sustain in [false, true] {
        // A fixed length stands in for the wav's: ingest labels the steps the audio has.
        _ = StepLabels(notes: performance.notes(sustain: sustain), grid: grid, steps: 1000)
    }
    return 0
}
