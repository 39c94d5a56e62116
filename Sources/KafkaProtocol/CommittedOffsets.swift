/// The topics and partitions an OffsetCommit or TxnOffsetCommit request commits. Both requests
/// carry the same array; they differ only in the versions that add a partition's leader epoch, and
/// in OffsetCommit v1's commit timestamp, which `Layout` names per version.
public enum CommittedOffsets {
    public struct Partition: Equatable, Sendable {
        public var partitionIndex: Int32
        public var committedOffset: Int64
        /// OffsetCommit v6+, TxnOffsetCommit v2+.
        public var committedLeaderEpoch: Int32
        /// OffsetCommit v1 only.
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

    /// The fields of one request version's array.
    struct Layout {
        var flexible: Bool
        var leaderEpoch: Bool
        var commitTimestamp: Bool = false
    }

    /// Reads the array and the request's own tagged fields, which end the request: both requests
    /// carry the array last.
    static func readToEnd(_ r: inout ByteReader, _ layout: Layout, of what: String) throws -> [Topic] {
        let topics = try read(&r, layout)
        if layout.flexible { try r.skipTaggedFields() }
        try r.expectEnd(what)
        return topics
    }

    /// Writes the array and the request's own (empty) tagged fields: the end of the request.
    static func writeToEnd(_ topics: [Topic], _ w: inout ByteWriter, _ layout: Layout) -> [UInt8] {
        write(topics, to: &w, layout)
        w.writeTaggedFields([], if: layout.flexible)
        return w.bytes
    }

    static func read(_ r: inout ByteReader, _ layout: Layout) throws -> [Topic] {
        let flex = layout.flexible
        let topicCount = try r.readArrayCount(flexible: flex, minElementSize: 2)
        var topics: [Topic] = []
        topics.reserveCapacity(topicCount)
        for _ in 0..<topicCount {
            var topic = Topic(name: try r.readString(flexible: flex), partitions: [])
            let partitionCount = try r.readArrayCount(flexible: flex, minElementSize: 12)
            topic.partitions.reserveCapacity(partitionCount)
            for _ in 0..<partitionCount {
                var p = Partition(partitionIndex: try r.readInt32(), committedOffset: try r.readInt64())
                if layout.leaderEpoch { p.committedLeaderEpoch = try r.readInt32() }
                if layout.commitTimestamp { p.commitTimestamp = try r.readInt64() }
                p.committedMetadata = try r.readNullableString(flexible: flex)
                if flex { try r.skipTaggedFields() }
                topic.partitions.append(p)
            }
            if flex { try r.skipTaggedFields() }
            topics.append(topic)
        }
        return topics
    }

    static func write(_ topics: [Topic], to w: inout ByteWriter, _ layout: Layout) {
        let flex = layout.flexible
        w.writeArrayCount(topics.count, flexible: flex)
        for t in topics {
            w.writeString(t.name, flexible: flex)
            w.writeArrayCount(t.partitions.count, flexible: flex)
            for p in t.partitions {
                w.writeInt32(p.partitionIndex)
                w.writeInt64(p.committedOffset)
                if layout.leaderEpoch { w.writeInt32(p.committedLeaderEpoch) }
                if layout.commitTimestamp { w.writeInt64(p.commitTimestamp) }
                w.writeNullableString(p.committedMetadata, flexible: flex)
                w.writeTaggedFields([], if: flex)
            }
            w.writeTaggedFields([], if: flex)
        }
    }

    /// The partitions committed, by topic: what an answer must echo.
    static func committed(_ topics: [Topic]) -> [CommitRefusal.Topic] {
        topics.map { CommitRefusal.Topic(name: $0.name, partitions: $0.partitions.map(\.partitionIndex)) }
    }
}
