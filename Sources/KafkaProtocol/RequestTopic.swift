/// A topic of a Produce or Fetch request and its partitions: named up to v12, identified by its id
/// from v13 in both.
public struct RequestTopic<Partition: Equatable & Sendable>: Equatable, Sendable {
    /// Versions 0-12.
    public var name: String
    /// Version 13+.
    public var topicId: KafkaUUID
    public var partitions: [Partition]

    public init(name: String = "", topicId: KafkaUUID = .zero, partitions: [Partition]) {
        self.name = name
        self.topicId = topicId
        self.partitions = partitions
    }

    /// Writes the topics array: each topic's name or id, its partitions (each by `partition`, then
    /// its tagged fields), the topic's tagged fields.
    static func write(_ topics: [Self], to w: inout ByteWriter, version: Int16, flexible: Bool,
                      partition: (Partition, inout ByteWriter) -> Void) {
        w.writeArrayCount(topics.count, flexible: flexible)
        for t in topics {
            if version >= 13 { w.writeUUID(t.topicId) } else { w.writeString(t.name, flexible: flexible) }
            w.writeArrayCount(t.partitions.count, flexible: flexible)
            for p in t.partitions {
                partition(p, &w)
                w.writeTaggedFields([], if: flexible)
            }
            w.writeTaggedFields([], if: flexible)
        }
    }
}
