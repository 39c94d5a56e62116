/// Big-endian appender, the mirror of `ByteReader`.
public struct ByteWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func writeInt8(_ v: Int8) { bytes.append(UInt8(bitPattern: v)) }
    public mutating func writeUInt8(_ v: UInt8) { bytes.append(v) }
    public mutating func writeBool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    public mutating func writeUInt16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    public mutating func writeInt16(_ v: Int16) { writeUInt16(UInt16(bitPattern: v)) }

    public mutating func writeUInt32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 24))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    public mutating func writeInt32(_ v: Int32) { writeUInt32(UInt32(bitPattern: v)) }

    public mutating func writeUInt64(_ v: UInt64) {
        writeUInt32(UInt32(truncatingIfNeeded: v >> 32))
        writeUInt32(UInt32(truncatingIfNeeded: v))
    }

    public mutating func writeInt64(_ v: Int64) { writeUInt64(UInt64(bitPattern: v)) }

    public mutating func writeUUID(_ v: KafkaUUID) {
        writeUInt64(v.high)
        writeUInt64(v.low)
    }

    /// Overwrites 4 bytes at `offset` (length and CRC fields written after their content).
    public mutating func patchUInt32(_ v: UInt32, at offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: v >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: v)
    }

    public mutating func patchInt32(_ v: Int32, at offset: Int) { patchUInt32(UInt32(bitPattern: v), at: offset) }

    // MARK: varints

    public mutating func writeUnsignedVarint(_ v: UInt32) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func writeUnsignedVarlong(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func writeVarint(_ v: Int32) {
        writeUnsignedVarint(UInt32(bitPattern: (v << 1) ^ (v >> 31)))
    }

    public mutating func writeVarlong(_ v: Int64) {
        writeUnsignedVarlong(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    public static func unsignedVarintSize(_ v: UInt32) -> Int {
        var n = 1
        var v = v
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    // MARK: lengths

    /// Array/bytes length prefix: int32 (null = -1) or compact N+1 (null = 0).
    public mutating func writeLength(_ n: Int?, flexible: Bool) {
        if flexible {
            writeUnsignedVarint(n.map { UInt32($0 + 1) } ?? 0)
        } else {
            writeInt32(n.map { Int32($0) } ?? -1)
        }
    }

    public mutating func writeArrayCount(_ n: Int, flexible: Bool) { writeLength(n, flexible: flexible) }

    // MARK: strings and bytes

    public mutating func writeString(_ s: String, flexible: Bool = false) {
        writeNullableString(s, flexible: flexible)
    }

    public mutating func writeNullableString(_ s: String?, flexible: Bool = false) {
        guard let s else {
            if flexible { writeUnsignedVarint(0) } else { writeInt16(-1) }
            return
        }
        let utf8 = s.utf8
        if flexible { writeUnsignedVarint(UInt32(utf8.count + 1)) } else { writeInt16(Int16(truncatingIfNeeded: utf8.count)) }
        bytes.append(contentsOf: utf8)
    }

    public mutating func writeCompactString(_ s: String) { writeString(s, flexible: true) }
    public mutating func writeCompactNullableString(_ s: String?) { writeNullableString(s, flexible: true) }

    public mutating func writeRawBytes<C: Collection>(_ b: C) where C.Element == UInt8 {
        bytes.append(contentsOf: b)
    }

    public mutating func writeBytes(_ b: [UInt8], flexible: Bool = false) {
        writeNullableBytes(b, flexible: flexible)
    }

    public mutating func writeNullableBytes(_ b: [UInt8]?, flexible: Bool = false) {
        writeLength(b?.count, flexible: flexible)
        if let b { bytes.append(contentsOf: b) }
    }

    public mutating func writeCompactBytes(_ b: [UInt8]) { writeBytes(b, flexible: true) }

    public mutating func writeInt32Array(_ a: [Int32], flexible: Bool) {
        writeArrayCount(a.count, flexible: flexible)
        for v in a { writeInt32(v) }
    }

    // MARK: tagged fields

    public mutating func writeTaggedFields(_ fields: [TaggedField]) {
        writeUnsignedVarint(UInt32(fields.count))
        for f in fields {
            writeUnsignedVarint(f.tag)
            writeUnsignedVarint(UInt32(f.data.count))
            bytes.append(contentsOf: f.data)
        }
    }

    public mutating func writeTaggedFields(_ fields: [TaggedField], if flexible: Bool) {
        if flexible { writeTaggedFields(fields) }
    }
}
