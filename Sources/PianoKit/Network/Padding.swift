/// How a convolution or pooling window treats the image border along one axis.
public enum Padding: String, Sendable, Codable, CaseIterable {
    /// TensorFlow's "SAME": output ceil(input / stride) long; the zero padding needed,
    /// max(0, (output - 1) stride + window - input), is split with the smaller half before.
    case same
    /// No padding: output floor((input - window) / stride) + 1 long (the window must fit).
    case valid

    /// The output length and the padding before the first input along one axis, or nil where
    /// the window does not fit (`valid` with a window longer than the input).
    public func axis(input: Int, window: Int, stride: Int) -> (output: Int, before: Int)? {
        guard input > 0, window > 0, stride > 0 else { return nil }
        switch self {
        case .same:
            let output = (input + stride - 1) / stride
            return (output, max(0, (output - 1) * stride + window - input) / 2)
        case .valid:
            guard window <= input else { return nil }
            return ((input - window) / stride + 1, 0)
        }
    }
}

/// The padding of a window's two axes: rows (frequency in a thumbnail) and columns (time).
/// JSON: `"same"` or `"valid"` for both, or `["same", "valid"]` (rows, columns); written as one
/// word when both axes agree.
public struct Padding2D: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Along the rows (height).
    public var rows: Padding
    /// Along the columns (width).
    public var columns: Padding

    /// Each axis its own padding.
    public init(rows: Padding, columns: Padding) {
        self.rows = rows
        self.columns = columns
    }

    /// One padding for both axes.
    public init(_ both: Padding) { self.init(rows: both, columns: both) }

    /// "SAME" on both axes.
    public static let same = Padding2D(.same)
    /// No padding on either axis.
    public static let valid = Padding2D(.valid)

    /// `same`, `valid`, or `same/valid` (rows/columns).
    public var description: String { rows == columns ? rows.rawValue : "\(rows.rawValue)/\(columns.rawValue)" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let both = try? c.decode(Padding.self) {
            self.init(both)
            return
        }
        guard let two = try? c.decode([Padding].self), two.count == 2 else {
            throw FormatError("'padding' must be \"same\", \"valid\" or [rows, columns] of those")
        }
        self.init(rows: two[0], columns: two[1])
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if rows == columns { try c.encode(rows) } else { try c.encode([rows, columns]) }
    }
}
