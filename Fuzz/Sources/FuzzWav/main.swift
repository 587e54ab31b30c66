import FuzzSupport
import PianoKit

/// Opens the input as an audio file through libsndfile (as ingest, spectro and infer do: wav,
/// flac, aiff, Ogg Vorbis/Opus and mp3 are told apart by their bytes, not the name), reads it
/// whole as mono, resamples it to 44.1 kHz with libsoxr as they do when its rate differs, then
/// reads it again in chunks after a seek (as the corpus renderer does).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = ScratchFile.holding(start, count, suffix: ".wav")
    guard let reader = try? SoundFileReader(path: path) else { return 0 }
    // The stages refuse rates outside Resampler.rates before reading; a header's frame count can
    // be huge, so only files whose resampled length stays small are resampled here.
    if Resampler.rates.contains(reader.info.sampleRate),
       Resampler.outputLength(frames: reader.info.frames, from: reader.info.sampleRate, to: 44100) <= 1 << 22 {
        _ = try? reader.readMono(resampledTo: 44100)
    } else {
        _ = try? reader.readMono()
    }
    guard (try? reader.seek(toFrame: 0)) != nil else { return 0 }
    while !reader.readFloat(frames: 4096).isEmpty {}
    return 0
}
