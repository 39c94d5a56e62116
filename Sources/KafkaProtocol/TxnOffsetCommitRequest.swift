/// TxnOffsetCommit request (api key 28), v0-5: offsets a transactional producer commits for a
/// consumer group, and (v3+) the group member whose positions they are.
public struct TxnOffsetCommitRequest: Equatable, Sendable {
    public struct Partition: Equatable, Sendable {
        public var partitionIndex: Int32
        public var committedOffset: Int64
        /// Version 2+.
        public var committedLeaderEpoch: Int32
        public var committedMetadata: String?

        public init(partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1,
                    committedMetadata: String? = "") {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.committedMetadata = committedMetadata
        }
    }

    public struct Topic: Equatable, Sendable {
        public var name: String
        public var partitions: [Partition]
        public init(name: String, partitions: [Partition]) {
            self.name = name
            self.partitions = partitions
        }
    }

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
        guard (0...maxVersion).contains(version) else {
            throw KafkaProtocolError(.unsupportedVersion, "TxnOffsetCommit v\(version)")
        }
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
        let topicCount = try r.readArrayCount(flexible: flex, minElementSize: 2)
        request.topics.reserveCapacity(topicCount)
        for _ in 0..<topicCount {
            var topic = Topic(name: try r.readString(flexible: flex), partitions: [])
            let partitionCount = try r.readArrayCount(flexible: flex, minElementSize: 12)
            topic.partitions.reserveCapacity(partitionCount)
            for _ in 0..<partitionCount {
                var p = Partition(partitionIndex: try r.readInt32(), committedOffset: try r.readInt64())
                if version >= 2 { p.committedLeaderEpoch = try r.readInt32() }
                p.committedMetadata = try r.readNullableString(flexible: flex)
                if flex { try r.skipTaggedFields() }
                topic.partitions.append(p)
            }
            if flex { try r.skipTaggedFields() }
            request.topics.append(topic)
        }
        if flex { try r.skipTaggedFields() }
        try r.expectEnd("TxnOffsetCommit request")
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
        w.writeArrayCount(topics.count, flexible: flex)
        for t in topics {
            w.writeString(t.name, flexible: flex)
            w.writeArrayCount(t.partitions.count, flexible: flex)
            for p in t.partitions {
                w.writeInt32(p.partitionIndex)
                w.writeInt64(p.committedOffset)
                if version >= 2 { w.writeInt32(p.committedLeaderEpoch) }
                w.writeNullableString(p.committedMetadata, flexible: flex)
                w.writeTaggedFields([], if: flex)
            }
            w.writeTaggedFields([], if: flex)
        }
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }

    public var committed: [CommitRefusal.Topic] {
        topics.map { CommitRefusal.Topic(name: $0.name, partitions: $0.partitions.map(\.partitionIndex)) }
    }
}
