/// Allocation-free cursor for the hot path (every request passes through it). Unlike `ByteReader`
/// it works on borrowed memory and answers nil when the bytes end early, because the caller may
/// simply not have received them yet.
struct RawCursor {
    let base: UnsafeRawBufferPointer
    var offset: Int

    init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    @inline(__always) var remaining: Int { base.count - offset }

    @inline(__always)
    mutating func int16() -> Int16? {
        guard remaining >= 2 else { return nil }
        let v = UInt16(base[offset]) << 8 | UInt16(base[offset + 1])
        offset += 2
        return Int16(bitPattern: v)
    }

    @inline(__always)
    mutating func int32() -> Int32? {
        guard remaining >= 4 else { return nil }
        let v = UInt32(base[offset]) << 24 | UInt32(base[offset + 1]) << 16 | UInt32(base[offset + 2]) << 8 | UInt32(base[offset + 3])
        offset += 4
        return Int32(bitPattern: v)
    }

    /// `.some(nil)` means "need more bytes"; throws on a varint longer than 5 bytes.
    @inline(__always)
    mutating func unsignedVarint() throws -> UInt32? {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        var i = offset
        while true {
            guard i < base.count else { return nil }
            let b = base[i]
            i += 1
            if shift == 28 && b & 0xF0 != 0 {
                throw KafkaProtocolError(.badVarint, "unsigned varint longer than 32 bits at offset \(offset)")
            }
            result |= UInt32(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        offset = i
        return result
    }

    @inline(__always)
    mutating func skip(_ n: Int) -> Bool {
        guard n >= 0, remaining >= n else { return false }
        offset += n
        return true
    }

    /// Skips a tagged-field section; false = need more bytes.
    mutating func skipTaggedFields() throws -> Bool {
        guard let count = try unsignedVarint() else { return false }
        for _ in 0..<count {
            guard try unsignedVarint() != nil, let size = try unsignedVarint() else { return false }
            guard skip(Int(size)) else { return false }
        }
        return true
    }
}
