import CBaselineJPEG
import CTurboJPEG
import Foundation

/// A TurboJPEG compressor for grayscale images; owns its handle. One per thread.
public final class JPEGEncoder {
    private let handle: tjhandle
    /// Quality 1...100.
    public let quality: Int

    /// Creates an encoder.
    public init(quality: Int) throws {
        guard let handle = tjInitCompress() else { throw FormatError("TurboJPEG: cannot create a compressor") }
        self.handle = handle
        self.quality = quality
    }

    deinit { tjDestroy(handle) }

    /// Compresses `pixels` (width x height bytes, row-major) as a baseline grayscale JPEG.
    public func encode(gray pixels: [UInt8], width: Int, height: Int) throws -> Data {
        precondition(pixels.count == width * height)
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = pixels.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_GRAY.rawValue),
                        &buffer, &size, Int32(TJSAMP_GRAY.rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            throw FormatError("TurboJPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Data(bytes: buffer, count: Int(size))
    }
}

/// A grayscale JPEG decoder: baseline one-component images (what `spectro` writes) through
/// CBaselineJPEG, which gives libjpeg-turbo's pixels without its per-image set-up; every other
/// JPEG, and every one CBaselineJPEG declines (anything libjpeg would warn about), through
/// TurboJPEG. Owns both decoders; one per thread.
public final class JPEGDecoder {
    private let handle: tjhandle
    private let baseline: OpaquePointer

    /// Creates a decoder.
    public init() throws {
        guard let handle = tjInitDecompress() else { throw FormatError("TurboJPEG: cannot create a decompressor") }
        guard let baseline = pk_jpeg_decoder_new() else {
            tjDestroy(handle)
            throw FormatError("cannot create a JPEG decoder: out of memory")
        }
        self.handle = handle
        self.baseline = baseline
    }

    deinit {
        tjDestroy(handle)
        pk_jpeg_decoder_free(baseline)
    }

    /// Decodes a JPEG to grayscale: width, height and row-major bytes.
    public func decodeGray(_ data: Data) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let bytes = [UInt8](data)
        let (width, height) = try grayHeader(bytes.withUnsafeBytes { $0 })
        var pixels = [UInt8](repeating: 0, count: width * height)
        _ = try bytes.withUnsafeBytes { jpeg in
            try pixels.withUnsafeMutableBufferPointer { try decodeGray(jpeg, into: $0.baseAddress!, ifSize: (width, height)) }
        }
        return (width, height, pixels)
    }

    /// The width and height a JPEG's header declares; throws for data that is not a JPEG or
    /// declares more than 2^28 pixels.
    public func grayHeader(_ jpeg: UnsafeRawBufferPointer) throws -> (width: Int, height: Int) {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard let base = jpeg.baseAddress,
              tjDecompressHeader3(handle, base.assumingMemoryBound(to: UInt8.self), UInt(jpeg.count), &width, &height, &subsampling, &colorspace) == 0,
              width > 0, height > 0, Int(width) * Int(height) <= 1 << 28
        else { throw FormatError("not a JPEG: \(String(cString: tjGetErrorStr2(handle)))") }
        return (Int(width), Int(height))
    }

    /// Decodes a JPEG to grayscale, row-major, into `pixels` (width x height bytes) when its header
    /// declares `size` (width, height); returns the size the header declares, and leaves `pixels`
    /// untouched when that is another. Throws for data that is not a JPEG, and for a JPEG that
    /// libjpeg-turbo decodes only with a warning (corrupt or truncated data).
    public func decodeGray(_ jpeg: UnsafeRawBufferPointer, into pixels: UnsafeMutablePointer<UInt8>,
                           ifSize size: (width: Int, height: Int)) throws -> (width: Int, height: Int) {
        var declaredWidth: Int32 = 0, declaredHeight: Int32 = 0
        if let base = jpeg.baseAddress, size.width <= 65500, size.height <= 65500 {
            let status = pk_jpeg_decode_gray(baseline, base.assumingMemoryBound(to: UInt8.self), jpeg.count, pixels,
                                             Int32(size.width), Int32(size.height), &declaredWidth, &declaredHeight)
            if status == Int32(PK_JPEG_DECODED) { return size }
            if status == Int32(PK_JPEG_OTHER_SIZE) { return (Int(declaredWidth), Int(declaredHeight)) }
        }
        let declared = try grayHeader(jpeg)
        guard declared == size else { return declared }
        let status = tjDecompress2(handle, jpeg.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(jpeg.count), pixels,
                                   Int32(size.width), 0, Int32(size.height), Int32(TJPF_GRAY.rawValue), 0)
        guard status == 0 else { throw FormatError("bad JPEG data: \(String(cString: tjGetErrorStr2(handle)))") }
        return size
    }
}
