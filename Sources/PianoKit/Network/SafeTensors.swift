import Foundation

/// A float32 tensor: a shape and its values in row-major order.
public struct Tensor: Sendable, Equatable {
    /// Dimensions.
    public var shape: [Int]
    /// Values, row-major.
    public var values: [Float]

    /// Creates a tensor; the value count must match the shape.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "tensor shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) { self.init(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *))) }
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header giving each
/// tensor's dtype, shape and byte offsets (plus a string-to-string `__metadata__`), then the raw
/// little-endian tensor bytes, back to back. PyTorch users load it with the `safetensors` package.
public enum SafeTensors {
    /// Headers longer than this are refused before they are read.
    public static let headerLimit = 100 << 20

    /// The file's bytes: tensors in name order, header padded with spaces to 8 bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String]) throws -> Data {
        var header = "{\"__metadata__\":" + (try jsonString(metadata))
        var offset = 0
        for name in tensors.keys.sorted() {
            let tensor = tensors[name]!
            let bytes = tensor.values.count * 4
            header += ",\(try jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        var data = Data(le64(header.utf8.count))
        data.append(Data(header.utf8))
        data.reserveCapacity(data.count + offset)
        for name in tensors.keys.sorted() {
            tensors[name]!.values.withUnsafeBufferPointer { values in
                var bytes = [UInt8](repeating: 0, count: values.count * 4)
                for (i, v) in values.enumerated() {
                    let bits = v.bitPattern.littleEndian
                    bytes[4 * i] = UInt8(bits & 0xFF); bytes[4 * i + 1] = UInt8(bits >> 8 & 0xFF)
                    bytes[4 * i + 2] = UInt8(bits >> 16 & 0xFF); bytes[4 * i + 3] = UInt8(bits >> 24)
                }
                data.append(contentsOf: bytes)
            }
        }
        return data
    }

    /// Parses and validates a file: header length, JSON, dtypes (F32 only), shapes against
    /// offsets, offsets inside the data and covering it without gaps or overlaps.
    public static func decode(_ data: Data) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw FormatError("not a safetensors file: \(bytes.count) bytes") }
        let declared = u64(bytes, 0)
        let headerLength = Int(clamping: declared)  // a length word of 2^63 or more does not fit an Int
        guard headerLength >= 2, headerLength <= headerLimit, 8 + headerLength <= bytes.count else {
            throw FormatError("header length \(declared) does not fit the \(bytes.count)-byte file")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes[8 ..< 8 + headerLength])) as? [String: Any] else {
            throw FormatError("header is not a JSON object")
        }
        let body = bytes.count - 8 - headerLength
        var metadata: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        var spans: [(Int, Int, String)] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any], let strings = dict as? [String: String] else {
                    throw FormatError("__metadata__ must map strings to strings")
                }
                metadata = strings
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw FormatError("tensor '\(name)' lacks dtype, shape or data_offsets") }
            guard dtype == "F32" else { throw FormatError("tensor '\(name)' is \(dtype); only F32 is supported") }
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard dimension >= 0, !overflow, product <= body else { throw FormatError("tensor '\(name)' has an impossible shape \(shape) for the \(body)-byte data") }
                count = product
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= body else {
                throw FormatError("tensor '\(name)' offsets \(offsets) lie outside the \(body)-byte data")
            }
            guard end - begin == count * 4 else {
                throw FormatError("tensor '\(name)' has \(end - begin) bytes for shape \(shape) of F32 (\(count * 4) expected)")
            }
            var values = [Float](repeating: 0, count: count)
            let start = 8 + headerLength + begin
            for i in 0 ..< count { values[i] = Float(bitPattern: u32(bytes, start + 4 * i)) }
            tensors[name] = Tensor(shape: shape, values: values)
            spans.append((begin, end, name))
        }
        spans.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        var covered = 0
        for (begin, end, name) in spans {
            guard begin == covered else { throw FormatError(begin < covered ? "tensor '\(name)' overlaps another" : "a gap in the data before tensor '\(name)'") }
            covered = end
        }
        guard covered == body else { throw FormatError("\(body - covered) bytes after the last tensor") }
        return (tensors, metadata)
    }

    static func jsonString(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
