/// The consumer protocol embedded in JoinGroup metadata, SyncGroup assignments and DescribeGroups
/// members when the group's protocol type is "consumer": an int16 version, then a non-flexible
/// struct. A version above the ones known keeps its later fields, copied as they are (newer
/// versions only append fields, which older readers ignore).
enum ConsumerProtocolSpec {
    typealias F = TopicField

    static let topicPartitions = TopicFieldKind.list(F(.topic), F(.int32s))

    /// ConsumerProtocolSubscription v0-3.
    static let subscription: [TopicField] = [
        F(.topics),
        F(.bytes),                  // UserData
        F(topicPartitions, 1),      // OwnedPartitions
        F(.int32, 2),               // GenerationId
        F(.string, 3),              // RackId
    ]

    /// ConsumerProtocolAssignment v0-3.
    static let assignment: [TopicField] = [
        F(topicPartitions),         // AssignedPartitions
        F(.bytes),                  // UserData
    ]

    /// The mapped bytes, nil when nothing changed.
    static func map(_ data: UnsafeRawBufferPointer, _ fields: [TopicField], direction: TopicNameWalker.Direction,
                    prefix: TopicPrefix) throws(KafkaProtocolError) -> [UInt8]? {
        var version = TopicNameWalker(body: data, version: 0, flexible: false, direction: direction, prefix: prefix)
        let v = try version.readInt16()
        guard v >= 0 else { throw KafkaProtocolError(.invalidValue, "consumer protocol version \(v)") }
        var walker = TopicNameWalker(body: data, version: v, flexible: false, direction: direction, prefix: prefix)
        walker.pos = 2
        try walker.walk(fields)
        guard let mapped = walker.finish() else { return nil }
        return mapped.joined(original: data)
    }
}
