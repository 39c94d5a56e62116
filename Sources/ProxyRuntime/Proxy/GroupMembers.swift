import Dispatch
import Synchronization

/// Consumer group members seen through the proxy, keyed by client id, and which of them still
/// have to rejoin their group on the cluster traffic moved to.
///
/// A consumer keeps its fetch positions across a switch, but offsets mean nothing on another
/// cluster: it must fetch from the new cluster's committed offsets, which it only does after
/// rejoining (the new coordinator does not know the member, so its next heartbeat fails and it
/// rejoins). Until then the proxy holds its fetches (see ProxySession), bounded by `holdSeconds`.
final class GroupMembers: Sendable {
    private struct Pending {
        var cluster: String
        var sinceNanos: UInt64
    }

    private struct State {
        /// client id -> cluster of its newest JoinGroup.
        var members: [String: String] = [:]
        var pending: [String: Pending] = [:]
    }

    private let state = Mutex(State())
    let holdSeconds: UInt64

    init(holdSeconds: UInt64 = 30) {
        self.holdSeconds = holdSeconds
    }

    func joining(clientId: String, cluster: String) {
        state.withLock { state in
            if state.members.count > 10_000 { state.members.removeAll() }
            state.members[clientId] = cluster
        }
    }

    /// SyncGroup succeeded: the member has its assignment and will fetch committed offsets.
    func rejoined(clientId: String, cluster: String) {
        state.withLock { state in
            if state.pending[clientId]?.cluster == cluster { state.pending[clientId] = nil }
        }
    }

    func switched(to cluster: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { state in
            state.pending = [:]
            for (clientId, memberCluster) in state.members where memberCluster != cluster {
                state.pending[clientId] = Pending(cluster: cluster, sinceNanos: now)
            }
        }
    }

    func mustHoldFetch(clientId: String, cluster: String) -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        return state.withLock { state in
            guard let pending = state.pending[clientId], pending.cluster == cluster else { return false }
            if now &- pending.sinceNanos > holdSeconds * 1_000_000_000 {
                state.pending[clientId] = nil
                return false
            }
            return true
        }
    }

    func anyPending(on cluster: String) -> Bool {
        state.withLock { $0.pending.values.contains { $0.cluster == cluster } }
    }
}
