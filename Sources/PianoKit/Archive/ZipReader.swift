import Foundation

/// Reads a zip file's central directory and streams its members back, checking every length
/// against the file and every member's CRC-32 (and, on request, its SHA-256).
public final class ZipReader {
    /// One member, as the central directory lists it.
    public struct Entry: Sendable, Equatable {
        /// Member name.
        public var name: String
        /// 0 (stored) or 8 (deflated).
        public var method: Int
        /// CRC-32 of the uncompressed bytes.
        public var crc: UInt32
        /// Compressed size.
        public var compressedSize: Int
        /// Uncompressed size.
        public var size: Int
        /// Offset of the local header.
        public var offset: Int
    }

    /// The file's path.
    public let path: String
    /// The members, in central-directory order.
    public let entries: [Entry]
    let handle: FileHandle
    let fileSize: Int

    /// More members than this is not an archive of ours.
    static let maximumEntries = 100_000

    /// Opens `path` and reads its central directory.
    public init(path: String) throws {
        try Paths.requireFile(path, missing: "no such file", kind: "an archive")
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileError(path, "cannot open") }
        self.path = path
        self.handle = handle
        do {
            fileSize = Int(try handle.seekToEnd())
            entries = try Self.readDirectory(handle, fileSize: fileSize)
        } catch let error as FormatError {
            throw FileError(path, error.message)
        } catch {
            throw FileError(path, "cannot read: \(error.localizedDescription)")
        }
    }

    /// The entry named `name`.
    public func entry(_ name: String) throws -> Entry {
        guard let entry = entries.first(where: { $0.name == name }) else { throw FileError(path, "no member '\(name)'") }
        return entry
    }

    static func read(_ handle: FileHandle, at offset: Int, count: Int) throws -> [UInt8] {
        try handle.seek(toOffset: UInt64(offset))
        let data = try handle.read(upToCount: count) ?? Data()
        guard data.count == count else { throw FormatError("truncated: wanted \(count) bytes at \(offset)") }
        return [UInt8](data)
    }

    static func readDirectory(_ handle: FileHandle, fileSize: Int) throws -> [Entry] {
        guard fileSize >= 22 else { throw FormatError("not a zip archive (\(fileSize) bytes)") }
        // The end record is in the last 22 + 65535 bytes; search backwards for its signature.
        let tailLength = min(fileSize, 22 + 0xFFFF)
        let tail = try read(handle, at: fileSize - tailLength, count: tailLength)
        guard let end = stride(from: tail.count - 22, through: 0, by: -1).first(where: { u32(tail, $0) == 0x0605_4B50 }) else {
            throw FormatError("not a zip archive, or truncated (no end-of-central-directory record)")
        }
        var count = Int(u16(tail, end + 10)), directorySize = Int(u32(tail, end + 12)), directoryOffset = Int(u32(tail, end + 16))
        let endOffset = fileSize - tailLength + end
        if endOffset >= 20, u32(try read(handle, at: endOffset - 20, count: 4), 0) == 0x0706_4B50 {
            let locator = try read(handle, at: endOffset - 20, count: 20)
            // 64-bit fields are clamped (2^63 and up do not fit an Int, and fail the checks as Int.max),
            // and the checks subtract rather than add, so that no lying value can overflow them.
            let recordOffset = Int(clamping: u64(locator, 8))
            guard recordOffset <= endOffset - 56 else { throw FormatError("bad zip64 locator") }
            let record = try read(handle, at: recordOffset, count: 56)
            guard u32(record, 0) == 0x0606_4B50 else { throw FormatError("bad zip64 end record") }
            count = Int(clamping: u64(record, 32))
            directorySize = Int(clamping: u64(record, 40))
            directoryOffset = Int(clamping: u64(record, 48))
        }
        guard count <= maximumEntries, directoryOffset >= 0, directorySize >= 0, directoryOffset <= endOffset - directorySize else {
            throw FormatError("central directory (\(count) entries, \(directorySize) bytes at \(directoryOffset)) does not fit in the file")
        }
        let directory = try read(handle, at: directoryOffset, count: directorySize)
        var entries: [Entry] = []
        var p = 0
        for _ in 0 ..< count {
            guard p + 46 <= directory.count, u32(directory, p) == 0x0201_4B50 else { throw FormatError("bad central directory entry at \(directoryOffset + p)") }
            let method = Int(u16(directory, p + 10))
            var compressed = Int(u32(directory, p + 20)), size = Int(u32(directory, p + 24))
            let nameLength = Int(u16(directory, p + 28)), extraLength = Int(u16(directory, p + 30)), commentLength = Int(u16(directory, p + 32))
            var offset = Int(u32(directory, p + 42))
            guard p + 46 + nameLength + extraLength + commentLength <= directory.count else { throw FormatError("central directory entry runs past its end") }
            let name = String(decoding: directory[p + 46 ..< p + 46 + nameLength], as: UTF8.self)
            // Zip64 extra: the 64-bit values of whichever fields are 0xFFFFFFFF, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let tag = u16(directory, e), length = Int(u16(directory, e + 2))
                guard e + 4 + length <= extraEnd else { throw FormatError("member \(name): bad extra field") }
                if tag == 0x0001 {
                    var q = e + 4
                    func next() throws -> Int {
                        guard q + 8 <= e + 4 + length else { throw FormatError("member \(name): short zip64 field") }
                        defer { q += 8 }
                        return Int(clamping: u64(directory, q))
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if offset == 0xFFFF_FFFF { offset = try next() }
                }
                e += 4 + length
            }
            guard [0, 8].contains(method) else { throw FormatError("member \(name): compression method \(method) is not supported") }
            guard size >= 0, compressed >= 0, offset >= 0, compressed <= directoryOffset - 30, offset <= directoryOffset - 30 - compressed else {
                throw FormatError("member \(name): sizes or offset point outside the file")
            }
            entries.append(Entry(name: name, method: method, crc: u32(directory, p + 16), compressedSize: compressed, size: size, offset: offset))
            p += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }

    /// A stream over one member's uncompressed bytes, read in pieces.
    public func open(_ entry: Entry, sha256: Bool = false) throws -> MemberStream {
        let local = try Self.read(handle, at: entry.offset, count: 30)
        guard u32(local, 0) == 0x0403_4B50 else { throw FileError(path, "member \(entry.name): no local header at \(entry.offset)") }
        let dataOffset = entry.offset + 30 + Int(u16(local, 26)) + Int(u16(local, 28))
        guard dataOffset + entry.compressedSize <= fileSize else { throw FileError(path, "member \(entry.name): data runs past the end of the file") }
        guard let own = FileHandle(forReadingAtPath: path) else { throw FileError(path, "cannot open") }
        try own.seek(toOffset: UInt64(dataOffset))
        return try MemberStream(path: path, entry: entry, handle: own, sha256: sha256)
    }

    /// Reads a whole (small) member.
    public func readAll(_ name: String, limit: Int = 64 << 20) throws -> Data {
        let entry = try entry(name)
        guard entry.size <= limit else { throw FileError(path, "member \(name) is \(entry.size) bytes, more than \(limit) expected") }
        let stream = try open(entry)
        var data = Data(count: entry.size)
        try data.withUnsafeMutableBytes { try stream.read(into: $0) }
        try stream.finish()
        return data
    }

    /// One member's bytes: inflated piece by piece, CRC-32 (and SHA-256) checked at the end.
    public final class MemberStream {
        let path: String
        /// The member.
        public let entry: Entry
        let handle: FileHandle
        let inflater: Inflater?
        var compressedLeft: Int
        var input: [UInt8] = []
        var inputStart = 0
        /// Uncompressed bytes delivered so far.
        public private(set) var delivered = 0
        var crc: UInt32 = 0
        var sha: SHA256?

        init(path: String, entry: Entry, handle: FileHandle, sha256: Bool) throws {
            self.path = path
            self.entry = entry
            self.handle = handle
            inflater = entry.method == 8 ? try Inflater() : nil
            compressedLeft = entry.compressedSize
            sha = sha256 ? SHA256() : nil
        }

        func fail(_ message: String) -> FileError { FileError(path, "member \(entry.name): \(message)") }

        /// Reads the next piece of stored bytes once the previous one is used up.
        private func refill() throws {
            guard inputStart == input.count, compressedLeft > 0 else { return }
            let chunk = min(compressedLeft, 1 << 18)
            let data = try handle.read(upToCount: chunk) ?? Data()
            guard data.count == chunk else { throw fail("truncated file") }
            input = [UInt8](data)
            inputStart = 0
            compressedLeft -= chunk
            sha?.update(input)
        }

        /// Fills `buffer` completely with the next bytes of the member; throws if the member ends first or is corrupt.
        public func read(into buffer: UnsafeMutableRawBufferPointer) throws {
            var filled = 0
            while filled < buffer.count {
                try refill()
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[filled...])
                let written: Int
                if let inflater {
                    let (used, out) = try input.withUnsafeBytes { bytes in
                        do {
                            return try inflater.inflate(UnsafeRawBufferPointer(rebasing: bytes[inputStart...]), into: target)
                        } catch let error as FormatError {
                            throw fail(error.message)
                        }
                    }
                    inputStart += used
                    written = out
                    if out == 0 && used == 0 { throw fail(inflater.finished ? "ends after \(delivered) of \(entry.size) bytes" : "truncated compressed data") }
                } else {
                    written = min(target.count, input.count - inputStart)
                    guard written > 0 else { throw fail("ends after \(delivered) of \(entry.size) bytes") }
                    input.withUnsafeBytes { target.baseAddress!.copyMemory(from: $0.baseAddress! + inputStart, byteCount: written) }
                    inputStart += written
                }
                let piece = UnsafeRawBufferPointer(rebasing: target[..<written])
                crc = CRC32.update(crc, piece)
                filled += written
                delivered += written
                guard delivered <= entry.size else { throw fail("holds more than its declared \(entry.size) bytes") }
            }
        }

        /// Reads the rest of the member and checks it (`finish`): the way to tell whether a
        /// member whose first bytes look wrong is corrupt (this throws the CRC or inflate error)
        /// or was written that way (this returns).
        public func drain() throws {
            var scratch = [UInt8](repeating: 0, count: 1 << 16)
            while delivered < entry.size {
                let n = min(scratch.count, entry.size - delivered)
                try scratch.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0 ..< n])) }
            }
            try finish()
        }

        /// Checks that the member ended where declared and that its CRC matches; returns the
        /// SHA-256 of its stored bytes if asked for.
        @discardableResult
        public func finish() throws -> String? {
            guard delivered == entry.size else { throw fail("read \(delivered) of \(entry.size) bytes") }
            if let inflater {
                // The final block may still be unread (an empty member, or data ending on a chunk edge).
                var spare = [UInt8](repeating: 0, count: 1)
                while !inflater.finished {
                    if inputStart == input.count && compressedLeft == 0 { throw fail("compressed data does not end where declared") }
                    try refill()
                    let (used, written) = try spare.withUnsafeMutableBytes { out in
                        try input.withUnsafeBytes { bytes in
                            do {
                                return try inflater.inflate(UnsafeRawBufferPointer(rebasing: bytes[inputStart...]), into: out)
                            } catch let error as FormatError {
                                throw fail(error.message)
                            }
                        }
                    }
                    inputStart += used
                    guard written == 0 else { throw fail("holds more than its declared \(entry.size) bytes") }
                    if used == 0 && !inflater.finished && inputStart < input.count { throw fail("corrupt compressed data") }
                }
            }
            guard compressedLeft == 0 else { throw fail("compressed data ends \(compressedLeft) bytes before its declared size") }
            guard crc == entry.crc else {
                throw fail(String(format: "CRC-32 mismatch (stored %08x, computed %08x): the file is corrupt", entry.crc, crc))
            }
            return sha?.hexDigest()
        }
    }
}

func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
func u32(_ b: [UInt8], _ i: Int) -> UInt32 { (0 ..< 4).reduce(0) { $0 | UInt32(b[i + $1]) << (8 * UInt32($1)) } }
func u64(_ b: [UInt8], _ i: Int) -> UInt64 { (0 ..< 8).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * UInt64($1)) } }
