import Foundation

/// What was written for one zip member: enough for the central directory and the manifest.
public struct ZipMemberRecord: Sendable, Equatable {
    /// Member name.
    public var name: String
    /// Offset of its local header.
    public var offset: Int
    /// CRC-32 of the uncompressed bytes.
    public var crc: UInt32
    /// Compressed size.
    public var compressedSize: Int
    /// Uncompressed size.
    public var size: Int
    /// SHA-256 of the member's stored (compressed) bytes as they sit in the file, hex.
    public var sha256: String
    /// Whether its headers carry zip64 sizes.
    public var zip64: Bool
}

/// Writes a zip file member by member, deflating each member's bytes in parallel blocks as they
/// stream in, so memory stays bounded by the block size however large a member is.
///
/// The output is deterministic: fixed timestamps (1980-01-01 00:00), members in the order added,
/// and block boundaries at fixed offsets whatever the thread count. Zip64 headers are used for a
/// member whose size could pass 4 GiB and for the end records when offsets or counts need them
/// (or always, with `forceZip64`, which tests use).
public final class ZipWriter {
    let fd: Int32
    let path: String
    let deflater: BlockDeflater
    let threads: Int
    let forceZip64: Bool
    private(set) var offset = 0
    private(set) var members: [ZipMemberRecord] = []

    /// Uncompressed bytes per deflate block.
    static let blockSize = 1 << 20

    /// Creates (truncates) `path`; `threads` compress blocks in parallel.
    public init(path: String, level: Int32 = 6, threads: Int = 1, forceZip64: Bool = false) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw FileError(path, "cannot create: \(String(cString: strerror(errno)))") }
        self.path = path
        deflater = BlockDeflater(level: level)
        self.threads = max(1, threads)
        self.forceZip64 = forceZip64
    }

    deinit { close(fd) }

    /// Adds a member whose `size` bytes `produce` writes into the sink, in any number of pieces.
    /// `level` overrides the writer's compression level for this member.
    @discardableResult
    public func addMember(_ name: String, size: Int, level: Int32? = nil, _ produce: (MemberSink) throws -> Void) throws -> ZipMemberRecord {
        let zip64 = forceZip64 || size >= 0xFFFF_0000
        let headerOffset = offset
        let nameBytes = Array(name.utf8)
        try write(localHeader(name: nameBytes, crc: 0, compressed: 0, size: size, zip64: zip64))
        let sink = MemberSink(writer: self, deflater: level.map { BlockDeflater(level: $0) } ?? deflater, size: size)
        try produce(sink)
        let (crc, compressed, written, sha) = try sink.finish()
        guard written == size else {
            throw FileError(path, "member \(name): \(written) bytes written, \(size) declared")
        }
        // Fill in the local header's CRC and sizes now that they are known.
        let header = localHeader(name: nameBytes, crc: crc, compressed: compressed, size: size, zip64: zip64)
        guard pwrite(fd, header, header.count, off_t(headerOffset)) == header.count else {
            throw FileError(path, "cannot update a local header: \(String(cString: strerror(errno)))")
        }
        let record = ZipMemberRecord(name: name, offset: headerOffset, crc: crc, compressedSize: compressed, size: size, sha256: sha, zip64: zip64)
        members.append(record)
        return record
    }

    /// Adds a member held in memory.
    @discardableResult
    public func addMember(_ name: String, data: Data, level: Int32? = nil) throws -> ZipMemberRecord {
        try addMember(name, size: data.count, level: level) { try $0.write(data) }
    }

    /// Writes the central directory and end records; the file is complete after this.
    public func finish() throws {
        let directoryOffset = offset
        for member in members {
            var extra: [UInt8] = []
            let big = member.zip64 || member.offset >= 0xFFFF_FFFF
            if big {
                extra = le16(0x0001) + le16(24) + le64(member.size) + le64(member.compressedSize) + le64(member.offset)
            }
            let name = Array(member.name.utf8)
            var entry = le32(0x0201_4B50) + le16(45) + le16(big ? 45 : 20) + le16(0) + le16(8) + le16(0) + le16(0x21)
            entry += le32(Int(member.crc))
            entry += big ? le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) : le32(member.compressedSize) + le32(member.size)
            entry += le16(name.count) + le16(extra.count) + le16(0) + le16(0) + le16(0) + le32(0o100644 << 16)
            entry += big ? le32(0xFFFF_FFFF) : le32(member.offset)
            try write(entry + name + extra)
        }
        let directorySize = offset - directoryOffset
        let zip64 = forceZip64 || members.count >= 0xFFFF || directoryOffset >= 0xFFFF_FFFF || members.contains(where: \.zip64)
        if zip64 {
            let recordOffset = offset
            try write(le32(0x0606_4B50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
                      + le64(members.count) + le64(members.count) + le64(directorySize) + le64(directoryOffset))
            try write(le32(0x0706_4B50) + le32(0) + le64(recordOffset) + le32(1))
        }
        let count = zip64 ? 0xFFFF : members.count
        try write(le32(0x0605_4B50) + le16(0) + le16(0) + le16(count) + le16(count)
                  + le32(zip64 ? 0xFFFF_FFFF : directorySize) + le32(zip64 ? 0xFFFF_FFFF : directoryOffset) + le16(0))
        guard fsync(fd) == 0 || errno == EINVAL else { throw FileError(path, "cannot flush: \(String(cString: strerror(errno)))") }
    }

    func localHeader(name: [UInt8], crc: UInt32, compressed: Int, size: Int, zip64: Bool) -> [UInt8] {
        var header = le32(0x0403_4B50) + le16(zip64 ? 45 : 20) + le16(0) + le16(8) + le16(0) + le16(0x21) + le32(Int(crc))
        header += zip64 ? le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) : le32(compressed) + le32(size)
        header += le16(name.count) + le16(zip64 ? 20 : 0) + name
        if zip64 { header += le16(0x0001) + le16(16) + le64(size) + le64(compressed) }
        return header
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            guard n > 0 else { throw FileError(path, "write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
        offset += bytes.count
    }

    /// Receives one member's bytes, compresses them in rounds of blocks (in parallel), and writes them.
    public final class MemberSink {
        private let writer: ZipWriter
        private let deflater: BlockDeflater
        /// Up to 32 KiB of dictionary (the end of the previous round), then the pending bytes.
        private var buffer: [UInt8]
        private var dictionary = 0
        private var filled = 0
        private var crc: UInt32 = 0
        private var sha = SHA256()
        private var compressed = 0
        private var total = 0
        /// Blocks per round: twice the threads, so that threads finishing early find more work.
        private let roundSize: Int

        /// A sink for a member of `size` bytes (a small member gets a small buffer; the size is
        /// checked in `addMember`, not here).
        init(writer: ZipWriter, deflater: BlockDeflater, size: Int) {
            self.writer = writer
            self.deflater = deflater
            roundSize = max(1, min(size, ZipWriter.blockSize * 2 * writer.threads))
            buffer = [UInt8](repeating: 0, count: BlockDeflater.window + roundSize)
        }

        /// Appends bytes to the member.
        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                // A full round is compressed only once more bytes come, so that the member's last
                // bytes always reach finish() and end in a real final block.
                if filled - dictionary == roundSize { try flush(last: false) }
                let take = min(bytes.count - done, roundSize - (filled - dictionary))
                buffer.withUnsafeMutableBytes { ($0.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + done, byteCount: take) }
                filled += take
                done += take
            }
        }

        /// Appends bytes to the member.
        public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

        /// Appends bytes to the member.
        public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

        /// Compresses the pending bytes as whole blocks (the last one final if `last`), in parallel,
        /// with the CRC-32 of the pending bytes computed on one more thread meanwhile; the SHA-256
        /// covers the compressed bytes as they are written.
        private func flush(last: Bool) throws {
            let start = dictionary, end = filled
            var blocks: [Range<Int>] = stride(from: start, to: end, by: ZipWriter.blockSize).map { $0 ..< min(end, $0 + ZipWriter.blockSize) }
            if blocks.isEmpty && last { blocks = [end ..< end] }
            let ranges = blocks
            let deflater = self.deflater
            let checks = RunningChecks(crc: crc)
            let slots = SendableSlots(count: ranges.count)
            buffer.withUnsafeBytes { whole in
                let shared = SendableRawBuffer(UnsafeRawBufferPointer(rebasing: whole[0 ..< end]))
                DispatchQueue.concurrentPerform(iterations: ranges.count + 1) { i in
                    if i == ranges.count {
                        checks.update(UnsafeRawBufferPointer(rebasing: shared.buffer[start ..< end]))
                        return
                    }
                    do {
                        slots.set(i, try deflater.compress(shared.buffer, range: ranges[i], last: last && i == ranges.count - 1))
                    } catch {
                        slots.fail(error)
                    }
                }
            }
            let outputs = slots.values
            let failure = slots.failure
            if let failure { throw failure }
            for case let data? in outputs {
                try data.withUnsafeBytes {
                    try writer.write($0)
                    sha.update($0)
                }
                compressed += data.count
            }
            crc = checks.crc
            total += end - start
            // Keep the last 32 KiB as the next round's dictionary.
            let keep = min(BlockDeflater.window, filled)
            buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: $0.baseAddress! + filled - keep, byteCount: keep) }
            dictionary = keep
            filled = keep
        }

        func finish() throws -> (UInt32, Int, Int, String) {
            try flush(last: true)
            return (crc, compressed, total, sha.hexDigest())
        }
    }
}

/// A raw buffer read (never written) by several threads.
struct SendableRawBuffer: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }
}

/// Result slots filled by several threads, and the first error any of them met.
final class SendableSlots: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Data?]
    private(set) var failure: (any Error)?
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Data) { lock.lock(); values[i] = value; lock.unlock() }
    func fail(_ error: any Error) { lock.lock(); if failure == nil { failure = error }; lock.unlock() }
}

/// The CRC-32 of a member so far, advanced by one thread while others compress.
final class RunningChecks: @unchecked Sendable {
    var crc: UInt32
    init(crc: UInt32) { self.crc = crc }
    func update(_ bytes: UnsafeRawBufferPointer) { crc = CRC32.update(crc, bytes) }
}

func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
func le32(_ v: Int) -> [UInt8] { (0 ..< 4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func le64(_ v: Int) -> [UInt8] { (0 ..< 8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
