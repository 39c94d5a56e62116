/// What a connection asks about state shared with other connections (which producers moved, which
/// group members still have to rejoin). The runtime answers from its registries; tests answer
/// with fixed facts. Called on the connection's queue; answers must not block.
public protocol ConnectionPolicy: Sendable {
    /// A group member with this client id has not rejoined its group on this connection's cluster:
    /// its fetches (at positions of another cluster) are answered empty by the proxy.
    func mustHoldFetch(clientId: String) -> Bool
    /// This member id was given by another cluster's coordinator: its commits must not reach this
    /// cluster, and its heartbeats are answered UNKNOWN_MEMBER_ID so it rejoins here at once (a
    /// broker that does not check member ids would let it go on as a member of no group).
    func isMemberOfAnotherCluster(groupId: String, memberId: String) -> Bool
    /// A commit that must not reach this cluster: from a member of another cluster's group, or
    /// one with no member id (generation -1) from a client whose members of this group have not
    /// rejoined here yet. aiokafka commits its old positions that way once its member id was
    /// reset, before it rejoins; an empty group accepts such a commit.
    func mustRefuseCommit(groupId: String, memberId: String, clientId: String) -> Bool
    /// Another cluster issued this producer id, or it moved once: its batches are translated here.
    func needsTranslation(producerId: Int64) -> Bool
    /// Another cluster issued this producer id: its transactions are not this cluster's (TransactionGuard).
    func issuedElsewhere(producerId: Int64) -> Bool
}
