/// TxnOffsetCommit request (api key 28), v0-5: offsets a transactional producer commits for a
/// consumer group, and (v3+) the group member whose positions they are.
public struct TxnOffsetCommitRequest: Equatable, Sendable {
    public typealias Partition = CommittedOffsets.Partition
    public typealias Topic = CommittedOffsets.Topic

    public static let maxVersion: Int16 = 5
    static let flexibleFrom: Int16 = 3

    public var transactionalId: String
    public var groupId: String
    public var producerId: Int64
    public var producerEpoch: Int16
    /// Version 3+.
    public var generationId: Int32
    /// Version 3+.
    public var memberId: String
    /// Version 3+.
    public var groupInstanceId: String?
    public var topics: [Topic]

    public init(transactionalId: String, groupId: String, producerId: Int64, producerEpoch: Int16,
                generationId: Int32 = -1, memberId: String = "", groupInstanceId: String? = nil, topics: [Topic]) {
        self.transactionalId = transactionalId
        self.groupId = groupId
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.topics = topics
    }

    /// `body`: the request after its header.
    public static func decode(body: [UInt8], version: Int16) throws -> TxnOffsetCommitRequest {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "TxnOffsetCommit")
        let flex = version >= flexibleFrom
        var r = ByteReader(body)
        var request = TxnOffsetCommitRequest(transactionalId: try r.readString(flexible: flex),
                                             groupId: try r.readString(flexible: flex),
                                             producerId: try r.readInt64(), producerEpoch: try r.readInt16(), topics: [])
        if version >= 3 {
            request.generationId = try r.readInt32()
            request.memberId = try r.readString(flexible: flex)
            request.groupInstanceId = try r.readNullableString(flexible: flex)
        }
        request.topics = try CommittedOffsets.readToEnd(&r, layout(version), of: "TxnOffsetCommit request")
        return request
    }

    public func encoded(version: Int16) -> [UInt8] {
        let flex = version >= Self.flexibleFrom
        var w = ByteWriter()
        w.writeString(transactionalId, flexible: flex)
        w.writeString(groupId, flexible: flex)
        w.writeInt64(producerId)
        w.writeInt16(producerEpoch)
        if version >= 3 {
            w.writeInt32(generationId)
            w.writeString(memberId, flexible: flex)
            w.writeNullableString(groupInstanceId, flexible: flex)
        }
        return CommittedOffsets.writeToEnd(topics, &w, Self.layout(version))
    }

    /// The partitions committed, by topic: what an answer must echo.
    public var committed: [CommitRefusal.Topic] {
        CommittedOffsets.committed(topics)
    }

    private static func layout(_ version: Int16) -> CommittedOffsets.Layout {
        CommittedOffsets.Layout(flexible: version >= flexibleFrom, leaderEpoch: version >= 2)
    }
}
