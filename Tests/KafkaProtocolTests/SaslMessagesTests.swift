import XCTest
@testable import KafkaProtocol

/// Vectors written by hand from SaslHandshake{Request,Response}.json and SaslAuthenticate{Request,Response}.json.
final class SaslMessagesTests: XCTestCase {
    func testSaslHandshakeRequestV0V1() throws {
        let req = SaslHandshakeRequest(mechanism: "PLAIN")
        for v: Int16 in [0, 1] {
            XCTAssertEqual(req.encoded(version: v), hex("0005 504c41494e"))
            XCTAssertEqual(try SaslHandshakeRequest.decode(hex("0005 504c41494e"), version: v), req)
        }
        assertThrowsCode(.truncated) { _ = try SaslHandshakeRequest.decode(hex("0006 504c41494e"), version: 1) }
        assertThrowsCode(.trailingBytes) { _ = try SaslHandshakeRequest.decode(hex("0005 504c41494e 00"), version: 1) }
    }

    func testSaslHandshakeResponse() throws {
        let resp = SaslHandshakeResponse(errorCode: 0, mechanisms: ["PLAIN", "SCRAM-SHA-256"])
        let bytes = hex("""
            0000                      # error_code
            00000002                  # mechanisms: 2
            0005 504c41494e           # PLAIN
            000d 5343 52414d2d 5348412d 323536  # SCRAM-SHA-256
            """)
        XCTAssertEqual(resp.encoded(version: 1), bytes)
        XCTAssertEqual(try SaslHandshakeResponse.decode(bytes, version: 1), resp)
        XCTAssertEqual(try SaslHandshakeResponse.decode(bytes, version: 0), resp)
        let refused = hex("0021 00000001 0005 504c41494e")
        XCTAssertEqual(try SaslHandshakeResponse.decode(refused, version: 1),
                       SaslHandshakeResponse(errorCode: SaslHandshakeResponse.unsupportedSaslMechanism, mechanisms: ["PLAIN"]))
        assertThrowsCode(.lengthTooLarge) { _ = try SaslHandshakeResponse.decode(hex("0000 00000100 0000"), version: 1) }
    }

    func testSaslAuthenticateRequestVersions() throws {
        let req = SaslAuthenticateRequest(authBytes: [0x00, 0x61, 0x00, 0x62])
        XCTAssertEqual(req.encoded(version: 0), hex("00000004 00610062"))
        XCTAssertEqual(req.encoded(version: 1), hex("00000004 00610062"))
        XCTAssertEqual(req.encoded(version: 2), hex("05 00610062 00"))
        for v: Int16 in 0...2 {
            XCTAssertEqual(try SaslAuthenticateRequest.decode(req.encoded(version: v), version: v), req)
        }
        XCTAssertEqual(SaslAuthenticateRequest(authBytes: []).encoded(version: 2), hex("01 00"))
        assertThrowsCode(.negativeLength) { _ = try SaslAuthenticateRequest.decode(hex("ffffffff"), version: 0) }
        assertThrowsProtocolError { _ = try SaslAuthenticateRequest.decode(hex("00 00"), version: 2) }
    }

    func testSaslAuthenticateResponseV0() throws {
        let ok = SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: [0x76])
        let bytes = hex("0000 ffff 00000001 76")
        XCTAssertEqual(ok.encoded(version: 0), bytes)
        XCTAssertEqual(try SaslAuthenticateResponse.decode(bytes, version: 0), ok)
    }

    func testSaslAuthenticateResponseV1SessionLifetime() throws {
        let ok = SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: [], sessionLifetimeMs: 3_600_000)
        let bytes = hex("0000 ffff 00000000 000000000036ee80")
        XCTAssertEqual(ok.encoded(version: 1), bytes)
        XCTAssertEqual(try SaslAuthenticateResponse.decode(bytes, version: 1), ok)
        let failed = SaslAuthenticateResponse(errorCode: 58, errorMessage: "bad", authBytes: [])
        let fbytes = hex("003a 0003 626164 00000000 0000000000000000")
        XCTAssertEqual(failed.encoded(version: 1), fbytes)
        XCTAssertEqual(try SaslAuthenticateResponse.decode(fbytes, version: 1), failed)
    }

    func testSaslAuthenticateResponseV2Flexible() throws {
        let ok = SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: [0x76, 0x3d], sessionLifetimeMs: 1000)
        let bytes = hex("0000 00 03 763d 00000000000003e8 00")
        XCTAssertEqual(ok.encoded(version: 2), bytes)
        XCTAssertEqual(try SaslAuthenticateResponse.decode(bytes, version: 2), ok)
        let failed = SaslAuthenticateResponse(errorCode: 58, errorMessage: "no", authBytes: [], sessionLifetimeMs: 0,
                                              taggedFields: [TaggedField(tag: 5, data: [1])])
        let fbytes = hex("003a 03 6e6f 01 0000000000000000 01 05 01 01")
        XCTAssertEqual(failed.encoded(version: 2), fbytes)
        XCTAssertEqual(try SaslAuthenticateResponse.decode(fbytes, version: 2), failed)
        assertThrowsCode(.truncated) { _ = try SaslAuthenticateResponse.decode(hex("0000 00 01"), version: 2) }
        assertThrowsCode(.trailingBytes) { _ = try SaslAuthenticateResponse.decode(bytes + [0], version: 2) }
    }

    func testFramesUseCatalogHeaderVersions() throws {
        let hs = KafkaFrame.request(header: RequestHeader(apiKey: 17, apiVersion: 1, correlationId: 7, clientId: "p"),
                                    body: SaslHandshakeRequest(mechanism: "PLAIN").encoded(version: 1))
        XCTAssertEqual(hs, hex("00000012 0011 0001 00000007 0001 70 0005 504c41494e"))
        let auth = KafkaFrame.request(header: RequestHeader(apiKey: 36, apiVersion: 2, correlationId: 8, clientId: "p"),
                                      body: SaslAuthenticateRequest(authBytes: [1]).encoded(version: 2))
        XCTAssertEqual(auth, hex("0000000f 0024 0002 00000008 0001 70 00 02 01 00"))
        XCTAssertEqual(ApiCatalog.responseHeaderVersion(apiKey: 36, apiVersion: 2), 1)
        XCTAssertEqual(ApiCatalog.responseHeaderVersion(apiKey: 17, apiVersion: 1), 0)
    }
}
