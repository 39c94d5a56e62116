/// OffsetCommit request (api key 8), v0-9: what a consumer commits, and (v1+) which group member
/// commits it. The proxy reads it to refuse commits of members the connection's cluster does not know.
public struct OffsetCommitRequest: Equatable, Sendable {
    public struct Partition: Equatable, Sendable {
        public var partitionIndex: Int32
        public var committedOffset: Int64
        /// Version 6+.
        public var committedLeaderEpoch: Int32
        /// Version 1 only.
        public var commitTimestamp: Int64
        public var committedMetadata: String?

        public init(partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1,
                    commitTimestamp: Int64 = -1, committedMetadata: String? = "") {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.commitTimestamp = commitTimestamp
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
        guard (0...maxVersion).contains(version) else {
            throw KafkaProtocolError(.unsupportedVersion, "OffsetCommit v\(version)")
        }
        let flex = version >= flexibleFrom
        var r = ByteReader(body)
        var request = OffsetCommitRequest(groupId: try r.readString(flexible: flex), topics: [])
        if version >= 1 {
            request.generationIdOrMemberEpoch = try r.readInt32()
            request.memberId = try r.readString(flexible: flex)
        }
        if version >= 7 { request.groupInstanceId = try r.readNullableString(flexible: flex) }
        if (2...4).contains(version) { request.retentionTimeMs = try r.readInt64() }
        let topicCount = try r.readArrayCount(flexible: flex, minElementSize: 2)
        request.topics.reserveCapacity(topicCount)
        for _ in 0..<topicCount {
            var topic = Topic(name: try r.readString(flexible: flex), partitions: [])
            let partitionCount = try r.readArrayCount(flexible: flex, minElementSize: 12)
            topic.partitions.reserveCapacity(partitionCount)
            for _ in 0..<partitionCount {
                var p = Partition(partitionIndex: try r.readInt32(), committedOffset: try r.readInt64())
                if version >= 6 { p.committedLeaderEpoch = try r.readInt32() }
                if version == 1 { p.commitTimestamp = try r.readInt64() }
                p.committedMetadata = try r.readNullableString(flexible: flex)
                if flex { try r.skipTaggedFields() }
                topic.partitions.append(p)
            }
            if flex { try r.skipTaggedFields() }
            request.topics.append(topic)
        }
        if flex { try r.skipTaggedFields() }
        try r.expectEnd("OffsetCommit request")
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
        w.writeArrayCount(topics.count, flexible: flex)
        for t in topics {
            w.writeString(t.name, flexible: flex)
            w.writeArrayCount(t.partitions.count, flexible: flex)
            for p in t.partitions {
                w.writeInt32(p.partitionIndex)
                w.writeInt64(p.committedOffset)
                if version >= 6 { w.writeInt32(p.committedLeaderEpoch) }
                if version == 1 { w.writeInt64(p.commitTimestamp) }
                w.writeNullableString(p.committedMetadata, flexible: flex)
                w.writeTaggedFields([], if: flex)
            }
            w.writeTaggedFields([], if: flex)
        }
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }

    /// The partitions committed, by topic: what an answer must echo.
    public var committed: [CommitRefusal.Topic] {
        topics.map { CommitRefusal.Topic(name: $0.name, partitions: $0.partitions.map(\.partitionIndex)) }
    }
}
