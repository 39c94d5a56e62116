import XCTest
@testable import KafkaProtocol

final class ApiVersionsResponseTests: XCTestCase {
    func roundTrip(_ body: [UInt8], version: Int16, file: StaticString = #filePath, line: UInt = #line) throws -> ApiVersionsResponse {
        let decoded = try ApiVersionsResponse.decode(body, version: version)
        XCTAssertEqual(decoded.encoded(version: version), body, file: file, line: line)
        return decoded
    }

    func testV0() throws {
        // error_code, [api_key min max] (int32 count)
        let r = try roundTrip(hex("0000 00000002 0000 0000 000b 0012 0000 0004"), version: 0)
        XCTAssertEqual(r.apiKeys, [.init(apiKey: 0, minVersion: 0, maxVersion: 11), .init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        XCTAssertFalse(r.isV0Fallback)
    }

    func testV1AndV2AddThrottle() throws {
        for v in Int16(1)...2 {
            let r = try roundTrip(hex("0000 00000001 0003 0000 000c 00000064"), version: v)
            XCTAssertEqual(r.throttleTimeMs, 100)
        }
    }

    func testV3FlexibleWithFeatureTags() throws {
        // error, compact array (2 entries -> 03), each entry has its own tag buffer, throttle, then
        // top-level tags: FinalizedFeaturesEpoch (tag 1, int64 5) and ZkMigrationReady (tag 3, bool).
        let body = hex("""
            0000 03
            0003 0000 000c 00
            0012 0000 0004 00
            00000000
            02  01 08 0000000000000005  03 01 01
            """)
        let r = try roundTrip(body, version: 3)
        XCTAssertEqual(r.apiKeys.count, 2)
        XCTAssertEqual(r.taggedFields.map(\.tag), [1, 3])
        _ = try roundTrip(body, version: 4)
    }

    func testUnsupportedVersionFallsBackToV0Body() throws {
        // The broker could not parse our v4 request and answered 35 with a v0 body.
        let body = hex("0023 00000001 0012 0000 0002")
        let r = try roundTrip(body, version: 4)
        XCTAssertEqual(r.errorCode, 35)
        XCTAssertTrue(r.isV0Fallback)
        XCTAssertEqual(r.apiKeys, [.init(apiKey: 18, minVersion: 0, maxVersion: 2)])
        // A v3 body that happens to carry error 35 still decodes as v3.
        let v3 = hex("0023 02 0012 0000 0004 00 00000000 00")
        let d = try roundTrip(v3, version: 3)
        XCTAssertFalse(d.isV0Fallback)
    }

    func testMalformedThrows() {
        let body = hex("0000 03 0003 0000 000c 00 0012 0000 0004 00 00000000 00")
        for cut in 0..<body.count {
            assertThrowsProtocolError { _ = try ApiVersionsResponse.decode(Array(body[..<cut]), version: 3) }
        }
        assertThrowsCode(.trailingBytes) { _ = try ApiVersionsResponse.decode(body + [0], version: 3) }
        assertThrowsCode(.lengthTooLarge) { _ = try ApiVersionsResponse.decode(hex("0000 7fffffff 0000"), version: 0) }
    }
}
