/// MIDI variable-length quantities: 7 bits a byte, most significant first, high bit set on all but the last.
enum VariableLength {
    /// The largest value the format allows (four bytes).
    static let maximum = 0x0FFF_FFFF

    /// Appends `value` (0...maximum) in variable-length form.
    static func append(_ value: Int, to bytes: inout [UInt8]) {
        precondition(value >= 0 && value <= maximum, "variable-length quantity out of range")
        var groups: [UInt8] = [UInt8(value & 0x7F)]
        var rest = value >> 7
        while rest > 0 {
            groups.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(contentsOf: groups.reversed())
    }
}
