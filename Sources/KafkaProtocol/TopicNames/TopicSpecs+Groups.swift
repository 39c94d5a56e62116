// Group APIs, from the message definitions of Apache Kafka
// (clients/src/main/resources/common/message). The classic protocol's member metadata and
// assignments are opaque bytes to the broker; for protocol type "consumer" they hold the consumer
// protocol (ConsumerProtocolSpec), which names topics.

extension TopicApiSpec {
    static let joinGroup = TopicApiSpec(
        0...9,
        request: [
            F(.groupId), F(.int32), F(.int32, 1), F(.string), F(.string, 5),
            F(.protocolType),
            F(.list(F(.string), F(.subscription))),  // Protocols
            F(.string, 8),                           // Reason
        ],
        response: [
            F(.int32, 2), F(.int16), F(.int32),
            F(.protocolType, 7),
            F(.string), F(.string), F(.bool, 9), F(.string),
            F(.list(F(.string), F(.string, 5), F(.subscription))),  // Members
        ])

    static let syncGroup = TopicApiSpec(
        0...5,
        request: [
            F(.groupId), F(.int32), F(.string), F(.string, 3),
            F(.protocolType, 5), F(.string, 5),
            F(.list(F(.string), F(.assignment))),
        ],
        response: [F(.int32, 1), F(.int16), F(.protocolType, 5), F(.string, 5), F(.assignment)])

    static let describeGroups = TopicApiSpec(
        0...5,
        request: [F(.strings), F(.bool, 3)],
        response: [
            F(.int32, 1),
            F(.list(F(.int16), F(.groupId), F(.string), F(.protocolType), F(.string),
                    F(.list(F(.string), F(.string, 4), F(.string), F(.string), F(.subscription), F(.assignment))),
                    F(.int32, 3))),
        ])

    /// Subscribed names and regex; assignments name topics by id.
    static let consumerGroupHeartbeat = TopicApiSpec(
        0...1,
        request: [
            F(.string), F(.string), F(.int32), F(.string), F(.string), F(.int32),
            F(.topics),                              // SubscribedTopicNames
            F(.topicRegex, 1),                       // SubscribedTopicRegex
            F(.string),                              // ServerAssignor
            F(.list(F(.uuid), F(.int32s))),          // TopicPartitions
        ],
        response: [
            F(.int32), F(.int16), F(.string), F(.string), F(.int32), F(.int32),
            F(.nullableStructure([F(.list(F(.uuid), F(.int32s)))])),
        ])

    static let consumerGroupDescribe = TopicApiSpec(
        0...0,
        request: [F(.strings), F(.bool)],
        response: [
            F(.int32),
            F(.list(F(.int16), F(.string), F(.string), F(.string), F(.int32), F(.int32), F(.string),
                    F(.list(F(.string), F(.string), F(.string), F(.int32), F(.string), F(.string),
                            F(.topics), F(.topicRegex),
                            F(.structure([F(assignedTopics)])),    // Assignment
                            F(.structure([F(assignedTopics)])))),  // TargetAssignment
                    F(.int32))),
        ])

    static let assignedTopics = TopicFieldKind.list(F(.uuid), F(.topic), F(.int32s))
}
