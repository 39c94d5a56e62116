import XCTest
@testable import KafkaProtocol

/// Group requests the proxy reads (commits, SyncGroup, LeaveGroup) and the answers it writes,
/// against byte vectors written by hand from the message definitions.
final class GroupRequestsTests: XCTestCase {
    private let commitV2 = hex("0001 67 00000004 0001 6d ffffffffffffffff 00000001 0001 74 00000001 00000000 0000000000000384 0000")
    private let commitV8 = hex("02 67 00000004 02 6d 00 02 02 74 02 00000000 0000000000000384 ffffffff 01 00 00 00")

    func testOffsetCommitVectors() throws {
        let expected = OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: 4, memberId: "m", topics: [
            .init(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: 900)]),
        ])
        XCTAssertEqual(try OffsetCommitRequest.decode(body: commitV2, version: 2), expected)
        XCTAssertEqual(try OffsetCommitRequest.decode(body: commitV8, version: 8), expected)
        XCTAssertEqual(expected.encoded(version: 2), commitV2)
        XCTAssertEqual(expected.encoded(version: 8), commitV8)
        // v1: a commit timestamp per partition; v0: no member at all.
        let v1 = hex("0001 67 00000004 0001 6d 00000001 0001 74 00000001 00000000 0000000000000384 0000018bcfe56800 0000")
        let decoded = try OffsetCommitRequest.decode(body: v1, version: 1)
        XCTAssertEqual(decoded.memberId, "m")
        XCTAssertEqual(decoded.topics[0].partitions[0].commitTimestamp, 1_700_000_000_000)
        XCTAssertEqual(try OffsetCommitRequest.decode(body: hex("0001 67 00000000"), version: 0).memberId, "")
    }

    func testOffsetCommitRoundTripsInEveryVersion() throws {
        let request = OffsetCommitRequest(groupId: "group", generationIdOrMemberEpoch: 9, memberId: "member-1",
                                          groupInstanceId: "static", retentionTimeMs: 60_000, topics: [
            .init(name: "a", partitions: [.init(partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: 3,
                                                commitTimestamp: 5, committedMetadata: nil),
                                          .init(partitionIndex: 1, committedOffset: 2)]),
            .init(name: "b", partitions: []),
        ])
        for version: Int16 in 0...OffsetCommitRequest.maxVersion {
            let decoded = try OffsetCommitRequest.decode(body: request.encoded(version: version), version: version)
            XCTAssertEqual(decoded.encoded(version: version), request.encoded(version: version), "v\(version)")
            XCTAssertEqual(decoded.committed, request.committed, "v\(version)")
            if version >= 1 { XCTAssertEqual(decoded.memberId, "member-1", "v\(version)") }
        }
        XCTAssertThrowsError(try OffsetCommitRequest.decode(body: commitV8, version: 10))
        XCTAssertThrowsError(try OffsetCommitRequest.decode(body: commitV8 + [0], version: 8), "trailing bytes")
        XCTAssertThrowsError(try OffsetCommitRequest.decode(body: Array(commitV8.dropLast(3)), version: 8))
    }

    func testTxnOffsetCommitVectors() throws {
        let v3 = hex("03 7478 02 67 0000000000000007 0000 00000004 02 6d 00 02 02 74 02 00000001 0000000000000005 ffffffff 01 00 00 00")
        let expected = TxnOffsetCommitRequest(transactionalId: "tx", groupId: "g", producerId: 7, producerEpoch: 0,
                                              generationId: 4, memberId: "m", topics: [
            .init(name: "t", partitions: [.init(partitionIndex: 1, committedOffset: 5)]),
        ])
        XCTAssertEqual(try TxnOffsetCommitRequest.decode(body: v3, version: 3), expected)
        XCTAssertEqual(expected.encoded(version: 3), v3)
        let v0 = hex("0002 7478 0001 67 0000000000000007 0000 00000001 0001 74 00000001 00000001 0000000000000005 0000")
        XCTAssertEqual(try TxnOffsetCommitRequest.decode(body: v0, version: 0).memberId, "")
        for version: Int16 in 0...TxnOffsetCommitRequest.maxVersion {
            let body = expected.encoded(version: version)
            XCTAssertEqual(try TxnOffsetCommitRequest.decode(body: body, version: version).encoded(version: version), body)
        }
    }

    func testSyncGroupAndLeaveGroupVectors() throws {
        let sync0 = hex("0001 67 00000003 0003 6d2d31 00000000")
        XCTAssertEqual(try SyncGroupMember.decode(body: sync0, version: 0),
                       SyncGroupMember(groupId: "g", generationId: 3, memberId: "m-1"))
        let sync5 = hex("02 67 00000003 04 6d2d31 00 09 636f6e73756d6572 06 72616e6765 01 00")
        XCTAssertEqual(try SyncGroupMember.decode(body: sync5, version: 5),
                       SyncGroupMember(groupId: "g", generationId: 3, memberId: "m-1"))
        XCTAssertEqual(SyncGroupMember(groupId: "g", generationId: 3, memberId: "m-1").encodedRequest(version: 5), sync5)

        XCTAssertEqual(try LeaveGroupMembers.decode(body: hex("0001 67 0001 6d"), version: 0).memberIds, ["m"])
        XCTAssertEqual(try LeaveGroupMembers.decode(body: hex("0001 67 00000001 0001 6d ffff"), version: 3).memberIds, ["m"])
        XCTAssertEqual(try LeaveGroupMembers.decode(body: hex("02 67 02 02 6d 00 00 00"), version: 4).memberIds, ["m"])
        let leave5 = hex("02 67 03 02 6d 00 00 00 02 6e 00 08 6c656176696e67 00 00")
        XCTAssertEqual(try LeaveGroupMembers.decode(body: leave5, version: 5),
                       LeaveGroupMembers(groupId: "g", memberIds: ["m", "n"]))
        for version: Int16 in 0...LeaveGroupMembers.maxVersion {
            let leave = LeaveGroupMembers(groupId: "g", memberIds: ["m"])
            XCTAssertEqual(try LeaveGroupMembers.decode(body: leave.encoded(version: version), version: version), leave)
        }
    }

    func testCommitRefusalVectors() throws {
        let topics = [CommitRefusal.Topic(name: "t", partitions: [0])]
        XCTAssertEqual(CommitRefusal.offsetCommitResponse(topics, errorCode: 25, version: 2),
                       hex("00000001 0001 74 00000001 00000000 0019"))
        XCTAssertEqual(CommitRefusal.offsetCommitResponse(topics, errorCode: 25, version: 3),
                       hex("00000000 00000001 0001 74 00000001 00000000 0019"))
        XCTAssertEqual(CommitRefusal.offsetCommitResponse(topics, errorCode: 25, version: 8),
                       hex("00000000 02 02 74 02 00000000 0019 00 00 00"))
        XCTAssertEqual(CommitRefusal.txnOffsetCommitResponse(topics, errorCode: 25, version: 0),
                       hex("00000000 00000001 0001 74 00000001 00000000 0019"))
        XCTAssertEqual(CommitRefusal.txnOffsetCommitResponse(topics, errorCode: 25, version: 3),
                       hex("00000000 02 02 74 02 00000000 0019 00 00 00"))
    }

    func testEmptyFetchAnswerAndMaxWait() {
        XCTAssertEqual(FetchEmptyAnswer.body(version: 0), hex("00000000"))
        XCTAssertEqual(FetchEmptyAnswer.body(version: 4), hex("00000000 00000000"))
        XCTAssertEqual(FetchEmptyAnswer.body(version: 7), hex("00000000 0000 00000000 00000000"))
        XCTAssertEqual(FetchEmptyAnswer.body(version: 12), hex("00000000 0000 00000000 01 00"))
        XCTAssertEqual(FetchEmptyAnswer.body(version: 17), hex("00000000 0000 00000000 01 00"))
        // Every Fetch version this proxy lets clients use reads back with the response walker.
        for version: Int16 in 0...FetchResponseWalker.maxVersion {
            var r = ByteReader(FetchEmptyAnswer.body(version: version))
            XCTAssertNoThrow(try FetchResponseWalker.skipToTaggedFields(&r, version: version), "v\(version)")
        }
        let v4 = FetchRequest(maxWaitMs: 321, topics: []).encoded(version: 4)
        let v15 = FetchRequest(maxWaitMs: 654, topics: []).encoded(version: 15)
        v4.withUnsafeBytes { XCTAssertEqual(FetchEmptyAnswer.maxWaitMs(body: $0, version: 4), 321) }
        v15.withUnsafeBytes { XCTAssertEqual(FetchEmptyAnswer.maxWaitMs(body: $0, version: 15), 654) }
        [UInt8]([0, 0, 0]).withUnsafeBytes { XCTAssertNil(FetchEmptyAnswer.maxWaitMs(body: $0, version: 15)) }
    }
}
