import XCTest
@testable import KafkaProtocol

final class RequestEncoderTests: XCTestCase {
    func testMetadataRequestVectors() {
        let topics = MetadataRequest(topicNames: ["t"])
        XCTAssertEqual(topics.encoded(version: 0), hex("00000001 0001 74"))
        XCTAssertEqual(MetadataRequest(topicNames: nil).encoded(version: 0), hex("00000000"))
        XCTAssertEqual(MetadataRequest(topicNames: nil).encoded(version: 1), hex("ffffffff"))
        XCTAssertEqual(topics.encoded(version: 4), hex("00000001 0001 74 01"))
        XCTAssertEqual(topics.encoded(version: 8), hex("00000001 0001 74 01 00 00"))
        XCTAssertEqual(topics.encoded(version: 9), hex("02 02 74 00 01 00 00 00"))
        XCTAssertEqual(topics.encoded(version: 10), hex("02 00000000000000000000000000000000 02 74 00 01 00 00 00"))
        XCTAssertEqual(MetadataRequest(topicNames: nil).encoded(version: 12), hex("00 01 00 00"))
    }

    func testApiVersionsFindCoordinatorDescribeCluster() throws {
        XCTAssertEqual(ApiVersionsRequest(clientSoftwareName: "k", clientSoftwareVersion: "1").encoded(version: 0), [])
        let av = ApiVersionsRequest(clientSoftwareName: "k", clientSoftwareVersion: "1")
        XCTAssertEqual(av.encoded(version: 3), hex("02 6b 02 31 00"))
        var r = ByteReader(av.encoded(version: 4))
        XCTAssertEqual(try ApiVersionsRequest.decode(from: &r, version: 4), av)
        XCTAssertEqual(FindCoordinatorRequest(key: "g").encoded(version: 0), hex("0001 67"))
        XCTAssertEqual(FindCoordinatorRequest(key: "g", keyType: 1).encoded(version: 3), hex("02 67 01 00"))
        XCTAssertEqual(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["g"]).encoded(version: 4), hex("00 02 02 67 00"))
        XCTAssertEqual(DescribeClusterRequest().encoded(version: 0), hex("00 00"))
        XCTAssertEqual(DescribeClusterRequest(includeFencedBrokers: true).encoded(version: 2), hex("00 01 01 00"))
    }

    func testProduceRequestVectors() {
        let batch = hex("aabb")
        let req = ProduceRequest(topic: "t", partition: 0, records: batch, acks: -1, timeoutMs: 1000)
        XCTAssertEqual(req.encoded(version: 2), hex("ffff 000003e8 00000001 0001 74 00000001 00000000 00000002 aabb"))
        XCTAssertEqual(req.encoded(version: 3), hex("ffff ffff 000003e8 00000001 0001 74 00000001 00000000 00000002 aabb"))
        XCTAssertEqual(req.encoded(version: 9), hex("00 ffff 000003e8 02 02 74 02 00000000 03 aabb 00 00 00"))
    }

    func testFetchRequestVectors() {
        let f = FetchRequest(maxWaitMs: 500, minBytes: 1, maxBytes: 1024, topics: [.init(name: "t", partitions: [.init(partition: 0, fetchOffset: 5, partitionMaxBytes: 256)])])
        XCTAssertEqual(f.encoded(version: 4), hex("ffffffff 000001f4 00000001 00000400 00  00000001 0001 74 00000001 00000000 0000000000000005 00000100"))
        XCTAssertEqual(f.encoded(version: 12), hex("""
            ffffffff 000001f4 00000001 00000400 00 00000000 ffffffff
            02 02 74 02 00000000 ffffffff 0000000000000005 ffffffff ffffffffffffffff 00000100 00 00
            01 01 00
            """))
    }

    func testFramesAndHeaders() throws {
        let frame = KafkaFrame.request(header: RequestHeader(apiKey: 18, apiVersion: 3, correlationId: 1, clientId: "c"),
                                       body: ApiVersionsRequest(clientSoftwareName: "k", clientSoftwareVersion: "1").encoded(version: 3))
        XCTAssertEqual(frame, hex("00000011  0012 0003 00000001 0001 63 00  02 6b 02 31 00"))
        let parsed = try XCTUnwrap(RequestHeader.parse(Array(frame[4...])))
        XCTAssertEqual(parsed.length, 12)
        XCTAssertEqual(KafkaFrame.response(apiKey: 18, apiVersion: 3, correlationId: 9, body: [1]), hex("00000005 00000009 01"))
        XCTAssertEqual(KafkaFrame.response(apiKey: 3, apiVersion: 9, correlationId: 9, body: [1]), hex("00000006 00000009 00 01"))
    }

    func testRecordBatchLayoutAndCRC() throws {
        let builder = RecordBatchBuilder(baseTimestamp: 1_000)
        let batch = builder.build([Record(key: nil, value: Array("hi".utf8)), Record(key: [1], value: nil, headers: [.init(key: "h", value: [2])], timestampDelta: 3)])
        var r = ByteReader(batch)
        XCTAssertEqual(try r.readInt64(), 0)                       // base offset
        XCTAssertEqual(Int(try r.readInt32()), batch.count - 12)   // batch length
        XCTAssertEqual(try r.readInt32(), -1)                      // partition leader epoch
        XCTAssertEqual(try r.readInt8(), 2)                        // magic
        let crc = try r.readUInt32()
        XCTAssertEqual(crc, CRC32C.checksum(batch[21...]))
        XCTAssertEqual(try r.readInt16(), 0)                       // attributes
        XCTAssertEqual(try r.readInt32(), 1)                       // last offset delta
        XCTAssertEqual(try r.readInt64(), 1_000)                   // base timestamp
        XCTAssertEqual(try r.readInt64(), 1_003)                   // max timestamp
        XCTAssertEqual(try r.readInt64(), -1)                      // producer id
        XCTAssertEqual(try r.readInt16(), -1)                      // producer epoch
        XCTAssertEqual(try r.readInt32(), -1)                      // base sequence
        XCTAssertEqual(try r.readInt32(), 2)                       // record count
        // First record: length 8 (zigzag 0x10): attrs 0, ts delta 0, offset delta 0, key -1 (01),
        // value len 2 (04) "hi", 0 headers.
        XCTAssertEqual(try r.readRawBytes(9), hex("10 00 00 00 01 04 6869 00"))
        // Second, length 11 (0x16): attrs, ts 3 (06), offset 1 (02), key len 1 (02) 01, value null (01),
        // 1 header: key len 1 (02) "h", value len 1 (02) 02.
        XCTAssertEqual(try r.readRawBytes(12), hex("16 00 06 02 02 01 01 02 02 68 02 02"))
        XCTAssertTrue(r.isAtEnd)
    }
}
