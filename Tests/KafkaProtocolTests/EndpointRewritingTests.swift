import XCTest
@testable import KafkaProtocol

final class EndpointRewritingTests: XCTestCase {
    /// Maps b1 -> proxy-1:19092 etc., recording what it saw.
    final class Mapper {
        var seen: [BrokerEndpoint] = []
        func rewrite(_ e: inout BrokerEndpoint) {
            seen.append(e)
            e.host = "proxy-\(e.nodeId)"
            e.port = 19_000 + e.nodeId
        }
    }

    func rewrite(_ key: ApiKey, _ version: Int16, _ payload: [UInt8]) throws -> ([UInt8], [BrokerEndpoint]) {
        let m = Mapper()
        let out = try EndpointRewriting.rewriteResponse(apiKey: key.rawValue, apiVersion: version, payload: payload, rewrite: m.rewrite)
        return (out, m.seen)
    }

    func testMetadataV0ChangesOnlyHostAndPort() throws {
        let payload = hex("0000002a") + MetadataResponseTests.v0   // header v0: correlation id 42
        let (out, seen) = try rewrite(.metadata, 0, payload)
        XCTAssertEqual(seen, [BrokerEndpoint(nodeId: 1, host: "b1", port: 9092)])
        let expected = hex("""
            0000002a
            00000001  00000001 0007 70726f78792d31 00004a39
            00000001  0000 0001 74
                      00000001  0000 00000000 00000001 00000001 00000001 00000001 00000001
            """)
        XCTAssertEqual(out, expected)
    }

    func testMetadataV9KeepsHeaderTagsAndEverythingElse() throws {
        let header = hex("0000002a 01 07 02 abcd")  // header v1 with one unknown tag
        let (out, _) = try rewrite(.metadata, 9, header + MetadataResponseTests.v9)
        XCTAssertEqual(Array(out[..<header.count]), header)
        var expected = try MetadataResponse.decode(MetadataResponseTests.v9, version: 9)
        expected.brokers[0].host = "proxy-1"
        expected.brokers[0].port = 19_001
        XCTAssertEqual(try MetadataResponse.decode(Array(out[header.count...]), version: 9), expected)
        // Identity rewrite gives back the input byte for byte.
        for (v, body) in [(Int16(7), MetadataResponseTests.v7), (12, MetadataResponseTests.v12), (13, MetadataResponseTests.v13)] {
            let h = v >= 9 ? hex("00000001 00") : hex("00000001")
            XCTAssertEqual(try EndpointRewriting.rewriteResponse(apiKey: 3, apiVersion: v, payload: h + body) { _ in }, h + body)
        }
    }

    func testFindCoordinatorSkipsErrorEntries() throws {
        let (out, seen) = try rewrite(.findCoordinator, 4, hex("00000001 00") + CoordinatorClusterTests.fc4)
        XCTAssertEqual(seen.map(\.nodeId), [1])
        let f = try FindCoordinatorResponse.decode(Array(out[5...]), version: 4)
        XCTAssertEqual(f.coordinators[0].host, "proxy-1")
        XCTAssertEqual(f.coordinators[1].host, "")
        XCTAssertEqual(f.coordinators[1].port, -1)
        // v1 error answer: nothing to rewrite, bytes unchanged.
        let v1 = hex("00000001") + CoordinatorClusterTests.fc1
        let (same, none) = try rewrite(.findCoordinator, 1, v1)
        XCTAssertEqual(same, v1)
        XCTAssertTrue(none.isEmpty)
        // v0 single coordinator.
        let (o0, s0) = try rewrite(.findCoordinator, 0, hex("00000001") + CoordinatorClusterTests.fc0)
        XCTAssertEqual(s0.count, 1)
        XCTAssertEqual(o0, hex("00000001 0000 00000001 0007 70726f78792d31 00004a39"))
    }

    func testDescribeCluster() throws {
        let (out, seen) = try rewrite(.describeCluster, 2, hex("00000001 00") + CoordinatorClusterTests.dc2)
        XCTAssertEqual(seen.map(\.nodeId), [1, 2])
        let d = try DescribeClusterResponse.decode(Array(out[5...]), version: 2)
        XCTAssertEqual(d.brokers.map(\.host), ["proxy-1", "proxy-2"])
        XCTAssertEqual(d.brokers.map(\.isFenced), [false, true])
    }

    func testClusterIdReplacedWhereTheAnswerHasOne() throws {
        let id = "AAAAAAAAAAAAAAAAAAAAAA"
        let h9 = hex("00000001 00")
        let m9 = try EndpointRewriting.rewriteResponse(apiKey: 3, apiVersion: 9, payload: h9 + MetadataResponseTests.v9,
                                                       clusterId: id) { _ in }
        var expected = try MetadataResponse.decode(MetadataResponseTests.v9, version: 9)
        XCTAssertNotEqual(expected.clusterId, id)
        expected.clusterId = id
        XCTAssertEqual(try MetadataResponse.decode(Array(m9[h9.count...]), version: 9), expected)
        // Metadata v0 has no cluster id: the answer is the same with or without one to present.
        let h0 = hex("00000001")
        XCTAssertEqual(try EndpointRewriting.rewriteResponse(apiKey: 3, apiVersion: 0, payload: h0 + MetadataResponseTests.v0,
                                                             clusterId: id) { _ in },
                       try EndpointRewriting.rewriteResponse(apiKey: 3, apiVersion: 0, payload: h0 + MetadataResponseTests.v0) { _ in })
        let d2 = try EndpointRewriting.rewriteResponse(apiKey: 60, apiVersion: 2, payload: h9 + CoordinatorClusterTests.dc2,
                                                       clusterId: id) { _ in }
        XCTAssertEqual(try DescribeClusterResponse.decode(Array(d2[h9.count...]), version: 2).clusterId, id)
    }

    // Produce v10: one topic "t", one partition with a CurrentLeader tag (tag 0 inside the
    // partition, which must not be mistaken for NodeEndpoints), throttle, then top-level
    // NodeEndpoints (tag 0): node 2 at b2:9092, null rack.
    static let produceV10Prefix = hex("""
        00000007 00
        02  02 74
            02  00000000 0000 0000000000000064 ffffffffffffffff 0000000000000000 01 00
                01 00 08 00000002 00000003
            00
        00000000
        """)
    static let nodeEndpointsB2 = hex("02 00000002 03 6232 00002384 00 00")

    func testProduceV10SplicesOnlyTheTail() throws {
        let payload = Self.produceV10Prefix + hex("01 00 0e") + Self.nodeEndpointsB2
        XCTAssertEqual(try EndpointRewriting.nodeEndpoints(apiKey: 0, apiVersion: 10, payload: payload),
                       [NodeEndpoint(nodeId: 2, host: "b2", port: 9092)])
        let (out, seen) = try rewrite(.produce, 10, payload)
        XCTAssertEqual(seen, [BrokerEndpoint(nodeId: 2, host: "b2", port: 9092)])
        XCTAssertEqual(out, Self.produceV10Prefix + hex("01 00 13  02 00000002 08 70726f78792d32 00004a3a 00 00"))
        // Without NodeEndpoints the payload comes back as is.
        let bare = Self.produceV10Prefix + hex("00")
        XCTAssertEqual(try rewrite(.produce, 10, bare).0, bare)
        // v9 carries no endpoints: untouched, not even parsed.
        XCTAssertEqual(try rewrite(.produce, 9, [1, 2, 3]).0, [1, 2, 3])
    }

    // Fetch v16: throttle, error, session, one topic by id, one partition with aborted
    // transactions (one entry), preferred replica, 5 record bytes, a partition tag; then
    // top-level NodeEndpoints plus an unknown tag 7 that must survive.
    static let fetchV16Prefix = hex("""
        00000007 00
        00000000 0000 00000000
        02  000102030405060708090a0b0c0d0e0f
            02  00000000 0000 0000000000000010 0000000000000010 0000000000000000
                02 0000000000000001 0000000000000002 00
                ffffffff
                06 0102030405
                01 01 08 00000002 00000003
            00
        """)

    func testFetchV16SkipsRecordsAndKeepsOtherTags() throws {
        let payload = Self.fetchV16Prefix + hex("02  00 0e") + Self.nodeEndpointsB2 + hex("07 01 ff")
        let (out, seen) = try rewrite(.fetch, 16, payload)
        XCTAssertEqual(seen.map(\.host), ["b2"])
        XCTAssertEqual(out, Self.fetchV16Prefix + hex("02 00 13  02 00000002 08 70726f78792d32 00004a3a 00 00  07 01 ff"))
        // v17 has the same response layout.
        XCTAssertEqual(try rewrite(.fetch, 17, payload).0, out)
        // Null records (compact 00) and null aborted transactions.
        let nulls = hex("00000001 00  00000000 0000 00000000  02 000102030405060708090a0b0c0d0e0f 02 00000000 0000 0000000000000000 0000000000000000 0000000000000000 00 ffffffff 00 00 00  00")
        XCTAssertEqual(try rewrite(.fetch, 16, nulls).0, nulls)
    }

    func testFetchAndProduceMalformedThrow() {
        let payload = Self.fetchV16Prefix + hex("01 00 0e") + Self.nodeEndpointsB2
        for cut in 0..<payload.count {
            assertThrowsProtocolError { _ = try EndpointRewriting.rewriteResponse(apiKey: 1, apiVersion: 16, payload: Array(payload[..<cut])) { _ in } }
        }
        // Bytes after the message (the librdkafka mock writes one) are kept, not judged.
        let withTrailing = try? EndpointRewriting.rewriteResponse(apiKey: 1, apiVersion: 16, payload: payload + [0x5a]) { _ in }
        XCTAssertEqual(withTrailing, payload + [0x5a])
        assertThrowsCode(.unsupportedVersion) { _ = try EndpointRewriting.rewriteResponse(apiKey: 1, apiVersion: 99, payload: payload) { _ in } }
        let produce = Self.produceV10Prefix + hex("01 00 0e") + Self.nodeEndpointsB2
        for cut in 0..<produce.count {
            assertThrowsProtocolError { _ = try EndpointRewriting.rewriteResponse(apiKey: 0, apiVersion: 10, payload: Array(produce[..<cut])) { _ in } }
        }
        // Records length beyond the payload.
        var huge = Self.fetchV16Prefix
        huge[huge.count - 18] = 0xff // records compact length byte: 06 -> ff (a multi-byte varint prefix)
        assertThrowsProtocolError { _ = try EndpointRewriting.rewriteResponse(apiKey: 1, apiVersion: 16, payload: huge + hex("00")) { _ in } }
    }

    func testCarriesEndpointsAndCaps() {
        XCTAssertTrue(EndpointRewriting.carriesEndpoints(apiKey: 3, apiVersion: 0))
        XCTAssertTrue(EndpointRewriting.carriesEndpoints(apiKey: 10, apiVersion: 6))
        XCTAssertTrue(EndpointRewriting.carriesEndpoints(apiKey: 60, apiVersion: 0))
        XCTAssertFalse(EndpointRewriting.carriesEndpoints(apiKey: 0, apiVersion: 9))
        XCTAssertTrue(EndpointRewriting.carriesEndpoints(apiKey: 0, apiVersion: 10))
        XCTAssertFalse(EndpointRewriting.carriesEndpoints(apiKey: 1, apiVersion: 15))
        XCTAssertTrue(EndpointRewriting.carriesEndpoints(apiKey: 1, apiVersion: 16))
        XCTAssertFalse(EndpointRewriting.carriesEndpoints(apiKey: 18, apiVersion: 3))
        XCTAssertEqual(EndpointRewriting.maxDecodedVersion, [0: 13, 1: 17, 3: 13, 10: 6, 60: 2])
    }
}
