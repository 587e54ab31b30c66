import CBaselineJPEG
import CTurboJPEG
import Foundation
import PianoKit

/// One CBaselineJPEG decoder for the whole run, as pack keeps one per thread: the Huffman tables it
/// keeps from image to image are part of what is fuzzed.
let baseline = pk_jpeg_decoder_new()!
let turbo = tjInitDecompress()!

/// Decodes the input with CBaselineJPEG at the size its header declares (up to 256 x 256). Where
/// it does not decline, libjpeg-turbo must decode the same input without an error or a warning
/// (TurboJPEG reports both as -1) and give the same pixels; otherwise the run stops here. Then
/// `JPEGDecoder` (fast path or TurboJPEG) must return or throw, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = start.assumingMemoryBound(to: UInt8.self)
    var width: Int32 = 8, height: Int32 = 8, declaredWidth: Int32 = 0, declaredHeight: Int32 = 0
    var pixels = [UInt8](repeating: 0, count: 256 * 256)
    var status = pk_jpeg_decode_gray(baseline, bytes, count, &pixels, width, height, &declaredWidth, &declaredHeight)
    if status == Int32(PK_JPEG_OTHER_SIZE), declaredWidth <= 256, declaredHeight <= 256 {
        (width, height) = (declaredWidth, declaredHeight)
        status = pk_jpeg_decode_gray(baseline, bytes, count, &pixels, width, height, &declaredWidth, &declaredHeight)
    }
    if status == Int32(PK_JPEG_DECODED) {
        let n = Int(width) * Int(height)
        var reference = [UInt8](repeating: 0, count: n)
        let result = tjDecompress2(turbo, bytes, UInt(count), &reference, width, 0, height, Int32(TJPF_GRAY.rawValue), 0)
        guard result == 0 else { fatalError("CBaselineJPEG decoded what TurboJPEG refuses: \(String(cString: tjGetErrorStr2(turbo)))") }
        guard Array(pixels[0 ..< n]) == reference else { fatalError("CBaselineJPEG's pixels differ from TurboJPEG's (\(width)x\(height))") }
    }
    if let decoder = try? JPEGDecoder() {
        _ = try? decoder.decodeGray(Data(bytes: start, count: count))
    }
    return 0
}
