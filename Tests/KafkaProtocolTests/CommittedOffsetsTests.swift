import XCTest
@testable import KafkaProtocol

/// The committed topics array both OffsetCommit and TxnOffsetCommit carry: every version of both
/// keeps exactly the per-partition fields it has on the wire.
final class CommittedOffsetsTests: XCTestCase {
    private let topics = [
        CommittedOffsets.Topic(name: "a", partitions: [
            .init(partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: 3, commitTimestamp: 5, committedMetadata: nil),
            .init(partitionIndex: 7, committedOffset: 1 << 40, committedLeaderEpoch: 9, commitTimestamp: 11,
                  committedMetadata: "meta"),
        ]),
        CommittedOffsets.Topic(name: "b", partitions: []),
    ]

    /// What a version keeps of `topics`: the fields it does not carry read back as their defaults.
    private func kept(leaderEpoch: Bool, commitTimestamp: Bool) -> [CommittedOffsets.Topic] {
        topics.map { topic in
            var topic = topic
            for i in topic.partitions.indices {
                if !leaderEpoch { topic.partitions[i].committedLeaderEpoch = -1 }
                if !commitTimestamp { topic.partitions[i].commitTimestamp = -1 }
            }
            return topic
        }
    }

    func testOffsetCommitKeepsItsFieldsInEveryVersion() throws {
        let request = OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: 2, memberId: "m", topics: topics)
        for version: Int16 in 0...OffsetCommitRequest.maxVersion {
            let body = request.encoded(version: version)
            let decoded = try OffsetCommitRequest.decode(body: body, version: version)
            XCTAssertEqual(decoded.topics, kept(leaderEpoch: version >= 6, commitTimestamp: version == 1), "v\(version)")
            XCTAssertEqual(decoded.encoded(version: version), body, "v\(version)")
            XCTAssertEqual(decoded.committed, [.init(name: "a", partitions: [0, 7]), .init(name: "b", partitions: [])])
        }
    }

    func testTxnOffsetCommitKeepsItsFieldsInEveryVersion() throws {
        let request = TxnOffsetCommitRequest(transactionalId: "tx", groupId: "g", producerId: 7, producerEpoch: 1,
                                             generationId: 2, memberId: "m", topics: topics)
        for version: Int16 in 0...TxnOffsetCommitRequest.maxVersion {
            let body = request.encoded(version: version)
            let decoded = try TxnOffsetCommitRequest.decode(body: body, version: version)
            XCTAssertEqual(decoded.topics, kept(leaderEpoch: version >= 2, commitTimestamp: false), "v\(version)")
            XCTAssertEqual(decoded.encoded(version: version), body, "v\(version)")
            XCTAssertEqual(decoded.committed, [.init(name: "a", partitions: [0, 7]), .init(name: "b", partitions: [])])
        }
    }

    /// Where the leader epoch stands: after the offset, before the metadata, in the first version that has it.
    func testLeaderEpochVectors() throws {
        let one = [CommittedOffsets.Topic(name: "t", partitions: [.init(partitionIndex: 1, committedOffset: 5,
                                                                         committedLeaderEpoch: 3)])]
        let txn2 = hex("0002 7478 0001 67 0000000000000007 0000 00000001 0001 74 00000001 00000001 0000000000000005 00000003 0000")
        let txn = TxnOffsetCommitRequest(transactionalId: "tx", groupId: "g", producerId: 7, producerEpoch: 0, topics: one)
        XCTAssertEqual(txn.encoded(version: 2), txn2)
        XCTAssertEqual(try TxnOffsetCommitRequest.decode(body: txn2, version: 2), txn)
        let commit6 = hex("0001 67 00000004 0001 6d 00000001 0001 74 00000001 00000001 0000000000000005 00000003 0000")
        let commit = OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: 4, memberId: "m", topics: one)
        XCTAssertEqual(commit.encoded(version: 6), commit6)
        XCTAssertEqual(try OffsetCommitRequest.decode(body: commit6, version: 6), commit)
        // A partition cut short inside the epoch is an error, not a partition without one.
        XCTAssertThrowsError(try TxnOffsetCommitRequest.decode(body: Array(txn2.dropLast(4)), version: 2))
    }
}
