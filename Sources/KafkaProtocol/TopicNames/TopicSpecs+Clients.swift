// Producer and consumer APIs, from the message definitions of Apache Kafka
// (clients/src/main/resources/common/message), Metadata v13 and Produce v12-13 from Kafka 4.x.

extension TopicApiSpec {
    typealias F = TopicField

    static let metadata = TopicApiSpec(
        0...13,
        request: [
            F(.list(F(.uuid, 10), F(.topic))),      // Topics, null (all topics) from v1; v0: empty = all
            F(.bool, 4),                             // AllowAutoTopicCreation
            F(.bool, 8...10),                        // IncludeClusterAuthorizedOperations
            F(.bool, 8),                             // IncludeTopicAuthorizedOperations
        ],
        response: [
            F(.int32, 3),                            // ThrottleTimeMs
            F(.list(F(.int32), F(.string), F(.int32), F(.string, 1))),  // Brokers
            F(.string, 2),                           // ClusterId
            F(.int32, 1),                            // ControllerId
            F(.list(
                F(.int16), F(.topic), F(.uuid, 10), F(.bool, 1),
                F(.list(F(.int16), F(.int32), F(.int32), F(.int32, 7), F(.int32s), F(.int32s), F(.int32s, 5))),
                F(.int32, 8))),                      // Topics
            F(.int32, 8...10),                       // ClusterAuthorizedOperations
            F(.int16, 13),                           // ErrorCode
        ])

    /// v13 names topics by id.
    static let produce = TopicApiSpec(
        0...13, namesThrough: 12,
        request: [
            F(.string, 3),                           // TransactionalId
            F(.int16), F(.int32),                    // Acks, TimeoutMs
            F(.list(F(.topic), F(.list(F(.int32), F(.records))))),
        ],
        response: [
            F(.list(
                F(.topic),
                F(.list(F(.int32), F(.int16), F(.int64), F(.int64, 2), F(.int64, 5),
                        F(.list(F(.int32), F(.string)), 8), F(.string, 8))))),
            F(.int32, 1),                            // ThrottleTimeMs
        ])

    /// v13+ names topics by id, in requests and responses.
    static let fetch = TopicApiSpec(
        0...17, namesThrough: 12,
        request: [
            F(.int32, 0...14),                       // ReplicaId (a tagged ReplicaState from v15)
            F(.int32), F(.int32), F(.int32, 3), F(.int8, 4), F(.int32, 7), F(.int32, 7),
            F(.list(F(.topic), F(.list(F(.int32), F(.int32, 9), F(.int64), F(.int32, 12), F(.int64, 5), F(.int32))))),
            F(.list(F(.topic), F(.int32s)), 7),     // ForgottenTopicsData
            F(.string, 11),                          // RackId
        ],
        response: [
            F(.int32, 1), F(.int16, 7), F(.int32, 7),
            F(.list(
                F(.topic),
                F(.list(F(.int32), F(.int16), F(.int64), F(.int64, 4), F(.int64, 5),
                        F(.list(F(.int64), F(.int64)), 4),  // AbortedTransactions
                        F(.int32, 11),                       // PreferredReadReplica
                        F(.records))))),
        ])

    static let listOffsets = TopicApiSpec(
        0...10,
        request: [
            F(.int32), F(.int8, 2),
            F(.list(F(.topic), F(.list(F(.int32), F(.int32, 4), F(.int64), F(.int32, 0...0))))),
            F(.int32, 10),                           // TimeoutMs
        ],
        response: [
            F(.int32, 2),
            F(.list(F(.topic), F(.list(F(.int32), F(.int16), F(.array(.int64), 0...0), F(.int64, 1), F(.int64, 1), F(.int32, 4))))),
        ])

    static let offsetCommit = TopicApiSpec(
        0...9,
        request: [
            F(.string), F(.int32, 1), F(.string, 1), F(.string, 7), F(.int64, 2...4),
            F(.list(F(.topic), F(.list(F(.int32), F(.int64), F(.int32, 6), F(.int64, 1...1), F(.string))))),
        ],
        response: [
            F(.int32, 3),
            F(.list(F(.topic), F(.list(F(.int32), F(.int16))))),
        ])

    /// v8+ batches groups. A null topic list asks for every committed topic of the group.
    static let offsetFetch = TopicApiSpec(
        0...9,
        request: [
            F(.string, 0...7),
            F(.list(F(.topic), F(.int32s)), 0...7),
            F(.list(F(.string), F(.string, 9), F(.int32, 9), F(.list(F(.topic), F(.int32s)))), 8),
            F(.bool, 7),                             // RequireStable
        ],
        response: [
            F(.int32, 3),
            F(.list(F(.topic), F(.list(F(.int32), F(.int64), F(.int32, 5), F(.string), F(.int16)))), 0...7),
            F(.int16, 2...7),
            F(.list(F(.string), F(.list(F(.topic), F(.list(F(.int32), F(.int64), F(.int32), F(.string), F(.int16))))), F(.int16)), 8),
        ])
}
