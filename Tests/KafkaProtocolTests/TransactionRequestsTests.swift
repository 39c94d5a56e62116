import XCTest
@testable import KafkaProtocol

/// Hand-made vectors from the message specs (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
/// TxnOffsetCommit, InitProducerId, Produce), old and flexible layouts.
final class TransactionRequestsTests: XCTestCase {
    private func decode(_ apiKey: ApiKey, _ version: Int16, _ body: [UInt8]) throws -> TransactionRequest {
        var r = ByteReader(body)
        let request = try TransactionRequest.decode(apiKey: apiKey.rawValue, apiVersion: version, from: &r)
        try r.expectEnd("test body")
        return request
    }

    private let producer = TransactionRequest.Producer(transactionalId: "tx", producerId: 7, producerEpoch: 1)

    func testAddPartitionsToTxnV0() throws {
        let request = try decode(.addPartitionsToTxn, 0, hex("""
            0002 7478                 # transactional_id "tx"
            0000000000000007 0001     # producer id 7, epoch 1
            00000001 0001 74          # 1 topic "t"
            00000002 00000000 00000003
            """))
        XCTAssertEqual(request.producers, [producer])
        XCTAssertEqual(request.topics, [[.init(name: "t", partitions: [0, 3])]])
        XCTAssertEqual(request.responseBody(errorCode: 49), hex("""
            00000000                  # throttle
            00000001 0001 74 00000002 # 1 topic "t", 2 partitions
            00000000 0031 00000003 0031
            """))
    }

    func testAddPartitionsToTxnV3Flexible() throws {
        let request = try decode(.addPartitionsToTxn, 3, hex("""
            03 7478 0000000000000007 0001
            02 02 74 03 00000000 00000003 00   # topics, tagged fields of the topic
            00                                 # tagged fields
            """))
        XCTAssertEqual(request.topics, [[.init(name: "t", partitions: [0, 3])]])
        XCTAssertEqual(request.responseBody(errorCode: 49), hex("""
            00000000 02 02 74 03 00000000 0031 00 00000003 0031 00 00 00
            """))
    }

    func testAddPartitionsToTxnV4BatchesTransactions() throws {
        let request = try decode(.addPartitionsToTxn, 4, hex("""
            03                                 # 2 transactions
            03 7478 0000000000000007 0001 00 02 02 74 02 00000001 00 00
            03 7479 0000000000000009 0000 01 01 00
            00
            """))
        XCTAssertEqual(request.producers.map(\.producerId), [7, 9])
        XCTAssertEqual(request.topics, [[.init(name: "t", partitions: [1])], []])
        XCTAssertEqual(request.responseBody(errorCode: 49), hex("""
            00000000 0031 03
            03 7478 02 02 74 02 00000001 0031 00 00 00
            03 7479 01 00
            00
            """))
    }

    func testAddOffsetsToTxnAndEndTxn() throws {
        let addOffsets = try decode(.addOffsetsToTxn, 0, hex("0002 7478 0000000000000007 0001 0001 67"))
        XCTAssertEqual(addOffsets.producers, [producer])
        XCTAssertEqual(addOffsets.responseBody(errorCode: 0), hex("00000000 0000"))

        let endTxn = try decode(.endTxn, 3, hex("03 7478 0000000000000007 0001 01 00"))
        XCTAssertEqual(endTxn.producers, [producer])
        XCTAssertEqual(endTxn.responseBody(errorCode: 49), hex("00000000 0031 00"))
        // v5 answers carry the producer id and epoch.
        let endTxn5 = try decode(.endTxn, 5, hex("03 7478 0000000000000007 0001 00 00"))
        XCTAssertEqual(endTxn5.responseBody(errorCode: 49), hex("00000000 0031 ffffffffffffffff ffff 00"))
    }

    func testTxnOffsetCommitV0AndV3() throws {
        let v0 = try decode(.txnOffsetCommit, 0, hex("""
            0002 7478 0001 67 0000000000000007 0001
            00000001 0001 74 00000001 00000000 000000000000002a ffff
            """))
        XCTAssertEqual(v0.producers, [producer])
        XCTAssertEqual(v0.topics, [[.init(name: "t", partitions: [0])]])
        XCTAssertEqual(v0.responseBody(errorCode: 59), hex("00000000 00000001 0001 74 00000001 00000000 003b"))

        let v3 = try decode(.txnOffsetCommit, 3, hex("""
            03 7478 02 67 0000000000000007 0001
            00000005 02 6d 00            # generation, member id "m", no group instance id
            02 02 74 02 00000000 000000000000002a ffffffff 01 00 00
            00
            """))
        XCTAssertEqual(v3.producers, [producer])
        XCTAssertEqual(v3.responseBody(errorCode: 59), hex("00000000 02 02 74 02 00000000 003b 00 00 00"))
    }

    func testTruncatedAndUnknownVersionsAreErrors() {
        assertThrowsCode(.truncated) { _ = try self.decode(.endTxn, 0, hex("0002 7478 0000000000000007")) }
        assertThrowsCode(.unsupportedVersion) { _ = try self.decode(.endTxn, 9, hex("00")) }
        assertThrowsCode(.unsupportedVersion) { _ = try self.decode(.produce, 3, hex("00")) }
    }

    func testInitProducerIdRequestDecodesAndClearsTheProducerId() throws {
        let body = hex("03 7478 0000ea60 0000000000000007 0002 00")
        var r = ByteReader(body)
        XCTAssertEqual(try InitProducerIdRequest.decode(from: &r, version: 4),
                       InitProducerIdRequest(transactionalId: "tx", transactionTimeoutMs: 60_000, producerId: 7, producerEpoch: 2))
        var payload = hex("00") + body    // a one-byte stand-in for the request header
        XCTAssertTrue(try InitProducerIdRequest.clearProducerId(&payload, headerLength: 1, version: 4))
        XCTAssertEqual(payload, hex("00 03 7478 0000ea60 ffffffffffffffff ffff 00"))
        XCTAssertFalse(try InitProducerIdRequest.clearProducerId(&payload, headerLength: 1, version: 4),
                       "nothing left to clear")
        var v1 = hex("00 0002 7478 0000ea60")
        XCTAssertFalse(try InitProducerIdRequest.clearProducerId(&v1, headerLength: 1, version: 1), "v0-2 carry no id")
        var r1 = ByteReader(Array(v1[1...]))
        XCTAssertEqual(try InitProducerIdRequest.decode(from: &r1, version: 1).producerId, -1)
    }

    private func produce(version: Int16) -> (payload: [UInt8], headerLength: Int) {
        let batch = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000).build([Record(key: nil, value: [1])])
        let frame = KafkaFrame.request(
            header: RequestHeader(apiKey: ApiKey.produce.rawValue, apiVersion: version, correlationId: 1, clientId: "c"),
            body: ProduceRequest(topic: "t", partition: 2, records: batch, acks: -1).encoded(version: version))
        let payload = Array(frame[4...])
        let header = try! payload.withUnsafeBytes { try RequestHeader.peek($0) }!
        return (payload, header.headerLength)
    }

    func testProduceErrorResponseV3AndV9() throws {
        let v3 = produce(version: 3)
        XCTAssertEqual(try ProduceErrorResponse.body(request: v3.payload, headerLength: v3.headerLength, version: 3,
                                                     errorCode: 59), hex("""
            00000001 0001 74 00000001
            00000002 003b ffffffffffffffff ffffffffffffffff   # base offset, log append time
            00000000                                          # throttle
            """))
        let v9 = produce(version: 9)
        XCTAssertEqual(try ProduceErrorResponse.body(request: v9.payload, headerLength: v9.headerLength, version: 9,
                                                     errorCode: 59), hex("""
            02 02 74 02
            00000002 003b ffffffffffffffff ffffffffffffffff ffffffffffffffff   # + log start offset
            01 00 00                                          # no record errors, no message, tagged fields
            00 00000000 00
            """))
    }
}
