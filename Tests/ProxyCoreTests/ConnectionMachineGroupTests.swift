import KafkaProtocol
@testable import ProxyCore
import XCTest

/// Group members after a switch: only a non-rejoined member's Fetch and commits are answered by the
/// proxy; everything else on the connection flows.
final class ConnectionMachineGroupTests: XCTestCase {
    private func fetch(_ correlationId: Int32, version: Int16 = 11, maxWaitMs: Int32 = 500) -> [UInt8] {
        let body = FetchRequest(maxWaitMs: maxWaitMs, topics: [.init(name: "t", partitions: [.init(partition: 0, fetchOffset: 900)])])
            .encoded(version: version)
        return StreamFixtures.request(.fetch, version, correlationId: correlationId, body: body)
    }

    private func findCoordinator(_ correlationId: Int32) -> [UInt8] {
        StreamFixtures.request(.findCoordinator, 2, correlationId: correlationId,
                               body: FindCoordinatorRequest(key: "g").encoded(version: 2))
    }

    private let commit = OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: 4, memberId: "old-member",
                                             topics: [.init(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: 900),
                                                                                   .init(partitionIndex: 2, committedOffset: 17)])])

    private func rejoining() -> (MachineDriver, FakePolicy) {
        let policy = FakePolicy()
        var d = MachineDriver(translates: true, policy: policy)
        d.relaying()
        policy.holdFetches(of: "test-client", true)
        return (d, policy)
    }

    func testFetchOfAMemberNotRejoinedIsAnsweredEmptyAtItsMaxWaitAndOthersFlow() throws {
        var (d, _) = rejoining()
        let first = d.client(fetch(1, maxWaitMs: 500))
        XCTAssertEqual(first.toBroker, [], "old-cluster positions never reach the new cluster")
        XCTAssertFalse(first.has(.pauseClient), "the connection keeps reading")
        XCTAssertEqual(first.toClient, [], "a long poll is not answered at once")
        // librdkafka's FindCoordinator on the same connection goes through meanwhile.
        XCTAssertEqual(d.client(findCoordinator(2)).toBroker, findCoordinator(2))
        // Its answer waits behind the Fetch's: responses keep the request order.
        let coordinator = KafkaFrame.response(apiKey: ApiKey.findCoordinator.rawValue, apiVersion: 2, correlationId: 2,
                                              body: FindCoordinatorResponse(nodeId: 1, host: "b", port: 9092).encoded(version: 2))
        let early = d.broker(coordinator)
        XCTAssertEqual(early.toClient, [])
        XCTAssertFalse(early.has(.rewrite(apiKey: ApiKey.findCoordinator.rawValue, correlationId: 2)))
        d.advance(seconds: 0.5)
        let answered = d.timer()
        let expected = KafkaFrame.response(apiKey: ApiKey.fetch.rawValue, apiVersion: 11, correlationId: 1,
                                           body: FetchEmptyAnswer.body(version: 11))
        XCTAssertEqual(answered.toClient, expected)
        let sent = answered.firstIndex(of: .toClient(expected))
        let rewritten = answered.firstIndex(of: .rewrite(apiKey: ApiKey.findCoordinator.rawValue, correlationId: 2))
        XCTAssertNotNil(rewritten)
        XCTAssertLessThan(sent ?? .max, rewritten ?? .min, "the Fetch answer first")
        XCTAssertTrue(answered.has(.resumeBroker))
    }

    func testFetchAnswerGoesOutSoonAfterTheMemberRejoins() {
        var (d, policy) = rejoining()
        let first = d.client(fetch(1, maxWaitMs: 5000))
        XCTAssertTrue(first.has(.schedule(d.now + ConnectionMachine.rejoinPollNanos)), "\(first)")
        d.advance(seconds: 0.05)
        XCTAssertEqual(d.timer().toClient, [])
        policy.holdFetches(of: "test-client", false)
        d.advance(seconds: 0.05)
        XCTAssertFalse(d.timer().toClient.isEmpty, "answered at the rejoin, not after 5 s")
        // Its next Fetch (from the new cluster's offsets) goes to the broker.
        XCTAssertEqual(d.client(fetch(3)).toBroker, fetch(3))
    }

    func testFetchOfOtherClientsAndAfterTheRejoinFlows() {
        let policy = FakePolicy()
        var d = MachineDriver(translates: true, policy: policy)
        d.relaying()
        policy.holdFetches(of: "someone-else", true)
        XCTAssertEqual(d.client(fetch(1)).toBroker, fetch(1))
    }

    func testCommitOfAMemberOfAnotherClusterIsRefusedForEveryPartition() throws {
        var (d, policy) = rejoining()
        policy.markStranger(group: "g", memberId: "old-member")
        for version: Int16 in [1, 2, 5, 7, 8, 9] {
            let frame = StreamFixtures.request(.offsetCommit, version, correlationId: 10 + Int32(version),
                                               body: commit.encoded(version: version))
            let out = d.client(frame)
            XCTAssertEqual(out.toBroker, [], "v\(version)")
            XCTAssertTrue(out.has(.commitRefused(ApiKey.offsetCommit.rawValue)))
            let response = out.toClient
            XCTAssertFalse(response.isEmpty, "answered at once: v\(version)")
            let headerVersion = ApiCatalog.responseHeaderVersion(apiKey: ApiKey.offsetCommit.rawValue, apiVersion: version)
            var r = ByteReader(Array(response[4...]))
            XCTAssertEqual(try ResponseHeader.decode(from: &r, headerVersion: headerVersion).correlationId, 10 + Int32(version))
            let errors = try CommitRefusal.decodeResponse(Array(response[(4 + r.index)...]), throttle: version >= 3,
                                                          flexible: version >= 8)
            XCTAssertEqual(errors.map { "\($0.0)-\($0.1)-\($0.2)" }, ["t-0-25", "t-2-25"], "v\(version)")
        }
    }

    func testCommitOfAKnownMemberAndV0CommitsGoThrough() {
        var (d, _) = rejoining()
        let frame = StreamFixtures.request(.offsetCommit, 8, correlationId: 1, body: commit.encoded(version: 8))
        XCTAssertEqual(d.client(frame).toBroker, frame)
        let v0 = StreamFixtures.request(.offsetCommit, 0, correlationId: 2, body: commit.encoded(version: 0))
        XCTAssertEqual(d.client(v0).toBroker, v0)
    }

    func testTxnOffsetCommitOfAMemberOfAnotherClusterIsRefused() throws {
        var (d, policy) = rejoining()
        policy.markStranger(group: "g", memberId: "old-member")
        let txn = TxnOffsetCommitRequest(transactionalId: "tx", groupId: "g", producerId: 7, producerEpoch: 0,
                                         generationId: 4, memberId: "old-member",
                                         topics: [.init(name: "t", partitions: [.init(partitionIndex: 1, committedOffset: 5)])])
        let frame = StreamFixtures.request(.txnOffsetCommit, 3, correlationId: 4, body: txn.encoded(version: 3))
        let out = d.client(frame)
        XCTAssertEqual(out.toBroker, [])
        XCTAssertTrue(out.has(.commitRefused(ApiKey.txnOffsetCommit.rawValue)))
        var r = ByteReader(Array(out.toClient[4...]))
        _ = try ResponseHeader.decode(from: &r, headerVersion: 1)
        let errors = try CommitRefusal.decodeResponse(Array(out.toClient[(4 + r.index)...]), throttle: true, flexible: true)
        XCTAssertEqual(errors.map { "\($0.0)-\($0.1)-\($0.2)" }, ["t-1-25"])
    }

    func testRefusedCommitWaitsForTheResponsesBeforeIt() {
        var (d, policy) = rejoining()
        policy.markStranger(group: "g", memberId: "old-member")
        _ = d.client(Frames.produce(1))
        let out = d.client(StreamFixtures.request(.offsetCommit, 8, correlationId: 2, body: commit.encoded(version: 8)))
        XCTAssertEqual(out.toClient, [], "the produce response comes first")
        let after = d.broker(Frames.response(1))
        XCTAssertEqual(Array(after.toClient.prefix(Frames.response(1).count)), Frames.response(1))
        XCTAssertGreaterThan(after.toClient.count, Frames.response(1).count)
    }

    func testSyncGroupSuccessNamesTheMemberAndLeaveGroupRemovesIt() {
        var d = MachineDriver()
        d.relaying()
        // A streaming connection reads group traffic whole from its first group request on.
        let join = StreamFixtures.request(.joinGroup, 5, correlationId: 1, body: [0, 1, 0x67])
        XCTAssertEqual(d.client(join).toBroker, join)
        _ = d.broker(Frames.response(1))
        let sync = StreamFixtures.request(.syncGroup, 5, correlationId: 2,
                                          body: SyncGroupMember(groupId: "g", generationId: 3, memberId: "m-1").encodedRequest(version: 5))
        XCTAssertEqual(d.client(sync).toBroker, sync)
        // v5 answer: throttle, error 0, protocol type/name, assignment.
        var w = ByteWriter()
        w.writeInt32(0)
        w.writeInt16(0)
        w.writeNullableString("consumer", flexible: true)
        w.writeNullableString("range", flexible: true)
        w.writeBytes([], flexible: true)
        w.writeTaggedFields([])
        let answer = KafkaFrame.response(apiKey: ApiKey.syncGroup.rawValue, apiVersion: 5, correlationId: 2, body: w.bytes)
        let synced = d.broker(answer)
        XCTAssertTrue(synced.has(.memberSynced(group: "g", memberId: "m-1", generation: 3, clientId: "test-client")), "\(synced)")
        XCTAssertEqual(synced.toClient, answer)
        let leave = StreamFixtures.request(.leaveGroup, 5, correlationId: 3,
                                           body: LeaveGroupMembers(groupId: "g", memberIds: ["m-1"]).encoded(version: 5))
        let left = d.client(leave)
        XCTAssertEqual(left.toBroker, leave)
        XCTAssertTrue(left.has(.memberLeft(group: "g", memberIds: ["m-1"])))
    }

    func testFailedSyncGroupNamesNoMember() {
        var d = MachineDriver(translates: true)
        d.relaying()
        let sync = StreamFixtures.request(.syncGroup, 3, correlationId: 2,
                                          body: SyncGroupMember(groupId: "g", generationId: 3, memberId: "m-1").encodedRequest(version: 3))
        _ = d.client(sync)
        var w = ByteWriter()
        w.writeInt32(0)
        w.writeInt16(27)   // REBALANCE_IN_PROGRESS
        w.writeBytes([])
        let answer = KafkaFrame.response(apiKey: ApiKey.syncGroup.rawValue, apiVersion: 3, correlationId: 2, body: w.bytes)
        let out = d.broker(answer)
        XCTAssertFalse(out.contains { if case .memberSynced = $0 { return true } else { return false } })
        XCTAssertEqual(out.toClient, answer)
    }
}
