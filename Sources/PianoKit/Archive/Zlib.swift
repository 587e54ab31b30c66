import CDeflate
import CDeflateScan
import CZlib
import Foundation

/// CRC-32 (the zip/zlib polynomial) over byte buffers: libdeflate's (carry-less multiplication
/// where the CPU has it; several times zlib 1.2's speed here), combined through zlib.
public enum CRC32 {
    /// Continues `crc` over `bytes`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        return libdeflate_crc32(crc, base, bytes.count)
    }

    /// The CRC-32 of `data`.
    public static func checksum(_ data: Data) -> UInt32 { data.withUnsafeBytes { update(0, $0) } }

    /// The CRC of A followed by B, from crc(A), crc(B) and B's length.
    public static func combine(_ a: UInt32, _ b: UInt32, lengthOfB: Int) -> UInt32 {
        UInt32(crc32_combine(UInt(a), UInt(b), off_t(lengthOfB)))
    }
}

/// Raw-deflate compression (no zlib or gzip wrapper, as zip members store it) of independent
/// blocks that concatenate into one valid stream, through libdeflate (about twice zlib's speed
/// at level 6 here, and smaller output: `bench/pack.sh`).
///
/// Each block is a whole libdeflate stream of its own input. Every block but the member's last is
/// then made a continuation: the final-block bit of its last deflate block is cleared and an empty
/// stored block follows, which ends the block on a byte boundary (what zlib's sync flush writes;
/// the bit positions come from walking the block's codes, `finalBlockBits`). A block's bytes
/// depend only on its own input, so blocks can be compressed on several threads and the result is
/// the same bytes whatever the thread count.
public struct BlockDeflater: Sendable {
    /// Compression level: 0 (stored) to 12 (libdeflate's slowest); zlib's 1-9 mean about the same.
    public var level: Int32
    /// Bytes of the previous block the writer keeps in front of a block (unused by the
    /// compression itself: blocks are independent).
    static let window = 32 * 1024
    /// Compressors and output buffers of earlier blocks, for the next ones.
    private let workspaces = Workspaces()

    /// Creates a deflater.
    public init(level: Int32 = 6) { self.level = level }

    /// Compresses `input[range]`; `last` marks the member's final block. Safe to call from
    /// several threads at once: each call takes a compressor and output buffer of its own (kept
    /// for later calls, so that their memory is not allocated and faulted in block after block).
    public func compress(_ input: UnsafeRawBufferPointer, range: Range<Int>, last: Bool) throws -> Data {
        let workspace = try workspaces.take(level: level)
        defer { workspaces.giveBack(workspace) }
        let bound = libdeflate_deflate_compress_bound(workspace.compressor, range.count)
        let output = workspace.output(capacity: bound + 8)  // + 8: the continuation's stored block
        let produced = libdeflate_deflate_compress(workspace.compressor, input.baseAddress! + range.lowerBound, range.count, output, bound)
        guard produced > 0 else { throw FormatError("libdeflate: compression failed (bound \(bound) bytes)") }
        let length = last ? produced : try Self.continuation(UnsafeMutableRawBufferPointer(start: output, count: bound + 8), length: produced, size: range.count)
        return Data(bytes: output, count: length)
    }

    /// Makes the complete raw-deflate stream of `size` input bytes in `stream[0 ..< length]`
    /// continue, in place: its last block no longer final, followed by an empty stored block
    /// (3 zero bits, zero bits to the byte boundary, then 00 00 FF FF). Returns the new length
    /// (at most `length` + 5; `stream` must have room for it).
    static func continuation(_ stream: UnsafeMutableRawBufferPointer, length: Int, size: Int) throws -> Int {
        let (lastHeader, end) = try finalBlockBits(UnsafeRawBufferPointer(rebasing: stream[0 ..< length]), size: size)
        stream[lastHeader / 8] &= ~UInt8(1 << (lastHeader % 8))
        // Clear the padding after the stream's end, where the stored block's header goes, then
        // add the header's 3 zero bits and the zero bits up to the byte boundary.
        var count = (end + 7) / 8
        if end % 8 != 0 { stream[count - 1] &= UInt8((1 << (end % 8)) - 1) }
        while count < (end + 3 + 7) / 8 { stream[count] = 0; count += 1 }
        for byte: UInt8 in [0, 0, 0xFF, 0xFF] { stream[count] = byte; count += 1 }
        return count
    }

    /// The bit offsets (from the stream's first byte, least significant bit first) of the last
    /// block's header and of the stream's end, found by walking its blocks' codes without
    /// producing output (`pk_deflate_scan`; about 10% of pack's time went to inflating each block
    /// with zlib for this before).
    static func finalBlockBits(_ stream: UnsafeRawBufferPointer, size: Int) throws -> (lastHeader: Int, end: Int) {
        var header: UInt64 = 0, end: UInt64 = 0
        let status = pk_deflate_scan(stream.baseAddress!.assumingMemoryBound(to: UInt8.self), stream.count, &header, &end)
        guard status == 0 else { throw FormatError("libdeflate's block of \(size) bytes is not a complete deflate stream") }
        return (Int(header), Int(end))
    }

    /// A libdeflate compressor and an output buffer, used by one block at a time.
    final class Workspace {
        let compressor: OpaquePointer
        let level: Int32
        private var buffer: UnsafeMutableRawPointer?
        private var capacity = 0

        init(level: Int32) throws {
            guard let compressor = libdeflate_alloc_compressor(level) else {
                throw FormatError("libdeflate: cannot create a compressor at level \(level)")
            }
            self.compressor = compressor
            self.level = level
        }

        deinit {
            libdeflate_free_compressor(compressor)
            buffer?.deallocate()
        }

        /// At least `capacity` bytes, uninitialised (kept from the last call when large enough).
        func output(capacity: Int) -> UnsafeMutableRawPointer {
            if let buffer, self.capacity >= capacity { return buffer }
            buffer?.deallocate()
            buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
            self.capacity = capacity
            return buffer!
        }
    }

    /// The idle workspaces, shared by the copies of one deflater (as many as threads used it at once).
    final class Workspaces: @unchecked Sendable {
        private let lock = NSLock()
        private var idle: [Workspace] = []

        func take(level: Int32) throws -> Workspace {
            lock.lock()
            let kept = idle.popLast()
            lock.unlock()
            if let kept, kept.level == level { return kept }
            return try Workspace(level: level)
        }

        func giveBack(_ workspace: Workspace) {
            lock.lock()
            idle.append(workspace)
            lock.unlock()
        }
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
