import FuzzSupport
import PianoKit

/// Opens the input as an audio file through libsndfile (as ingest, spectro and infer do), reads
/// it whole as mono, then again in chunks after a seek (as the corpus renderer does).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = ScratchFile.holding(start, count, suffix: ".wav")
    guard let reader = try? SoundFileReader(path: path) else { return 0 }
    _ = try? reader.readMono()
    guard (try? reader.seek(toFrame: 0)) != nil else { return 0 }
    while !reader.readFloat(frames: 4096).isEmpty {}
    return 0
}
