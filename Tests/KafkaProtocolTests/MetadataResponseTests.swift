import XCTest
@testable import KafkaProtocol

final class MetadataResponseTests: XCTestCase {
    // v0: [brokers: node host port] [topics: err name [partitions: err idx leader [replicas] [isr]]]
    static let v0 = hex("""
        00000001  00000001 0002 6231 00002384
        00000001  0000 0001 74
                  00000001  0000 00000000 00000001 00000001 00000001 00000001 00000001
        """)
    // v1: + broker rack (null), controller id, topic is_internal.
    static let v1 = hex("""
        00000001  00000001 0002 6231 00002384 ffff
        00000002
        00000001  0000 0001 74 00
                  00000001  0000 00000000 00000001 00000001 00000001 00000001 00000001
        """)
    // v7: throttle, brokers with rack, cluster id, controller, topic, partition with leader epoch and
    // offline replicas.
    static let v7 = hex("""
        0000000a
        00000002  00000001 0002 6231 00002384 0002 7231
                  00000002 0002 6232 00002385 ffff
        0003 636c75
        00000001
        00000001  0000 0001 74 01
                  00000001  0000 00000003 00000001 00000005 00000002 00000001 00000002 00000001 00000001 00000000
        """)
    // v9: first flexible version; compact everything, tag buffers, topic and cluster authorized ops.
    static let v9 = hex("""
        00000000
        02  00000001 03 6231 00002384 00 00
        04 636c75
        00000001
        02  0000 02 74 00
            02  0000 00000000 00000001 00000000 02 00000001 02 00000001 01 00
            80000000 00
        00000fff
        00
        """)
    // v12: topic id after name; name nullable (here null, error 100 UNKNOWN_TOPIC_ID); no cluster ops.
    static let v12 = hex("""
        00000000
        02  00000001 03 6231 00002384 03 7231 00
        00
        00000001
        02  0064 00 0102030405060708090a0b0c0d0e0f10 00
            01
            80000000 00
        00
        """)
    // v13: + top-level error code before the tag buffer.
    static let v13 = hex("""
        00000000
        01
        00
        ffffffff
        01
        0081
        00
        """)

    func testVectorsDecode() throws {
        let m0 = try MetadataResponse.decode(Self.v0, version: 0)
        XCTAssertEqual(m0.brokers, [.init(nodeId: 1, host: "b1", port: 9092)])
        XCTAssertEqual(m0.topics.first?.name, "t")
        XCTAssertEqual(m0.topics.first?.partitions.first?.replicaNodes, [1])

        let m1 = try MetadataResponse.decode(Self.v1, version: 1)
        XCTAssertEqual(m1.controllerId, 2)
        XCTAssertNil(m1.brokers[0].rack)

        let m7 = try MetadataResponse.decode(Self.v7, version: 7)
        XCTAssertEqual(m7.throttleTimeMs, 10)
        XCTAssertEqual(m7.brokers.map(\.rack), ["r1", nil])
        XCTAssertEqual(m7.clusterId, "clu")
        XCTAssertTrue(m7.topics[0].isInternal)
        XCTAssertEqual(m7.topics[0].partitions[0].leaderEpoch, 5)
        XCTAssertEqual(m7.topics[0].partitions[0].replicaNodes, [1, 2])
        XCTAssertEqual(m7.topics[0].partitions[0].isrNodes, [1])
        XCTAssertEqual(m7.topics[0].partitions[0].offlineReplicas, [])

        let m9 = try MetadataResponse.decode(Self.v9, version: 9)
        XCTAssertEqual(m9.clusterAuthorizedOperations, 0xfff)
        XCTAssertEqual(m9.topics[0].topicAuthorizedOperations, Int32.min)

        let m12 = try MetadataResponse.decode(Self.v12, version: 12)
        XCTAssertNil(m12.topics[0].name)
        XCTAssertEqual(m12.topics[0].errorCode, 100)
        XCTAssertEqual(m12.topics[0].topicId, KafkaUUID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10))
        XCTAssertNil(m12.clusterId)

        let m13 = try MetadataResponse.decode(Self.v13, version: 13)
        XCTAssertEqual(m13.errorCode, 129)
        XCTAssertTrue(m13.brokers.isEmpty)
    }

    func testVectorsRoundTrip() throws {
        let vectors: [(Int16, [UInt8])] = [(0, Self.v0), (1, Self.v1), (7, Self.v7), (9, Self.v9), (12, Self.v12), (13, Self.v13)]
        for (version, bytes) in vectors {
            XCTAssertEqual(try MetadataResponse.decode(bytes, version: version).encoded(version: version), bytes, "v\(version)")
        }
        // Same layouts: v3/v4 differ from v2 only by throttle; v8 = v7 + ops; v10/v11 add topic id.
        XCTAssertEqual(try MetadataResponse.decode(Self.v1, version: 1).encoded(version: 1), Self.v1)
    }

    func testTruncationsAndCorruptionsThrow() {
        for (version, bytes) in [(Int16(0), Self.v0), (7, Self.v7), (9, Self.v9), (12, Self.v12)] {
            for cut in 0..<bytes.count {
                assertThrowsProtocolError { _ = try MetadataResponse.decode(Array(bytes[..<cut]), version: version) }
            }
            assertThrowsCode(.trailingBytes) { _ = try MetadataResponse.decode(bytes + [0], version: version) }
        }
        assertThrowsCode(.unsupportedVersion) { _ = try MetadataResponse.decode(Self.v13, version: 14) }
        // Host length -2 in v0.
        assertThrowsCode(.negativeLength) { _ = try MetadataResponse.decode(hex("00000001 00000001 fffe 00000000 00000000 0000"), version: 0) }
        // Invalid UTF-8 host in v9.
        assertThrowsCode(.invalidUTF8) { _ = try MetadataResponse.decode(hex("00000000 02 00000001 03 ff31 00002384 00 00 00 00000000 01 00"), version: 9) }
        // Broker count far beyond the bytes present.
        assertThrowsCode(.lengthTooLarge) { _ = try MetadataResponse.decode(hex("7fffffff 00000001"), version: 0) }
    }
}
