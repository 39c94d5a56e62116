/// Metadata request (api key 3), v0-13.
public struct MetadataRequest: Equatable, Sendable, KafkaEncodable {
    public struct Topic: Equatable, Sendable {
        /// Version 10+.
        public var topicId: KafkaUUID
        /// Nullable from version 10 (lookup by id).
        public var name: String?
        public init(name: String?, topicId: KafkaUUID = .zero) {
            self.name = name
            self.topicId = topicId
        }
    }

    /// nil = all topics (v1+; v0 encodes an empty list, which means all topics there).
    public var topics: [Topic]?
    /// Version 4+.
    public var allowAutoTopicCreation: Bool
    /// Versions 8-10.
    public var includeClusterAuthorizedOperations: Bool
    /// Version 8+.
    public var includeTopicAuthorizedOperations: Bool

    public init(topics: [Topic]?, allowAutoTopicCreation: Bool = true,
                includeClusterAuthorizedOperations: Bool = false, includeTopicAuthorizedOperations: Bool = false) {
        self.topics = topics
        self.allowAutoTopicCreation = allowAutoTopicCreation
        self.includeClusterAuthorizedOperations = includeClusterAuthorizedOperations
        self.includeTopicAuthorizedOperations = includeTopicAuthorizedOperations
    }

    public init(topicNames: [String]?) {
        self.init(topics: topicNames?.map { Topic(name: $0) })
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 9
        if let topics {
            w.writeArrayCount(topics.count, flexible: flex)
            for t in topics {
                if version >= 10 { w.writeUUID(t.topicId) }
                if version >= 10 { w.writeNullableString(t.name, flexible: flex) } else { w.writeString(t.name ?? "", flexible: flex) }
                w.writeTaggedFields([], if: flex)
            }
        } else if version >= 1 {
            w.writeLength(nil, flexible: flex)
        } else {
            w.writeArrayCount(0, flexible: false)
        }
        if version >= 4 { w.writeBool(allowAutoTopicCreation) }
        if version >= 8 && version <= 10 { w.writeBool(includeClusterAuthorizedOperations) }
        if version >= 8 { w.writeBool(includeTopicAuthorizedOperations) }
        w.writeTaggedFields([], if: flex)
    }
}
