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
