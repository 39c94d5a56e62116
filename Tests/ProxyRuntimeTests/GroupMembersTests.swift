@testable import ProxyRuntime
import XCTest

/// Which members must rejoin after a switch, counted per (group, client id).
final class GroupMembersTests: XCTestCase {
    func testSharedClientIdWaitsUntilAsManyMembersSyncedOnTheNewCluster() {
        let groups = GroupMembers()
        // Two groups, each with two consumers, every one with librdkafka's default client id.
        for (group, member) in [("a", "a1"), ("a", "a2"), ("b", "b1"), ("b", "b2")] {
            groups.synced(group: group, memberId: member, generation: 1, clientId: "rdkafka", cluster: "primary")
        }
        XCTAssertFalse(groups.mustHoldFetch(clientId: "rdkafka", cluster: "primary"))
        groups.switched(to: "dr")
        XCTAssertTrue(groups.mustHoldFetch(clientId: "rdkafka", cluster: "dr"))
        XCTAssertFalse(groups.mustHoldFetch(clientId: "other", cluster: "dr"))
        XCTAssertTrue(groups.anyPending(on: "dr"))
        groups.synced(group: "a", memberId: "dr-a1", generation: 1, clientId: "rdkafka", cluster: "dr")
        groups.synced(group: "a", memberId: "dr-a1", generation: 2, clientId: "rdkafka", cluster: "dr")
        groups.synced(group: "a", memberId: "dr-a2", generation: 2, clientId: "rdkafka", cluster: "dr")
        XCTAssertTrue(groups.mustHoldFetch(clientId: "rdkafka", cluster: "dr"), "group b has not rejoined")
        groups.synced(group: "b", memberId: "dr-b1", generation: 1, clientId: "rdkafka", cluster: "dr")
        groups.synced(group: "b", memberId: "dr-b2", generation: 1, clientId: "rdkafka", cluster: "dr")
        XCTAssertFalse(groups.mustHoldFetch(clientId: "rdkafka", cluster: "dr"))
        XCTAssertFalse(groups.anyPending(on: "dr"))
        // The old member ids stay refused on dr; the new ones are dr's own; members outside groups pass.
        XCTAssertTrue(groups.mustRefuseCommit(group: "a", memberId: "a1", cluster: "dr"))
        XCTAssertFalse(groups.mustRefuseCommit(group: "a", memberId: "dr-a1", cluster: "dr"))
        XCTAssertFalse(groups.mustRefuseCommit(group: "a", memberId: "", cluster: "dr"))
        XCTAssertFalse(groups.mustRefuseCommit(group: "a", memberId: "never-seen", cluster: "dr"))
        // Back to primary: the dr members must rejoin there; the retired primary ones are not waited for.
        groups.switched(to: "primary")
        XCTAssertTrue(groups.mustHoldFetch(clientId: "rdkafka", cluster: "primary"))
        XCTAssertTrue(groups.mustRefuseCommit(group: "a", memberId: "dr-a1", cluster: "primary"))
    }

    func testMembersOfOlderGenerationsAndLeaversAreNotWaitedFor() {
        let groups = GroupMembers()
        groups.synced(group: "g", memberId: "gone", generation: 1, clientId: "c", cluster: "primary")
        groups.synced(group: "g", memberId: "m1", generation: 2, clientId: "c", cluster: "primary")
        groups.synced(group: "g", memberId: "m2", generation: 2, clientId: "c", cluster: "primary")
        groups.switched(to: "dr")
        groups.synced(group: "g", memberId: "n1", generation: 1, clientId: "c", cluster: "dr")
        XCTAssertTrue(groups.mustHoldFetch(clientId: "c", cluster: "dr"))
        groups.left(group: "g", memberIds: ["m2"])
        XCTAssertFalse(groups.mustHoldFetch(clientId: "c", cluster: "dr"), "m2 left: one member to wait for, and it synced")
    }

    func testTheHoldEndsAtItsDeadline() {
        let groups = GroupMembers(holdSeconds: 0)
        groups.synced(group: "g", memberId: "m1", clientId: "c", cluster: "primary")
        groups.switched(to: "dr")
        usleep(2_000)
        XCTAssertFalse(groups.mustHoldFetch(clientId: "c", cluster: "dr"))
        XCTAssertTrue(groups.mustRefuseCommit(group: "g", memberId: "m1", cluster: "dr"), "still another cluster's member")
    }

    func testMemoryIsBounded() {
        let groups = GroupMembers(maxMembers: 100)
        for i in 0..<1_000 { groups.synced(group: "g\(i)", memberId: "m", clientId: "c", cluster: "primary") }
        var known = 0
        for i in 0..<1_000 where groups.mustRefuseCommit(group: "g\(i)", memberId: "m", cluster: "dr") { known += 1 }
        XCTAssertLessThanOrEqual(known, 100)
        XCTAssertTrue(groups.mustRefuseCommit(group: "g999", memberId: "m", cluster: "dr"), "the newest are kept")
    }
}
