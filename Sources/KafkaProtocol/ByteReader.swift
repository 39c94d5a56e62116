/// Big-endian cursor over a byte array, with the primitive types of the Kafka protocol.
/// Every read checks bounds and throws `KafkaProtocolError` instead of trapping, because
/// the bytes come from the network.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var index: Int
    /// Reads never go past this index (exclusive).
    public let endIndex: Int

    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.index = max(0, min(start, bytes.count))
        self.endIndex = max(self.index, min(end ?? bytes.count, bytes.count))
    }

    public var remaining: Int { endIndex - index }
    public var isAtEnd: Bool { index >= endIndex }

    @inline(__always)
    mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws {
        if count < 0 || count > endIndex - index {
            throw KafkaProtocolError(.truncated, "\(what()): need \(count) bytes at offset \(index), \(endIndex - index) left")
        }
    }

    public mutating func skip(_ count: Int, _ what: @autoclosure () -> String = "skip") throws {
        try require(count, what())
        index += count
    }

    /// Throws unless every byte has been consumed.
    public func expectEnd(_ what: String) throws {
        if index != endIndex {
            throw KafkaProtocolError(.trailingBytes, "\(what): \(endIndex - index) bytes left at offset \(index)")
        }
    }

    // MARK: fixed-width integers

    public mutating func readInt8() throws -> Int8 {
        try require(1, "int8")
        defer { index += 1 }
        return Int8(bitPattern: bytes[index])
    }

    public mutating func readUInt8() throws -> UInt8 {
        try require(1, "uint8")
        defer { index += 1 }
        return bytes[index]
    }

    public mutating func readBool() throws -> Bool {
        try readUInt8() != 0
    }

    public mutating func readUInt16() throws -> UInt16 {
        try require(2, "int16")
        let v = UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
        index += 2
        return v
    }

    public mutating func readInt16() throws -> Int16 {
        Int16(bitPattern: try readUInt16())
    }

    public mutating func readUInt32() throws -> UInt32 {
        try require(4, "int32")
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[index + i]) }
        index += 4
        return v
    }

    public mutating func readInt32() throws -> Int32 {
        Int32(bitPattern: try readUInt32())
    }

    public mutating func readUInt64() throws -> UInt64 {
        try require(8, "int64")
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[index + i]) }
        index += 8
        return v
    }

    public mutating func readInt64() throws -> Int64 {
        Int64(bitPattern: try readUInt64())
    }

    public mutating func readUUID() throws -> KafkaUUID {
        let high = try readUInt64()
        let low = try readUInt64()
        return KafkaUUID(high: high, low: low)
    }

    // MARK: varints

    /// Unsigned LEB128, at most 5 bytes (32 bits).
    public mutating func readUnsignedVarint() throws -> UInt32 {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            try require(1, "varint")
            let b = bytes[index]
            index += 1
            if shift == 28 && b & 0xF0 != 0 {
                throw KafkaProtocolError(.badVarint, "unsigned varint longer than 32 bits ending at offset \(index)")
            }
            result |= UInt32(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Unsigned LEB128, at most 10 bytes (64 bits).
    public mutating func readUnsignedVarlong() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            try require(1, "varlong")
            let b = bytes[index]
            index += 1
            if shift == 63 && b & 0xFE != 0 {
                throw KafkaProtocolError(.badVarint, "unsigned varlong longer than 64 bits ending at offset \(index)")
            }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Zigzag-encoded signed varint (record fields).
    public mutating func readVarint() throws -> Int32 {
        let raw = try readUnsignedVarint()
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Zigzag-encoded signed varlong (record fields).
    public mutating func readVarlong() throws -> Int64 {
        let raw = try readUnsignedVarlong()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    // MARK: lengths

    /// Length of a classic (int16-prefixed) string; nil for null (-1).
    mutating func readInt16Length(nullable: Bool, _ what: String) throws -> Int? {
        let n = Int(try readInt16())
        if n == -1 && nullable { return nil }
        if n < 0 { throw KafkaProtocolError(.negativeLength, "\(what): length \(n) at offset \(index - 2)") }
        return n
    }

    /// Length of a classic (int32-prefixed) bytes/array; nil for null (-1).
    mutating func readInt32Length(nullable: Bool, _ what: String) throws -> Int? {
        let n = Int(try readInt32())
        if n == -1 && nullable { return nil }
        if n < 0 { throw KafkaProtocolError(.negativeLength, "\(what): length \(n) at offset \(index - 4)") }
        return n
    }

    /// Length of a compact (unsigned varint N+1) string/bytes/array; nil for null (0).
    mutating func readCompactLength(nullable: Bool, _ what: String) throws -> Int? {
        let start = index
        let n = try readUnsignedVarint()
        if n == 0 {
            if nullable { return nil }
            throw KafkaProtocolError(.negativeLength, "\(what): null where not allowed at offset \(start)")
        }
        return Int(n) - 1
    }

    // MARK: strings

    mutating func readUTF8(count: Int, _ what: String) throws -> String {
        try require(count, what)
        let start = index
        index += count
        if count == 0 { return "" }
        // ASCII is the common case (host names, topic names): skip validation work for it.
        var ascii = true
        for i in start..<(start + count) where bytes[i] >= 0x80 { ascii = false; break }
        let slice = bytes[start..<(start + count)]
        if ascii { return String(decoding: slice, as: UTF8.self) }
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw KafkaProtocolError(.invalidUTF8, "\(what) at offset \(start)")
        }
        return s
    }

    public mutating func readString(flexible: Bool = false) throws -> String {
        let n = flexible ? try readCompactLength(nullable: false, "compact string")! : try readInt16Length(nullable: false, "string")!
        return try readUTF8(count: n, "string")
    }

    public mutating func readNullableString(flexible: Bool = false) throws -> String? {
        let n = flexible ? try readCompactLength(nullable: true, "compact nullable string") : try readInt16Length(nullable: true, "nullable string")
        guard let n else { return nil }
        return try readUTF8(count: n, "string")
    }

    public mutating func readCompactString() throws -> String { try readString(flexible: true) }
    public mutating func readCompactNullableString() throws -> String? { try readNullableString(flexible: true) }

    // MARK: bytes

    public mutating func readRawBytes(_ count: Int) throws -> [UInt8] {
        try require(count, "bytes")
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }

    public mutating func readBytes(flexible: Bool = false) throws -> [UInt8] {
        let n = flexible ? try readCompactLength(nullable: false, "compact bytes")! : try readInt32Length(nullable: false, "bytes")!
        return try readRawBytes(n)
    }

    public mutating func readNullableBytes(flexible: Bool = false) throws -> [UInt8]? {
        let n = flexible ? try readCompactLength(nullable: true, "compact nullable bytes") : try readInt32Length(nullable: true, "nullable bytes")
        guard let n else { return nil }
        return try readRawBytes(n)
    }

    public mutating func readCompactBytes() throws -> [UInt8] { try readBytes(flexible: true) }

    /// Skips a nullable bytes/records field without copying it; returns its length (nil = null).
    @discardableResult
    public mutating func skipNullableBytes(flexible: Bool) throws -> Int? {
        let n = flexible ? try readCompactLength(nullable: true, "compact records") : try readInt32Length(nullable: true, "records")
        guard let n else { return nil }
        try skip(n, "records")
        return n
    }

    // MARK: arrays

    /// Element count of a non-nullable array. `minElementSize` bounds the count by the bytes left,
    /// so that a forged count cannot make the caller reserve gigabytes.
    public mutating func readArrayCount(flexible: Bool, minElementSize: Int = 1) throws -> Int {
        guard let n = try readNullableArrayCount(flexible: flexible, minElementSize: minElementSize) else {
            throw KafkaProtocolError(.negativeLength, "array: null where not allowed at offset \(index)")
        }
        return n
    }

    public mutating func readNullableArrayCount(flexible: Bool, minElementSize: Int = 1) throws -> Int? {
        let n = flexible ? try readCompactLength(nullable: true, "compact array") : try readInt32Length(nullable: true, "array")
        guard let n else { return nil }
        if n > remaining / max(1, minElementSize) {
            throw KafkaProtocolError(.lengthTooLarge, "array of \(n) elements with \(remaining) bytes left at offset \(index)")
        }
        return n
    }

    public mutating func readInt32Array(flexible: Bool) throws -> [Int32] {
        let n = try readArrayCount(flexible: flexible, minElementSize: 4)
        var out = [Int32]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try readInt32()) }
        return out
    }

    // MARK: tagged fields

    public mutating func readTaggedFields() throws -> [TaggedField] {
        let count = Int(try readUnsignedVarint())
        if count == 0 { return [] }
        if count > remaining / 2 {
            throw KafkaProtocolError(.lengthTooLarge, "\(count) tagged fields with \(remaining) bytes left at offset \(index)")
        }
        var fields = [TaggedField]()
        fields.reserveCapacity(count)
        for _ in 0..<count {
            let tag = try readUnsignedVarint()
            let size = Int(try readUnsignedVarint())
            fields.append(TaggedField(tag: tag, data: try readRawBytes(size)))
        }
        return fields
    }

    /// Reads tagged fields only when `flexible`, so struct decoders can call it unconditionally.
    public mutating func readTaggedFields(if flexible: Bool) throws -> [TaggedField] {
        flexible ? try readTaggedFields() : []
    }

    public mutating func skipTaggedFields() throws {
        let count = Int(try readUnsignedVarint())
        for _ in 0..<count {
            _ = try readUnsignedVarint()
            let size = Int(try readUnsignedVarint())
            try skip(size, "tagged field")
        }
    }
}
