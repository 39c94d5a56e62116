/// OffsetCommit request (api key 8), v0-9: what a consumer commits, and (v1+) which group member
/// commits it. The proxy reads it to refuse commits of members the connection's cluster does not know.
public struct OffsetCommitRequest: Equatable, Sendable {
    public typealias Partition = CommittedOffsets.Partition
    public typealias Topic = CommittedOffsets.Topic

    /// The highest version this codec reads: v10 names topics by id.
    public static let maxVersion: Int16 = 9
    static let flexibleFrom: Int16 = 8

    public var groupId: String
    /// Version 1+.
    public var generationIdOrMemberEpoch: Int32
    /// Version 1+.
    public var memberId: String
    /// Version 7+.
    public var groupInstanceId: String?
    /// Versions 2-4.
    public var retentionTimeMs: Int64
    public var topics: [Topic]

    public init(groupId: String, generationIdOrMemberEpoch: Int32 = -1, memberId: String = "",
                groupInstanceId: String? = nil, retentionTimeMs: Int64 = -1, topics: [Topic]) {
        self.groupId = groupId
        self.generationIdOrMemberEpoch = generationIdOrMemberEpoch
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.retentionTimeMs = retentionTimeMs
        self.topics = topics
    }

    /// `body`: the request after its header.
    public static func decode(body: [UInt8], version: Int16) throws -> OffsetCommitRequest {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "OffsetCommit")
        let flex = version >= flexibleFrom
        var r = ByteReader(body)
        var request = OffsetCommitRequest(groupId: try r.readString(flexible: flex), topics: [])
        if version >= 1 {
            request.generationIdOrMemberEpoch = try r.readInt32()
            request.memberId = try r.readString(flexible: flex)
        }
        if version >= 7 { request.groupInstanceId = try r.readNullableString(flexible: flex) }
        if (2...4).contains(version) { request.retentionTimeMs = try r.readInt64() }
        request.topics = try CommittedOffsets.readToEnd(&r, layout(version), of: "OffsetCommit request")
        return request
    }

    public func encoded(version: Int16) -> [UInt8] {
        let flex = version >= Self.flexibleFrom
        var w = ByteWriter()
        w.writeString(groupId, flexible: flex)
        if version >= 1 {
            w.writeInt32(generationIdOrMemberEpoch)
            w.writeString(memberId, flexible: flex)
        }
        if version >= 7 { w.writeNullableString(groupInstanceId, flexible: flex) }
        if (2...4).contains(version) { w.writeInt64(retentionTimeMs) }
        return CommittedOffsets.writeToEnd(topics, &w, Self.layout(version))
    }

    /// The partitions committed, by topic: what an answer must echo.
    public var committed: [CommitRefusal.Topic] {
        CommittedOffsets.committed(topics)
    }

    private static func layout(_ version: Int16) -> CommittedOffsets.Layout {
        CommittedOffsets.Layout(flexible: version >= flexibleFrom, leaderEpoch: version >= 6, commitTimestamp: version == 1)
    }
}
