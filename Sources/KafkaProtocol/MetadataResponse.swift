/// Metadata response (api key 3), v0-13. Flexible from v9.
public struct MetadataResponse: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    /// The rack from version 1.
    public typealias Broker = NodeEndpoint

    public struct Partition: Equatable, Sendable {
        public var errorCode: Int16
        public var partitionIndex: Int32
        public var leaderId: Int32
        /// Version 7+.
        public var leaderEpoch: Int32
        public var replicaNodes: [Int32]
        public var isrNodes: [Int32]
        /// Version 5+.
        public var offlineReplicas: [Int32]
        public var taggedFields: [TaggedField]
        public init(errorCode: Int16 = 0, partitionIndex: Int32, leaderId: Int32, leaderEpoch: Int32 = -1,
                    replicaNodes: [Int32] = [], isrNodes: [Int32] = [], offlineReplicas: [Int32] = [],
                    taggedFields: [TaggedField] = []) {
            self.errorCode = errorCode
            self.partitionIndex = partitionIndex
            self.leaderId = leaderId
            self.leaderEpoch = leaderEpoch
            self.replicaNodes = replicaNodes
            self.isrNodes = isrNodes
            self.offlineReplicas = offlineReplicas
            self.taggedFields = taggedFields
        }
    }

    public struct Topic: Equatable, Sendable {
        public var errorCode: Int16
        /// Nullable from version 12 (topic looked up by id and not found).
        public var name: String?
        /// Version 10+.
        public var topicId: KafkaUUID
        /// Version 1+.
        public var isInternal: Bool
        public var partitions: [Partition]
        /// Version 8+.
        public var topicAuthorizedOperations: Int32
        public var taggedFields: [TaggedField]
        public init(errorCode: Int16 = 0, name: String?, topicId: KafkaUUID = .zero, isInternal: Bool = false,
                    partitions: [Partition] = [], topicAuthorizedOperations: Int32 = Int32.min,
                    taggedFields: [TaggedField] = []) {
            self.errorCode = errorCode
            self.name = name
            self.topicId = topicId
            self.isInternal = isInternal
            self.partitions = partitions
            self.topicAuthorizedOperations = topicAuthorizedOperations
            self.taggedFields = taggedFields
        }
    }

    /// Version 3+.
    public var throttleTimeMs: Int32
    public var brokers: [Broker]
    /// Version 2+.
    public var clusterId: String?
    /// Version 1+.
    public var controllerId: Int32
    public var topics: [Topic]
    /// Versions 8-10.
    public var clusterAuthorizedOperations: Int32
    /// Version 13+ (top-level error, e.g. REBOOTSTRAP_REQUIRED).
    public var errorCode: Int16
    public var taggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, brokers: [Broker], clusterId: String? = nil, controllerId: Int32 = -1,
                topics: [Topic] = [], clusterAuthorizedOperations: Int32 = Int32.min, errorCode: Int16 = 0,
                taggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.brokers = brokers
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.topics = topics
        self.clusterAuthorizedOperations = clusterAuthorizedOperations
        self.errorCode = errorCode
        self.taggedFields = taggedFields
    }

    public static let maxVersion: Int16 = 13

    public static func decode(from r: inout ByteReader, version: Int16) throws -> MetadataResponse {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "MetadataResponse")
        let flex = version >= 9
        let throttle = version >= 3 ? try r.readInt32() : 0
        let nb = try r.readArrayCount(flexible: flex, minElementSize: 10)
        var brokers = [Broker]()
        brokers.reserveCapacity(nb)
        for _ in 0..<nb { brokers.append(try Broker.read(&r, flexible: flex, rack: version >= 1)) }
        let clusterId = version >= 2 ? try r.readNullableString(flexible: flex) : nil
        let controllerId = version >= 1 ? try r.readInt32() : -1
        let nt = try r.readArrayCount(flexible: flex, minElementSize: 6)
        var topics = [Topic]()
        topics.reserveCapacity(nt)
        for _ in 0..<nt {
            let errorCode = try r.readInt16()
            let name = version >= 12 ? try r.readNullableString(flexible: flex) : try r.readString(flexible: flex)
            let topicId = version >= 10 ? try r.readUUID() : .zero
            let isInternal = version >= 1 ? try r.readBool() : false
            let np = try r.readArrayCount(flexible: flex, minElementSize: 18)
            var partitions = [Partition]()
            partitions.reserveCapacity(np)
            for _ in 0..<np {
                let pErr = try r.readInt16()
                let index = try r.readInt32()
                let leader = try r.readInt32()
                let epoch = version >= 7 ? try r.readInt32() : -1
                let replicas = try r.readInt32Array(flexible: flex)
                let isr = try r.readInt32Array(flexible: flex)
                let offline = version >= 5 ? try r.readInt32Array(flexible: flex) : []
                partitions.append(Partition(errorCode: pErr, partitionIndex: index, leaderId: leader, leaderEpoch: epoch,
                                            replicaNodes: replicas, isrNodes: isr, offlineReplicas: offline,
                                            taggedFields: try r.readTaggedFields(if: flex)))
            }
            let ops = version >= 8 ? try r.readInt32() : Int32.min
            topics.append(Topic(errorCode: errorCode, name: name, topicId: topicId, isInternal: isInternal,
                                partitions: partitions, topicAuthorizedOperations: ops, taggedFields: try r.readTaggedFields(if: flex)))
        }
        let clusterOps = (version >= 8 && version <= 10) ? try r.readInt32() : Int32.min
        let errorCode = version >= 13 ? try r.readInt16() : 0
        let tagged = try r.readTaggedFields(if: flex)
        return MetadataResponse(throttleTimeMs: throttle, brokers: brokers, clusterId: clusterId, controllerId: controllerId,
                                topics: topics, clusterAuthorizedOperations: clusterOps, errorCode: errorCode, taggedFields: tagged)
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 9
        if version >= 3 { w.writeInt32(throttleTimeMs) }
        w.writeArrayCount(brokers.count, flexible: flex)
        for b in brokers { b.write(to: &w, flexible: flex, rack: version >= 1) }
        if version >= 2 { w.writeNullableString(clusterId, flexible: flex) }
        if version >= 1 { w.writeInt32(controllerId) }
        w.writeArrayCount(topics.count, flexible: flex)
        for t in topics {
            w.writeInt16(t.errorCode)
            if version >= 12 { w.writeNullableString(t.name, flexible: flex) } else { w.writeString(t.name ?? "", flexible: flex) }
            if version >= 10 { w.writeUUID(t.topicId) }
            if version >= 1 { w.writeBool(t.isInternal) }
            w.writeArrayCount(t.partitions.count, flexible: flex)
            for p in t.partitions {
                w.writeInt16(p.errorCode)
                w.writeInt32(p.partitionIndex)
                w.writeInt32(p.leaderId)
                if version >= 7 { w.writeInt32(p.leaderEpoch) }
                w.writeInt32Array(p.replicaNodes, flexible: flex)
                w.writeInt32Array(p.isrNodes, flexible: flex)
                if version >= 5 { w.writeInt32Array(p.offlineReplicas, flexible: flex) }
                w.writeTaggedFields(p.taggedFields, if: flex)
            }
            if version >= 8 { w.writeInt32(t.topicAuthorizedOperations) }
            w.writeTaggedFields(t.taggedFields, if: flex)
        }
        if version >= 8 && version <= 10 { w.writeInt32(clusterAuthorizedOperations) }
        if version >= 13 { w.writeInt16(errorCode) }
        w.writeTaggedFields(taggedFields, if: flex)
    }

    mutating func rewriteEndpoints(_ rewrite: (inout BrokerEndpoint) -> Void) {
        for i in brokers.indices {
            var b = brokers[i]
            BrokerEndpoint.apply(rewrite, nodeId: b.nodeId, host: &b.host, port: &b.port, rack: b.rack)
            brokers[i] = b
        }
    }

    /// Marks every partition's leader epoch unknown (-1).
    mutating func clearLeaderEpochs() {
        for t in topics.indices {
            for p in topics[t].partitions.indices { topics[t].partitions[p].leaderEpoch = -1 }
        }
    }
}
