import XCTest
@testable import KafkaProtocol

final class RequestHeaderTests: XCTestCase {
    // Header v1: Metadata v1 (not flexible), client id "cli".
    let v1 = hex("0003 0001 00000007 0003 636c69")
    // Header v2: Metadata v9 (flexible from 9). The client id stays int16-prefixed; then tagged fields:
    // one field, tag 2, one byte ff.
    let v2 = hex("0003 0009 00000007 0003 636c69  01 02 01 ff")
    // Header v0: ControlledShutdown v0 has no client id at all.
    let v0 = hex("0007 0000 0000002a")
    // Header v1 with a null client id: ApiVersions v0.
    let nullClient = hex("0012 0000 00000001 ffff")
    // Header v2 with empty tagged fields: ApiVersions v3.
    let apiVersionsV3 = hex("0012 0003 00000001 0004 74657374 00")

    func testParsesEachHeaderVersion() throws {
        let h1 = try XCTUnwrap(RequestHeader.parse(v1))
        XCTAssertEqual(h1.header, RequestHeader(apiKey: 3, apiVersion: 1, correlationId: 7, clientId: "cli"))
        XCTAssertEqual(h1.length, 13)

        let h2 = try XCTUnwrap(RequestHeader.parse(v2))
        XCTAssertEqual(h2.header, RequestHeader(apiKey: 3, apiVersion: 9, correlationId: 7, clientId: "cli",
                                                taggedFields: [TaggedField(tag: 2, data: [0xFF])]))
        XCTAssertEqual(h2.length, 17)

        let h0 = try XCTUnwrap(RequestHeader.parse(v0))
        XCTAssertEqual(h0.header, RequestHeader(apiKey: 7, apiVersion: 0, correlationId: 42, clientId: nil))
        XCTAssertEqual(h0.length, 8)

        let hn = try XCTUnwrap(RequestHeader.parse(nullClient))
        XCTAssertNil(hn.header.clientId)
        XCTAssertEqual(hn.length, 10)

        let ha = try XCTUnwrap(RequestHeader.parse(apiVersionsV3))
        XCTAssertEqual(ha.header.clientId, "test")
        XCTAssertEqual(ha.length, 15)
    }

    func testPeekMatchesParseAndGivesClientIdRange() throws {
        try v2.withUnsafeBytes { raw in
            let info = try XCTUnwrap(RequestHeader.peek(raw))
            XCTAssertEqual(info.apiKey, 3)
            XCTAssertEqual(info.apiVersion, 9)
            XCTAssertEqual(info.correlationId, 7)
            XCTAssertEqual(info.headerVersion, 2)
            XCTAssertEqual(info.headerLength, 17)
            XCTAssertEqual(info.clientIdRange, 10..<13)
            XCTAssertEqual(try info.clientId(in: raw), "cli")
        }
    }

    func testEncodeReproducesVectors() {
        for bytes in [v0, v1, v2, nullClient, apiVersionsV3] {
            let parsed = try! RequestHeader.parse(bytes)!.header
            var w = ByteWriter()
            parsed.encode(into: &w)
            XCTAssertEqual(w.bytes, bytes)
        }
    }

    func testEverySplitReturnsNilUntilComplete() throws {
        let body = hex("de ad be ef")
        for vector in [v0, v1, v2, nullClient, apiVersionsV3] {
            let full = try XCTUnwrap(RequestHeader.parse(vector))
            for cut in 0..<vector.count {
                XCTAssertNil(try RequestHeader.parse(Array(vector[..<cut])), "cut \(cut) of \(vector)")
                try Array(vector[..<cut]).withUnsafeBytes { XCTAssertNil(try RequestHeader.peek($0)) }
            }
            // Complete header followed by body bytes: same header, same length.
            let more = try XCTUnwrap(RequestHeader.parse(vector + body))
            XCTAssertEqual(more.header, full.header)
            XCTAssertEqual(more.length, vector.count)
        }
    }

    func testMalformedHeadersThrow() {
        assertThrowsCode(.unknownApiKey) { _ = try RequestHeader.parse(hex("7fff 0000 00000001 ffff")) }
        assertThrowsCode(.unknownApiKey) { _ = try RequestHeader.parse(hex("ffff 0000 00000001 ffff")) }
        // Unknown key is detected from the first two bytes, before the rest arrives.
        assertThrowsCode(.unknownApiKey) { _ = try RequestHeader.parse(hex("0400")) }
        assertThrowsCode(.unsupportedVersion) { _ = try RequestHeader.parse(hex("0003 ffff 00000001 ffff")) }
        assertThrowsCode(.negativeLength) { _ = try RequestHeader.parse(hex("0003 0001 00000001 fffe")) }
        assertThrowsCode(.invalidUTF8) { _ = try RequestHeader.parse(hex("0003 0001 00000001 0002 c328")) }
        assertThrowsCode(.badVarint) { _ = try RequestHeader.parse(hex("0003 0009 00000001 ffff ffffffff7f")) }
        // A complete frame whose header does not fit in it.
        assertThrowsCode(.truncated) { _ = try RequestHeader.parse(hex("0003 0001 00000001 0009 61"), frameLength: 11) }
        // Huge tagged field size: needs more bytes, unless the frame is known to be complete.
        XCTAssertNil(try RequestHeader.parse(hex("0003 0009 00000001 ffff 01 00 ffffffff0f")))
        assertThrowsCode(.truncated) { _ = try RequestHeader.parse(hex("0003 0009 00000001 ffff 01 00 ffffffff0f"), frameLength: 15) }
    }

    func testHeaderVersionsFromCatalog() {
        XCTAssertEqual(ApiCatalog.requestHeaderVersion(apiKey: 7, apiVersion: 0), 0)
        XCTAssertEqual(ApiCatalog.requestHeaderVersion(apiKey: 7, apiVersion: 1), 1)
        XCTAssertEqual(ApiCatalog.requestHeaderVersion(apiKey: 7, apiVersion: 3), 2)
        XCTAssertEqual(ApiCatalog.requestHeaderVersion(apiKey: 0, apiVersion: 8), 1)
        XCTAssertEqual(ApiCatalog.requestHeaderVersion(apiKey: 0, apiVersion: 9), 2)
        XCTAssertEqual(ApiCatalog.requestHeaderVersion(apiKey: 1, apiVersion: 12), 2)
        XCTAssertEqual(ApiCatalog.requestHeaderVersion(apiKey: 17, apiVersion: 1), 1)  // SaslHandshake: never flexible
        XCTAssertEqual(ApiCatalog.responseHeaderVersion(apiKey: 18, apiVersion: 4), 0)  // ApiVersions: always 0
        XCTAssertEqual(ApiCatalog.responseHeaderVersion(apiKey: 3, apiVersion: 8), 0)
        XCTAssertEqual(ApiCatalog.responseHeaderVersion(apiKey: 3, apiVersion: 9), 1)
        XCTAssertEqual(ApiCatalog.responseHeaderVersion(apiKey: 60, apiVersion: 0), 1)
        XCTAssertNil(ApiCatalog.descriptor(-1))
        XCTAssertNil(ApiCatalog.descriptor(1000))
        XCTAssertEqual(ApiCatalog.descriptor(18)?.name, "ApiVersions")
        XCTAssertEqual(ApiCatalog.descriptor(3)?.maxVersion, 13)
        XCTAssertEqual(ApiKey.metadata.description, "Metadata")
        // Keys are contiguous from 0 to the last known one.
        let keys = ApiCatalog.allDescriptors.map(\.key.rawValue)
        XCTAssertEqual(keys, Array(0...keys.last!))
    }

    // MARK: peekAcks

    func testPeekAcksByVersion() throws {
        // v0-2: acks first.
        XCTAssertEqual(try ProduceRequest.peekAcks(hex("0001 00007530"), version: 2), 1)
        // v3-8: nullable int16 string transactional_id, then acks.
        XCTAssertEqual(try ProduceRequest.peekAcks(hex("ffff ffff 00007530"), version: 3), -1)
        XCTAssertEqual(try ProduceRequest.peekAcks(hex("0002 7478 0000 00007530"), version: 8), 0)
        // v9+: compact nullable string.
        XCTAssertEqual(try ProduceRequest.peekAcks(hex("00 0001"), version: 9), 1)
        XCTAssertEqual(try ProduceRequest.peekAcks(hex("03 7478 ffff"), version: 11), -1)
        // Split at every offset: nil until the acks are there.
        let v9 = hex("03 7478 0000")
        for cut in 0..<v9.count { XCTAssertNil(try ProduceRequest.peekAcks(Array(v9[..<cut]), version: 9)) }
        let v3 = hex("0002 7478 0001")
        for cut in 0..<v3.count { XCTAssertNil(try ProduceRequest.peekAcks(Array(v3[..<cut]), version: 3)) }
        assertThrowsCode(.negativeLength) { _ = try ProduceRequest.peekAcks(hex("fffe 0001"), version: 3) }
        assertThrowsCode(.badVarint) { _ = try ProduceRequest.peekAcks(hex("ffffffffff 0001"), version: 9) }
    }

    func testPeekAcksOnEncodedRequests() throws {
        for version in Int16(0)...13 {
            let req = ProduceRequest(transactionalId: version >= 3 ? "txn" : nil, acks: 0, timeoutMs: 1000,
                                     topics: [.init(name: "t", partitions: [.init(index: 0, records: nil)])])
            XCTAssertEqual(try ProduceRequest.peekAcks(req.encoded(version: version), version: version), 0)
        }
    }
}
