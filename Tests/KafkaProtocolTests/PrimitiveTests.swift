import XCTest
@testable import KafkaProtocol

final class PrimitiveTests: XCTestCase {
    func testUnsignedVarintVectors() throws {
        let cases: [(UInt32, String)] = [
            (0, "00"), (1, "01"), (127, "7f"), (128, "80 01"), (300, "ac 02"),
            (16_383, "ff 7f"), (16_384, "80 80 01"), (UInt32.max, "ff ff ff ff 0f"),
        ]
        for (value, bytes) in cases {
            var r = ByteReader(hex(bytes))
            XCTAssertEqual(try r.readUnsignedVarint(), value)
            XCTAssertTrue(r.isAtEnd)
            var w = ByteWriter()
            w.writeUnsignedVarint(value)
            XCTAssertEqual(w.bytes, hex(bytes))
        }
    }

    func testZigzagVarints() throws {
        let cases: [(Int32, String)] = [(0, "00"), (-1, "01"), (1, "02"), (-2, "03"), (63, "7e"), (-64, "7f"), (64, "80 01"),
                                        (Int32.max, "fe ff ff ff 0f"), (Int32.min, "ff ff ff ff 0f")]
        for (value, bytes) in cases {
            var r = ByteReader(hex(bytes))
            XCTAssertEqual(try r.readVarint(), value)
            var w = ByteWriter()
            w.writeVarint(value)
            XCTAssertEqual(w.bytes, hex(bytes))
        }
        let longs: [(Int64, String)] = [(0, "00"), (-1, "01"), (Int64.max, "fe ff ff ff ff ff ff ff ff 01"),
                                        (Int64.min, "ff ff ff ff ff ff ff ff ff 01")]
        for (value, bytes) in longs {
            var r = ByteReader(hex(bytes))
            XCTAssertEqual(try r.readVarlong(), value)
            var w = ByteWriter()
            w.writeVarlong(value)
            XCTAssertEqual(w.bytes, hex(bytes))
        }
    }

    func testBadVarintsThrow() {
        assertThrowsCode(.badVarint) { var r = ByteReader(hex("ff ff ff ff 10")); _ = try r.readUnsignedVarint() }
        assertThrowsCode(.badVarint) { var r = ByteReader(hex("80 80 80 80 80 01")); _ = try r.readUnsignedVarint() }
        assertThrowsCode(.badVarint) { var r = ByteReader(hex("ff ff ff ff ff ff ff ff ff 02")); _ = try r.readVarlong() }
        assertThrowsCode(.truncated) { var r = ByteReader(hex("80 80")); _ = try r.readUnsignedVarint() }
    }

    func testStrings() throws {
        var r = ByteReader(hex("00 03 61 62 63  ff ff  04 78 79 7a  00  01"))
        XCTAssertEqual(try r.readString(), "abc")
        XCTAssertNil(try r.readNullableString())
        XCTAssertEqual(try r.readCompactString(), "xyz")
        XCTAssertNil(try r.readCompactNullableString())
        XCTAssertEqual(try r.readCompactString(), "")
        XCTAssertTrue(r.isAtEnd)
        // Non-ASCII UTF-8 (é = c3 a9) is accepted.
        var u = ByteReader(hex("00 02 c3 a9"))
        XCTAssertEqual(try u.readString(), "é")
    }

    func testMalformedStringsThrow() {
        assertThrowsCode(.negativeLength) { var r = ByteReader(hex("ff ff")); _ = try r.readString() }
        assertThrowsCode(.negativeLength) { var r = ByteReader(hex("ff fe")); _ = try r.readNullableString() }
        assertThrowsCode(.negativeLength) { var r = ByteReader(hex("00")); _ = try r.readCompactString() }
        assertThrowsCode(.truncated) { var r = ByteReader(hex("00 05 61")); _ = try r.readString() }
        assertThrowsCode(.truncated) { var r = ByteReader(hex("ff ff ff ff 07 61")); _ = try r.readCompactString() }
        assertThrowsCode(.invalidUTF8) { var r = ByteReader(hex("00 02 c3 28")); _ = try r.readString() }
        assertThrowsCode(.invalidUTF8) { var r = ByteReader(hex("02 ff")); _ = try r.readCompactString() }
        assertThrowsCode(.negativeLength) { var r = ByteReader(hex("80 00 00 00")); _ = try r.readBytes() }
    }

    func testArrayCountsAreBoundedByRemainingBytes() {
        assertThrowsCode(.lengthTooLarge) { var r = ByteReader(hex("7f ff ff ff 00")); _ = try r.readArrayCount(flexible: false) }
        assertThrowsCode(.lengthTooLarge) { var r = ByteReader(hex("00 00 00 02 00 00 00 01")); _ = try r.readInt32Array(flexible: false) }
        assertThrowsCode(.negativeLength) { var r = ByteReader(hex("ff ff ff fe")); _ = try r.readArrayCount(flexible: false) }
        assertThrowsCode(.negativeLength) { var r = ByteReader(hex("ff ff ff ff")); _ = try r.readArrayCount(flexible: false) }
        XCTAssertNoThrow(try { var r = ByteReader(hex("ff ff ff ff")); XCTAssertNil(try r.readNullableArrayCount(flexible: false)) }())
        assertThrowsCode(.lengthTooLarge) { var r = ByteReader(hex("ff ff ff ff 0f")); _ = try r.readTaggedFields() }
    }

    func testTaggedFieldsKeepOrderAndBytes() throws {
        let raw = hex("02  05 02 aa bb  01 00")
        var r = ByteReader(raw)
        let fields = try r.readTaggedFields()
        XCTAssertEqual(fields, [TaggedField(tag: 5, data: [0xAA, 0xBB]), TaggedField(tag: 1, data: [])])
        var w = ByteWriter()
        w.writeTaggedFields(fields)
        XCTAssertEqual(w.bytes, raw)
    }

    func testFixedWidthAndUUID() throws {
        var r = ByteReader(hex("ff  80 00  ff ff ff fe  00 00 00 00 00 00 01 00  00112233445566778899aabbccddeeff"))
        XCTAssertEqual(try r.readInt8(), -1)
        XCTAssertEqual(try r.readInt16(), Int16.min)
        XCTAssertEqual(try r.readInt32(), -2)
        XCTAssertEqual(try r.readInt64(), 256)
        let u = try r.readUUID()
        XCTAssertEqual(u, KafkaUUID(high: 0x0011_2233_4455_6677, low: 0x8899_AABB_CCDD_EEFF))
        XCTAssertEqual(u.description, "00112233445566778899aabbccddeeff")
        assertThrowsCode(.truncated) { var t = ByteReader(hex("00 00 00")); _ = try t.readInt32() }
    }

    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        // Incremental update equals one pass, across the 8-byte fast path boundary.
        var rng = SplitMix64(seed: 7)
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            XCTAssertEqual(CRC32C.update(CRC32C.checksum(data[..<cut]), data[cut...]), CRC32C.checksum(data))
        }
    }
}
