/// How the walker reads one field of a message: only as much as it needs to find, rename or drop
/// the topic names. Written by hand from the JSON message definitions of Apache Kafka; fields held
/// in tagged-field sections are not listed (the walker copies those sections whole, and none of
/// them carries a topic name).
indirect enum TopicFieldKind: Sendable {
    /// int8/int16/int32/int64/float64/bool/uuid: this many bytes.
    case fixed(Int)
    /// Any string, nullable or not (the same bytes on the wire).
    case string
    /// Any bytes field, nullable or not.
    case bytes
    /// Record data (nullable bytes), emitted as a range of the original body.
    case records
    /// A topic name, nullable or not: prefixed in requests; in responses unprefixed, or the
    /// enclosing array element dropped when it lacks the prefix.
    case topic
    /// An array, nullable or not. In responses an element holding a topic outside the prefix is
    /// dropped and the count rewritten.
    case array(TopicFieldKind)
    /// A struct (its own tagged fields when flexible).
    case structure([TopicField])
    /// A nullable struct: int8 -1 (null) or 1, then the struct.
    case nullableStructure([TopicField])
    /// The int8 resource type of a config resource; 2 makes the next `resourceName` a topic.
    case resourceType
    case resourceName
    /// A group id (string), remembered for the group's protocol type.
    case groupId
    /// A protocol type (nullable string): "consumer" makes the following embedded bytes mapped.
    case protocolType
    /// Bytes holding a ConsumerProtocolSubscription when the protocol type is "consumer".
    case subscription
    /// Bytes holding a ConsumerProtocolAssignment when the protocol type is "consumer".
    case assignment
    /// A subscription regex (nullable string) matched against topic names.
    case topicRegex
    /// DescribeTopicPartitions' nullable cursor { TopicName, PartitionIndex }.
    case cursor

    static let int8 = TopicFieldKind.fixed(1)
    static let bool = TopicFieldKind.fixed(1)
    static let int16 = TopicFieldKind.fixed(2)
    static let int32 = TopicFieldKind.fixed(4)
    static let int64 = TopicFieldKind.fixed(8)
    static let uuid = TopicFieldKind.fixed(16)
    static let int32s = TopicFieldKind.array(.fixed(4))
    static let strings = TopicFieldKind.array(.string)
    static let topics = TopicFieldKind.array(.topic)

    /// An array of structs with these fields.
    static func list(_ fields: TopicField...) -> TopicFieldKind { .array(.structure(fields)) }
}

/// A field present in the versions `versions` of its message.
struct TopicField: Sendable {
    let versions: ClosedRange<Int16>
    let kind: TopicFieldKind

    /// Present from version `from` on.
    init(_ kind: TopicFieldKind, _ from: Int16 = 0) {
        self.versions = from...Int16.max
        self.kind = kind
    }

    init(_ kind: TopicFieldKind, _ versions: ClosedRange<Int16>) {
        self.versions = versions
        self.kind = kind
    }
}

/// The request and response of one API as the walker sees them.
struct TopicApiSpec: Sendable {
    let versions: ClosedRange<Int16>
    /// Versions above this carry no topic names at all (topic ids instead): nothing to map.
    let namesThrough: Int16
    let request: [TopicField]
    let response: [TopicField]

    init(_ versions: ClosedRange<Int16>, namesThrough: Int16 = .max, request: [TopicField], response: [TopicField]) {
        self.versions = versions
        self.namesThrough = namesThrough
        self.request = request
        self.response = response
    }
}
