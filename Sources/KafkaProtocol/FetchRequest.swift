/// A minimal Fetch request (api key 1) for tests and load generation: one consumer (replica id -1),
/// no fetch session, no forgotten topics. Encodes v4-17.
public struct FetchRequest: Equatable, Sendable, KafkaEncodable {
    public struct Partition: Equatable, Sendable {
        public var partition: Int32
        public var fetchOffset: Int64
        public var partitionMaxBytes: Int32
        /// Version 9+; -1: unknown (the broker does not check it).
        public var currentLeaderEpoch: Int32
        public init(partition: Int32, fetchOffset: Int64, partitionMaxBytes: Int32 = 1 << 20, currentLeaderEpoch: Int32 = -1) {
            self.partition = partition
            self.fetchOffset = fetchOffset
            self.partitionMaxBytes = partitionMaxBytes
            self.currentLeaderEpoch = currentLeaderEpoch
        }
    }

    public typealias Topic = RequestTopic<Partition>

    public var maxWaitMs: Int32
    public var minBytes: Int32
    public var maxBytes: Int32
    /// 0 = read uncommitted, 1 = read committed.
    public var isolationLevel: Int8
    public var topics: [Topic]
    /// Version 11+.
    public var rackId: String

    public init(maxWaitMs: Int32 = 500, minBytes: Int32 = 1, maxBytes: Int32 = 50 << 20, isolationLevel: Int8 = 0,
                topics: [Topic], rackId: String = "") {
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.isolationLevel = isolationLevel
        self.topics = topics
        self.rackId = rackId
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 12
        if version <= 14 { w.writeInt32(-1) }  // replica id; v15+ moved it into a tagged ReplicaState
        w.writeInt32(maxWaitMs)
        w.writeInt32(minBytes)
        if version >= 3 { w.writeInt32(maxBytes) }
        if version >= 4 { w.writeInt8(isolationLevel) }
        if version >= 7 {
            w.writeInt32(0)   // session id: no session
            w.writeInt32(-1)  // session epoch: full fetch without a session
        }
        Topic.write(topics, to: &w, version: version, flexible: flex) { p, w in
            w.writeInt32(p.partition)
            if version >= 9 { w.writeInt32(p.currentLeaderEpoch) }
            w.writeInt64(p.fetchOffset)
            if version >= 12 { w.writeInt32(-1) } // last fetched epoch: unknown
            if version >= 5 { w.writeInt64(-1) }  // log start offset: consumers send -1
            w.writeInt32(p.partitionMaxBytes)
        }
        if version >= 7 { w.writeArrayCount(0, flexible: flex) }
        if version >= 11 { w.writeString(rackId, flexible: flex) }
        w.writeTaggedFields([], if: flex)
    }
}
