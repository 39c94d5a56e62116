// Admin and transaction APIs, from the message definitions of Apache Kafka
// (clients/src/main/resources/common/message).

extension TopicApiSpec {
    static let offsetForLeaderEpoch = TopicApiSpec(
        0...4,
        request: [
            F(.int32, 3),
            F(.list(F(.topic), F(.list(F(.int32), F(.int32, 2), F(.int32))))),
        ],
        response: [
            F(.int32, 2),
            F(.list(F(.topic), F(.list(F(.int16), F(.int32), F(.int32, 1), F(.int64))))),
        ])

    static let offsetDelete = TopicApiSpec(
        0...0,
        request: [F(.string), F(.list(F(.topic), F(.list(F(.int32)))))],
        response: [F(.int16), F(.int32), F(.list(F(.topic), F(.list(F(.int32), F(.int16)))))])

    static let createTopics = TopicApiSpec(
        0...7,
        request: [
            F(.list(F(.topic), F(.int32), F(.int16),
                    F(.list(F(.int32), F(.int32s))),            // Assignments
                    F(.list(F(.string), F(.string))))),          // Configs
            F(.int32), F(.bool, 1),
        ],
        response: [
            F(.int32, 2),
            F(.list(F(.topic), F(.uuid, 7), F(.int16), F(.string, 1), F(.int32, 5), F(.int16, 5),
                    F(.list(F(.string), F(.string), F(.bool), F(.int8), F(.bool)), 5))),
        ])

    /// v6+ names topics by name or id (a null name).
    static let deleteTopics = TopicApiSpec(
        0...6,
        request: [
            F(.list(F(.topic), F(.uuid)), 6),
            F(.topics, 0...5),
            F(.int32),
        ],
        response: [
            F(.int32, 1),
            F(.list(F(.topic), F(.uuid, 6), F(.int16), F(.string, 5))),
        ])

    static let createPartitions = TopicApiSpec(
        0...3,
        request: [F(.list(F(.topic), F(.int32), F(.list(F(.int32s))))), F(.int32), F(.bool)],
        response: [F(.int32), F(.list(F(.topic), F(.int16), F(.string)))])

    static let deleteRecords = TopicApiSpec(
        0...2,
        request: [F(.list(F(.topic), F(.list(F(.int32), F(.int64))))), F(.int32)],
        response: [F(.int32), F(.list(F(.topic), F(.list(F(.int32), F(.int64), F(.int16)))))])

    /// Resources of type 2 (topic) name topics; brokers, groups and the rest pass.
    static let describeConfigs = TopicApiSpec(
        0...4,
        request: [F(.list(F(.resourceType), F(.resourceName), F(.strings))), F(.bool, 1), F(.bool, 3)],
        response: [
            F(.int32),
            F(.list(F(.int16), F(.string), F(.resourceType), F(.resourceName),
                    F(.list(F(.string), F(.string), F(.bool), F(.bool, 0...0), F(.int8, 1), F(.bool),
                            F(.list(F(.string), F(.string), F(.int8)), 1),   // Synonyms
                            F(.int8, 3), F(.string, 3))))),
        ])

    static let alterConfigs = TopicApiSpec(
        0...2,
        request: [F(.list(F(.resourceType), F(.resourceName), F(.list(F(.string), F(.string))))), F(.bool)],
        response: [F(.int32), F(.list(F(.int16), F(.string), F(.resourceType), F(.resourceName)))])

    static let incrementalAlterConfigs = TopicApiSpec(
        0...1,
        request: [F(.list(F(.resourceType), F(.resourceName), F(.list(F(.string), F(.int8), F(.string))))), F(.bool)],
        response: [F(.int32), F(.list(F(.int16), F(.string), F(.resourceType), F(.resourceName)))])

    static let describeProducers = TopicApiSpec(
        0...0,
        request: [F(.list(F(.topic), F(.int32s)))],
        response: [
            F(.int32),
            F(.list(F(.topic), F(.list(F(.int32), F(.int16), F(.string),
                                       F(.list(F(.int64), F(.int32), F(.int32), F(.int64), F(.int32), F(.int64))))))),
        ])

    /// v4+ batches transactions (brokers verifying partitions for each other).
    static let addPartitionsToTxn = TopicApiSpec(
        0...5,
        request: [
            F(.list(F(.string), F(.int64), F(.int16), F(.bool), F(.list(F(.topic), F(.int32s)))), 4),
            F(.string, 0...3), F(.int64, 0...3), F(.int16, 0...3),
            F(.list(F(.topic), F(.int32s)), 0...3),
        ],
        response: [
            F(.int32),
            F(.int16, 4),
            F(.list(F(.string), F(.list(F(.topic), F(.list(F(.int32), F(.int16)))))), 4),
            F(.list(F(.topic), F(.list(F(.int32), F(.int16)))), 0...3),
        ])

    static let txnOffsetCommit = TopicApiSpec(
        0...4,
        request: [
            F(.string), F(.string), F(.int64), F(.int16), F(.int32, 3), F(.string, 3), F(.string, 3),
            F(.list(F(.topic), F(.list(F(.int32), F(.int64), F(.int32, 2), F(.string))))),
        ],
        response: [F(.int32), F(.list(F(.topic), F(.list(F(.int32), F(.int16)))))])

    /// Null topic partitions: every partition of the cluster.
    static let electLeaders = TopicApiSpec(
        0...2,
        request: [F(.int8, 1), F(.list(F(.topic), F(.int32s))), F(.int32)],
        response: [F(.int32), F(.int16, 1), F(.list(F(.topic), F(.list(F(.int32), F(.int16), F(.string)))))])

    static let alterPartitionReassignments = TopicApiSpec(
        0...0,
        request: [F(.int32), F(.list(F(.topic), F(.list(F(.int32), F(.int32s)))))],
        response: [F(.int32), F(.int16), F(.string), F(.list(F(.topic), F(.list(F(.int32), F(.int16), F(.string)))))])

    /// Null topics: every ongoing reassignment of the cluster.
    static let listPartitionReassignments = TopicApiSpec(
        0...0,
        request: [F(.int32), F(.list(F(.topic), F(.int32s)))],
        response: [
            F(.int32), F(.int16), F(.string),
            F(.list(F(.topic), F(.list(F(.int32), F(.int32s), F(.int32s), F(.int32s))))),
        ])

    /// An empty topic list lists every topic, from the cursor on.
    static let describeTopicPartitions = TopicApiSpec(
        0...0,
        request: [F(.list(F(.topic))), F(.int32), F(.cursor)],
        response: [
            F(.int32),
            F(.list(F(.int16), F(.topic), F(.uuid), F(.bool),
                    F(.list(F(.int16), F(.int32), F(.int32), F(.int32), F(.int32s), F(.int32s), F(.int32s), F(.int32s), F(.int32s))),
                    F(.int32))),
            F(.cursor),
        ])
}
