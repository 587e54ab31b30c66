import CZlib
import Foundation

/// CRC-32 (the zip/zlib polynomial) over byte buffers, through zlib.
public enum CRC32 {
    /// Continues `crc` over `bytes`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = UInt(crc)
        var offset = 0
        while offset < bytes.count {  // zlib takes 32-bit lengths
            let length = min(bytes.count - offset, 1 << 30)
            value = crc32(value, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(length))
            offset += length
        }
        return UInt32(value)
    }

    /// The CRC-32 of `data`.
    public static func checksum(_ data: Data) -> UInt32 { data.withUnsafeBytes { update(0, $0) } }

    /// The CRC of A followed by B, from crc(A), crc(B) and B's length.
    public static func combine(_ a: UInt32, _ b: UInt32, lengthOfB: Int) -> UInt32 {
        UInt32(crc32_combine(UInt(a), UInt(b), off_t(lengthOfB)))
    }
}

/// Raw-deflate compression (no zlib or gzip wrapper, as zip members store it) of independent
/// blocks that concatenate into one valid stream.
///
/// Each block is compressed with the previous 32 KiB of input as its dictionary and ends on a
/// byte boundary (a sync flush), the last one with the final-block marker, in the manner of
/// pigz. A block's output depends only on its input and the 32 KiB before it, so blocks can be
/// compressed on several threads and the result is the same bytes whatever the thread count.
public struct BlockDeflater: Sendable {
    /// zlib compression level 0...9.
    public var level: Int32
    /// The window (and dictionary) size: 32 KiB.
    static let window = 32 * 1024

    /// Creates a deflater.
    public init(level: Int32 = 6) { self.level = level }

    /// Compresses `block` (`input[range]`), primed with the up to 32 KiB of `input` before it.
    public func compress(_ input: UnsafeRawBufferPointer, range: Range<Int>, last: Bool) throws -> Data {
        var stream = z_stream()
        guard czlib_deflate_init2(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK else {
            throw FormatError("zlib: cannot initialise deflate")
        }
        defer { deflateEnd(&stream) }
        let base = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let dictionaryStart = max(0, range.lowerBound - Self.window)
        if dictionaryStart < range.lowerBound {
            guard deflateSetDictionary(&stream, base + dictionaryStart, UInt32(range.lowerBound - dictionaryStart)) == Z_OK else {
                throw FormatError("zlib: cannot set the dictionary")
            }
        }
        var output = Data(count: Int(deflateBound(&stream, UInt(range.count))) + 16)
        let produced: Int = try output.withUnsafeMutableBytes { out in
            stream.next_in = UnsafeMutablePointer(mutating: base + range.lowerBound)
            stream.avail_in = UInt32(range.count)
            stream.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.avail_out = UInt32(out.count)
            let status = deflate(&stream, last ? Z_FINISH : Z_SYNC_FLUSH)
            guard status == (last ? Z_STREAM_END : Z_OK), stream.avail_in == 0 else {
                throw FormatError("zlib: deflate failed (\(status))")
            }
            return out.count - Int(stream.avail_out)
        }
        output.count = produced
        return output
    }
}

/// Incremental raw-inflate of one zip member: feed compressed bytes, take decompressed bytes.
public final class Inflater {
    private var stream = z_stream()
    /// Whether the final block has been decoded.
    public private(set) var finished = false

    /// Creates an inflater for raw deflate data.
    public init() throws {
        guard czlib_inflate_init2(&stream, -15) == Z_OK else { throw FormatError("zlib: cannot initialise inflate") }
    }

    deinit { inflateEnd(&stream) }

    /// Decompresses from `input` into `output`; returns (bytes of input used, bytes of output written).
    public func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> (used: Int, written: Int) {
        guard !finished, output.count > 0 else { return (0, 0) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(input.count)
        stream.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = UInt32(output.count)
        let status = CZlib.inflate(&stream, Z_NO_FLUSH)
        switch status {
        case Z_STREAM_END: finished = true
        case Z_OK, Z_BUF_ERROR: break
        default:
            let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw FormatError("corrupt compressed data (\(message))")
        }
        return (input.count - Int(stream.avail_in), output.count - Int(stream.avail_out))
    }
}
