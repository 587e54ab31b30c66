import Foundation

/// NumPy's `.npy` format (version 1.0): a magic string, a header dict, then raw little-endian data,
/// so `numpy.load` opens what this writes with no code of ours.
public enum NPY {
    /// An element type this writer knows, with its NumPy descriptor.
    public enum DType: String, Sendable {
        /// 32-bit little-endian float.
        case float32 = "<f4"
        /// Unsigned byte.
        case uint8 = "|u1"
        /// 32-bit little-endian signed integer.
        case int32 = "<i4"
        /// 64-bit little-endian signed integer.
        case int64 = "<i8"
    }

    /// The header of an array of `shape` (C order), padded so the data starts on a 64-byte boundary.
    public static func header(dtype: DType, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(dict.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(Data(dict.utf8))
        return data
    }

    /// A whole `.npy` file holding float32 values of `shape`.
    public static func encode(_ values: [Float], shape: [Int]) -> Data {
        precondition(shape.reduce(1, *) == values.count)
        var data = header(dtype: .float32, shape: shape)
        values.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: UInt32.self) { words in
                var bytes = [UInt8](); bytes.reserveCapacity(words.count * 4)
                for w in words { let le = w.littleEndian; bytes += [UInt8(le & 0xFF), UInt8(le >> 8 & 0xFF), UInt8(le >> 16 & 0xFF), UInt8(le >> 24)] }
                data.append(contentsOf: bytes)
            }
        }
        return data
    }
}

extension NPY {
    /// What an `.npy` header says: element type, shape, and where the data starts.
    public struct Header: Sendable, Equatable {
        /// The descriptor, e.g. `|u1`.
        public var descr: String
        /// The shape (C order).
        public var shape: [Int]
        /// Bytes before the data.
        public var length: Int
    }

    /// Parses the header at the start of `bytes` (at least the first 10, and the whole header).
    public static func parseHeader(_ bytes: [UInt8]) throws -> Header {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1 ..< 6]) == Array("NUMPY".utf8) else {
            throw FormatError("not a .npy array (bad magic)")
        }
        let major = bytes[6]
        let prefix = major == 1 ? 10 : 12
        guard major == 1 || major == 2, bytes.count >= prefix else { throw FormatError(".npy version \(major) is not supported") }
        let dictLength = major == 1 ? Int(u16(bytes, 8)) : Int(u32(bytes, 8))
        guard bytes.count >= prefix + dictLength else { throw FormatError(".npy header is truncated") }
        let dict = String(decoding: bytes[prefix ..< prefix + dictLength], as: UTF8.self)
        func value(_ key: String) -> Substring? {
            guard let range = dict.range(of: "'\(key)':") else { return nil }
            return dict[range.upperBound...].drop(while: { $0 == " " })
        }
        guard let descrText = value("descr"), descrText.first == "'",
              let descrEnd = descrText.dropFirst().firstIndex(of: "'") else { throw FormatError(".npy header has no descr") }
        let descr = String(descrText[descrText.index(after: descrText.startIndex) ..< descrEnd])
        guard let order = value("fortran_order"), order.hasPrefix("False") else { throw FormatError(".npy array is not in C order") }
        guard let shapeText = value("shape"), shapeText.first == "(", let close = shapeText.firstIndex(of: ")") else {
            throw FormatError(".npy header has no shape")
        }
        let parts = shapeText[shapeText.index(after: shapeText.startIndex) ..< close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try parts.map { part -> Int in
            guard let n = Int(part), n >= 0 else { throw FormatError(".npy shape has a bad dimension '\(part)'") }
            return n
        }
        return Header(descr: descr, shape: shape, length: prefix + dictLength)
    }

    /// Bytes per element of a descriptor this toolkit writes.
    public static func itemSize(_ descr: String) -> Int? {
        switch descr {
        case DType.uint8.rawValue: return 1
        case DType.float32.rawValue, DType.int32.rawValue: return 4
        case DType.int64.rawValue: return 8
        default: return nil
        }
    }
}
