import Dispatch
import Synchronization

/// Consumer group members seen through the proxy, and which of them still have to rejoin their
/// group on the cluster traffic moved to.
///
/// A member is its group id and member id (from its SyncGroup), with the cluster whose coordinator
/// gave it that id and the client id of the connection it used. A member keeps its positions and
/// its member id across a switch, but both mean nothing on another cluster: until it has rejoined
/// there (and fetched that cluster's committed offsets), its fetches are answered empty and its
/// commits refused (see ConnectionMachine+Groups).
///
/// The new cluster gives a rejoining member a new member id, so "this member has rejoined" cannot
/// be told member by member. What can be counted: per (group, client id), the members of the
/// newest generation on the old cluster, and the distinct members that synced on the new cluster
/// in one generation since the switch. The pair has rejoined when the second count reaches the first, or when
/// `holdSeconds` have passed. A Fetch carries no group or member id, only the connection's client
/// id (shared by every consumer of a librdkafka application unless set): it waits while any
/// (group, that client id) is pending.
final class GroupMembers: Sendable {
    private struct MemberKey: Hashable {
        var group: String
        var memberId: String
    }

    private struct GroupClient: Hashable {
        var group: String
        var clientId: String
    }

    private struct Member {
        var clientId: String
        var cluster: String
        var generation: Int32
        var seenNanos: UInt64
        /// Replaced by a member of another cluster (the rejoin completed): no longer counted, but
        /// its commits are still refused there.
        var retired = false
    }

    private struct Pending {
        var cluster: String
        var sinceNanos: UInt64
        /// Members that synced on `cluster` since the switch, by generation: a member that rejoins
        /// twice (a new member id each time) must not count for one that has not rejoined yet, so
        /// the members are counted within one generation.
        var rejoined: [Int32: Set<String>] = [:]
    }

    private struct State {
        var members: [MemberKey: Member] = [:]
        var pending: [GroupClient: Pending] = [:]
    }

    private let state = Locked(State())
    let holdSeconds: UInt64
    /// Memory bound: the oldest (retired first) are forgotten beyond it.
    let maxMembers: Int

    init(holdSeconds: UInt64 = 30, maxMembers: Int = 10_000) {
        self.holdSeconds = holdSeconds
        self.maxMembers = maxMembers
    }

    private var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// SyncGroup succeeded on `cluster`: the member has its assignment there.
    func synced(group: String, memberId: String, generation: Int32 = 0, clientId: String, cluster: String) {
        let now = now
        state.withLock { state in
            let key = MemberKey(group: group, memberId: memberId)
            if state.members[key] == nil, state.members.count >= maxMembers { Self.evict(&state) }
            state.members[key] = Member(clientId: clientId, cluster: cluster, generation: generation, seenNanos: now)
            let pair = GroupClient(group: group, clientId: clientId)
            guard var pending = state.pending[pair], pending.cluster == cluster else { return }
            pending.rejoined[generation, default: []].insert(memberId)
            // Only the newest generations can still complete it.
            if pending.rejoined.count > 4, let oldest = pending.rejoined.keys.min() { pending.rejoined[oldest] = nil }
            state.pending[pair] = pending
            Self.completeIfRejoined(pair, &state)
        }
    }

    /// LeaveGroup: these members are gone; a pair waiting for them may be complete now.
    func left(group: String, memberIds: [String]) {
        state.withLock { state in
            var pairs: Set<GroupClient> = []
            for id in memberIds {
                if let member = state.members.removeValue(forKey: MemberKey(group: group, memberId: id)) {
                    pairs.insert(GroupClient(group: group, clientId: member.clientId))
                }
            }
            for pair in pairs where state.pending[pair] != nil { Self.completeIfRejoined(pair, &state) }
        }
    }

    /// Traffic moved to `cluster`: every (group, client id) with members elsewhere has to rejoin.
    func switched(to cluster: String) {
        let now = now
        state.withLock { state in
            state.pending = [:]
            for (key, member) in state.members where !member.retired && member.cluster != cluster {
                state.pending[GroupClient(group: key.group, clientId: member.clientId)] = Pending(cluster: cluster, sinceNanos: now)
            }
            for pair in Array(state.pending.keys) { Self.completeIfRejoined(pair, &state) }
        }
    }

    func mustHoldFetch(clientId: String, cluster: String) -> Bool {
        let now = now
        return state.withLock { state in
            guard !state.pending.isEmpty else { return false }
            expire(&state, now: now)
            return state.pending.contains { $0.key.clientId == clientId && $0.value.cluster == cluster }
        }
    }

    /// A member id another cluster's coordinator gave: unknown to `cluster`'s. An empty member id
    /// (a consumer outside any group, committing with generation -1) is never refused.
    func isMemberOfAnotherCluster(group: String, memberId: String, cluster: String) -> Bool {
        guard !memberId.isEmpty else { return false }
        return state.withLock { state in
            guard let member = state.members[MemberKey(group: group, memberId: memberId)] else { return false }
            return member.cluster != cluster
        }
    }

    /// A member of another cluster, or a commit without a member id from a client whose members
    /// of `group` have not rejoined on `cluster`.
    func mustRefuseCommit(group: String, memberId: String, clientId: String, cluster: String) -> Bool {
        guard memberId.isEmpty else { return isMemberOfAnotherCluster(group: group, memberId: memberId, cluster: cluster) }
        let now = now
        return state.withLock { state in
            guard !state.pending.isEmpty else { return false }
            expire(&state, now: now)
            return state.pending[GroupClient(group: group, clientId: clientId)]?.cluster == cluster
        }
    }

    func anyPending(on cluster: String) -> Bool {
        let now = now
        return state.withLock { state in
            expire(&state, now: now)
            return state.pending.values.contains { $0.cluster == cluster }
        }
    }

    /// Members of `pair` on another cluster than the one it moves to, of their group's newest
    /// generation there: the members of older generations did not sync in the newest one, so they
    /// are gone (a consumer that stopped without leaving), and waiting for them would only run out
    /// the hold.
    private static func expected(_ pair: GroupClient, on target: String, _ state: State) -> Int {
        var newest: [String: Int32] = [:]
        for (key, member) in state.members where key.group == pair.group && !member.retired && member.cluster != target {
            newest[member.cluster] = max(newest[member.cluster] ?? .min, member.generation)
        }
        return state.members.reduce(0) { count, entry in
            let (key, member) = entry
            guard key.group == pair.group, member.clientId == pair.clientId, !member.retired,
                  member.cluster != target, member.generation == newest[member.cluster] else { return count }
            return count + 1
        }
    }

    private static func completeIfRejoined(_ pair: GroupClient, _ state: inout State) {
        guard let pending = state.pending[pair] else { return }
        let rejoined = pending.rejoined.values.map(\.count).max() ?? 0
        guard rejoined >= expected(pair, on: pending.cluster, state) else { return }
        complete(pair, on: pending.cluster, &state)
    }

    private static func complete(_ pair: GroupClient, on cluster: String, _ state: inout State) {
        state.pending[pair] = nil
        for (key, member) in state.members
        where key.group == pair.group && member.clientId == pair.clientId && member.cluster != cluster {
            state.members[key]?.retired = true
        }
    }

    private func expire(_ state: inout State, now: UInt64) {
        let limit = holdSeconds * 1_000_000_000
        for (pair, pending) in state.pending where now &- pending.sinceNanos > limit {
            Self.complete(pair, on: pending.cluster, &state)
        }
    }

    /// Forgets a tenth of the members, retired ones first, then the longest unseen.
    private static func evict(_ state: inout State) {
        let order = state.members.sorted { a, b in
            a.value.retired != b.value.retired ? a.value.retired : a.value.seenNanos < b.value.seenNanos
        }
        for (key, _) in order.prefix(max(1, state.members.count / 10)) { state.members[key] = nil }
    }
}
