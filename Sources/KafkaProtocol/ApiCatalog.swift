// Generated once from the apiKey/name/validVersions/flexibleVersions of every *Request.json in
// apache/kafka clients/src/main/resources/common/message (2024-10 tree), updated for Kafka 4.x:
// Produce up to v13, Metadata up to v13, DescribeCluster up to v2, keys 88-92 (streams groups, share
// group offsets). Version ranges are the union over releases (4.0 dropped some old versions): a proxy
// must pass on whatever a broker of any supported release accepts.

/// A Kafka API key (int16 on the wire).
public struct ApiKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public init(_ rawValue: Int16) { self.rawValue = rawValue }

    public var description: String {
        ApiCatalog.descriptor(rawValue)?.name ?? "ApiKey(\(rawValue))"
    }

    public static let produce = ApiKey(0)
    public static let fetch = ApiKey(1)
    public static let listOffsets = ApiKey(2)
    public static let metadata = ApiKey(3)
    public static let leaderAndIsr = ApiKey(4)
    public static let stopReplica = ApiKey(5)
    public static let updateMetadata = ApiKey(6)
    public static let controlledShutdown = ApiKey(7)
    public static let offsetCommit = ApiKey(8)
    public static let offsetFetch = ApiKey(9)
    public static let findCoordinator = ApiKey(10)
    public static let joinGroup = ApiKey(11)
    public static let heartbeat = ApiKey(12)
    public static let leaveGroup = ApiKey(13)
    public static let syncGroup = ApiKey(14)
    public static let describeGroups = ApiKey(15)
    public static let listGroups = ApiKey(16)
    public static let saslHandshake = ApiKey(17)
    public static let apiVersions = ApiKey(18)
    public static let createTopics = ApiKey(19)
    public static let deleteTopics = ApiKey(20)
    public static let deleteRecords = ApiKey(21)
    public static let initProducerId = ApiKey(22)
    public static let offsetForLeaderEpoch = ApiKey(23)
    public static let addPartitionsToTxn = ApiKey(24)
    public static let addOffsetsToTxn = ApiKey(25)
    public static let endTxn = ApiKey(26)
    public static let writeTxnMarkers = ApiKey(27)
    public static let txnOffsetCommit = ApiKey(28)
    public static let describeAcls = ApiKey(29)
    public static let createAcls = ApiKey(30)
    public static let deleteAcls = ApiKey(31)
    public static let describeConfigs = ApiKey(32)
    public static let alterConfigs = ApiKey(33)
    public static let alterReplicaLogDirs = ApiKey(34)
    public static let describeLogDirs = ApiKey(35)
    public static let saslAuthenticate = ApiKey(36)
    public static let createPartitions = ApiKey(37)
    public static let createDelegationToken = ApiKey(38)
    public static let renewDelegationToken = ApiKey(39)
    public static let expireDelegationToken = ApiKey(40)
    public static let describeDelegationToken = ApiKey(41)
    public static let deleteGroups = ApiKey(42)
    public static let electLeaders = ApiKey(43)
    public static let incrementalAlterConfigs = ApiKey(44)
    public static let alterPartitionReassignments = ApiKey(45)
    public static let listPartitionReassignments = ApiKey(46)
    public static let offsetDelete = ApiKey(47)
    public static let describeClientQuotas = ApiKey(48)
    public static let alterClientQuotas = ApiKey(49)
    public static let describeUserScramCredentials = ApiKey(50)
    public static let alterUserScramCredentials = ApiKey(51)
    public static let vote = ApiKey(52)
    public static let beginQuorumEpoch = ApiKey(53)
    public static let endQuorumEpoch = ApiKey(54)
    public static let describeQuorum = ApiKey(55)
    public static let alterPartition = ApiKey(56)
    public static let updateFeatures = ApiKey(57)
    public static let envelope = ApiKey(58)
    public static let fetchSnapshot = ApiKey(59)
    public static let describeCluster = ApiKey(60)
    public static let describeProducers = ApiKey(61)
    public static let brokerRegistration = ApiKey(62)
    public static let brokerHeartbeat = ApiKey(63)
    public static let unregisterBroker = ApiKey(64)
    public static let describeTransactions = ApiKey(65)
    public static let listTransactions = ApiKey(66)
    public static let allocateProducerIds = ApiKey(67)
    public static let consumerGroupHeartbeat = ApiKey(68)
    public static let consumerGroupDescribe = ApiKey(69)
    public static let controllerRegistration = ApiKey(70)
    public static let getTelemetrySubscriptions = ApiKey(71)
    public static let pushTelemetry = ApiKey(72)
    public static let assignReplicasToDirs = ApiKey(73)
    public static let listClientMetricsResources = ApiKey(74)
    public static let describeTopicPartitions = ApiKey(75)
    public static let shareGroupHeartbeat = ApiKey(76)
    public static let shareGroupDescribe = ApiKey(77)
    public static let shareFetch = ApiKey(78)
    public static let shareAcknowledge = ApiKey(79)
    public static let addRaftVoter = ApiKey(80)
    public static let removeRaftVoter = ApiKey(81)
    public static let updateRaftVoter = ApiKey(82)
    public static let initializeShareGroupState = ApiKey(83)
    public static let readShareGroupState = ApiKey(84)
    public static let writeShareGroupState = ApiKey(85)
    public static let deleteShareGroupState = ApiKey(86)
    public static let readShareGroupStateSummary = ApiKey(87)
    public static let streamsGroupHeartbeat = ApiKey(88)
    public static let streamsGroupDescribe = ApiKey(89)
    public static let describeShareGroupOffsets = ApiKey(90)
    public static let alterShareGroupOffsets = ApiKey(91)
    public static let deleteShareGroupOffsets = ApiKey(92)
}

public struct ApiDescriptor: Sendable, Equatable {
    public let key: ApiKey
    public let name: String
    public let minVersion: Int16
    public let maxVersion: Int16
    /// First flexible version (compact encodings, tagged fields, header v2), nil when never flexible.
    public let flexibleFrom: Int16?

    public func isFlexible(_ version: Int16) -> Bool {
        guard let flexibleFrom else { return false }
        return version >= flexibleFrom
    }
}

public enum ApiCatalog {
    /// Indexed by api key; nil holes are keys no Kafka release defines.
    static let table: [ApiDescriptor?] = {
        let entries: [(Int16, String, Int16, Int16, Int16?)] = [
            (0, "Produce", 0, 13, 9),
            (1, "Fetch", 0, 17, 12),
            (2, "ListOffsets", 0, 10, 6),
            (3, "Metadata", 0, 13, 9),
            (4, "LeaderAndIsr", 0, 7, 4),
            (5, "StopReplica", 0, 4, 2),
            (6, "UpdateMetadata", 0, 8, 6),
            (7, "ControlledShutdown", 0, 3, 3),
            (8, "OffsetCommit", 0, 9, 8),
            (9, "OffsetFetch", 0, 9, 6),
            (10, "FindCoordinator", 0, 6, 3),
            (11, "JoinGroup", 0, 9, 6),
            (12, "Heartbeat", 0, 4, 4),
            (13, "LeaveGroup", 0, 5, 4),
            (14, "SyncGroup", 0, 5, 4),
            (15, "DescribeGroups", 0, 5, 5),
            (16, "ListGroups", 0, 5, 3),
            (17, "SaslHandshake", 0, 1, nil),
            (18, "ApiVersions", 0, 4, 3),
            (19, "CreateTopics", 0, 7, 5),
            (20, "DeleteTopics", 0, 6, 4),
            (21, "DeleteRecords", 0, 2, 2),
            (22, "InitProducerId", 0, 5, 2),
            (23, "OffsetForLeaderEpoch", 0, 4, 4),
            (24, "AddPartitionsToTxn", 0, 5, 3),
            (25, "AddOffsetsToTxn", 0, 4, 3),
            (26, "EndTxn", 0, 5, 3),
            (27, "WriteTxnMarkers", 0, 1, 1),
            (28, "TxnOffsetCommit", 0, 4, 3),
            (29, "DescribeAcls", 0, 3, 2),
            (30, "CreateAcls", 0, 3, 2),
            (31, "DeleteAcls", 0, 3, 2),
            (32, "DescribeConfigs", 0, 4, 4),
            (33, "AlterConfigs", 0, 2, 2),
            (34, "AlterReplicaLogDirs", 0, 2, 2),
            (35, "DescribeLogDirs", 0, 4, 2),
            (36, "SaslAuthenticate", 0, 2, 2),
            (37, "CreatePartitions", 0, 3, 2),
            (38, "CreateDelegationToken", 0, 3, 2),
            (39, "RenewDelegationToken", 0, 2, 2),
            (40, "ExpireDelegationToken", 0, 2, 2),
            (41, "DescribeDelegationToken", 0, 3, 2),
            (42, "DeleteGroups", 0, 2, 2),
            (43, "ElectLeaders", 0, 2, 2),
            (44, "IncrementalAlterConfigs", 0, 1, 1),
            (45, "AlterPartitionReassignments", 0, 0, 0),
            (46, "ListPartitionReassignments", 0, 0, 0),
            (47, "OffsetDelete", 0, 0, nil),
            (48, "DescribeClientQuotas", 0, 1, 1),
            (49, "AlterClientQuotas", 0, 1, 1),
            (50, "DescribeUserScramCredentials", 0, 0, 0),
            (51, "AlterUserScramCredentials", 0, 0, 0),
            (52, "Vote", 0, 1, 0),
            (53, "BeginQuorumEpoch", 0, 1, 1),
            (54, "EndQuorumEpoch", 0, 1, 1),
            (55, "DescribeQuorum", 0, 2, 0),
            (56, "AlterPartition", 0, 3, 0),
            (57, "UpdateFeatures", 0, 2, 0),
            (58, "Envelope", 0, 0, 0),
            (59, "FetchSnapshot", 0, 1, 0),
            (60, "DescribeCluster", 0, 2, 0),
            (61, "DescribeProducers", 0, 0, 0),
            (62, "BrokerRegistration", 0, 4, 0),
            (63, "BrokerHeartbeat", 0, 1, 0),
            (64, "UnregisterBroker", 0, 0, 0),
            (65, "DescribeTransactions", 0, 0, 0),
            (66, "ListTransactions", 0, 1, 0),
            (67, "AllocateProducerIds", 0, 0, 0),
            (68, "ConsumerGroupHeartbeat", 0, 1, 0),
            (69, "ConsumerGroupDescribe", 0, 0, 0),
            (70, "ControllerRegistration", 0, 0, 0),
            (71, "GetTelemetrySubscriptions", 0, 0, 0),
            (72, "PushTelemetry", 0, 0, 0),
            (73, "AssignReplicasToDirs", 0, 0, 0),
            (74, "ListClientMetricsResources", 0, 0, 0),
            (75, "DescribeTopicPartitions", 0, 0, 0),
            (76, "ShareGroupHeartbeat", 0, 0, 0),
            (77, "ShareGroupDescribe", 0, 0, 0),
            (78, "ShareFetch", 0, 0, 0),
            (79, "ShareAcknowledge", 0, 0, 0),
            (80, "AddRaftVoter", 0, 0, 0),
            (81, "RemoveRaftVoter", 0, 0, 0),
            (82, "UpdateRaftVoter", 0, 0, 0),
            (83, "InitializeShareGroupState", 0, 0, 0),
            (84, "ReadShareGroupState", 0, 0, 0),
            (85, "WriteShareGroupState", 0, 0, 0),
            (86, "DeleteShareGroupState", 0, 0, 0),
            (87, "ReadShareGroupStateSummary", 0, 0, 0),
            (88, "StreamsGroupHeartbeat", 0, 1, 0),
            (89, "StreamsGroupDescribe", 0, 1, 0),
            (90, "DescribeShareGroupOffsets", 0, 0, 0),
            (91, "AlterShareGroupOffsets", 0, 0, 0),
            (92, "DeleteShareGroupOffsets", 0, 0, 0),
        ]
        var table = [ApiDescriptor?](repeating: nil, count: Int(entries.last!.0) + 1)
        for (key, name, lo, hi, flex) in entries {
            table[Int(key)] = ApiDescriptor(key: ApiKey(key), name: name, minVersion: lo, maxVersion: hi, flexibleFrom: flex)
        }
        return table
    }()

    /// First flexible version per key for the hot path, without touching the descriptor's name:
    /// -1 = unknown key, Int16.max = never flexible.
    static let flexibleFromTable: [Int16] = table.map { d in d.map { $0.flexibleFrom ?? Int16.max } ?? -1 }

    /// Header version of a request, or nil for an unknown key; allocation- and refcount-free.
    @inline(__always)
    static func requestHeaderVersionIfKnown(apiKey: Int16, apiVersion: Int16) -> Int16? {
        guard apiKey >= 0, Int(apiKey) < flexibleFromTable.count else { return nil }
        let flex = flexibleFromTable[Int(apiKey)]
        if flex < 0 { return nil }
        if apiKey == ApiKey.controlledShutdown.rawValue && apiVersion == 0 { return 0 }
        return apiVersion >= flex ? 2 : 1
    }

    /// nil = unknown API key.
    @inline(__always)
    public static func descriptor(_ key: Int16) -> ApiDescriptor? {
        guard key >= 0, Int(key) < table.count else { return nil }
        return table[Int(key)]
    }

    public static var allDescriptors: [ApiDescriptor] { table.compactMap { $0 } }

    public static func isFlexible(apiKey: Int16, apiVersion: Int16) -> Bool {
        descriptor(apiKey)?.isFlexible(apiVersion) ?? false
    }

    /// 0, 1 or 2. ControlledShutdown v0 predates the client id and keeps header v0.
    /// Unknown keys answer 1 (callers should have rejected them through `descriptor`).
    public static func requestHeaderVersion(apiKey: Int16, apiVersion: Int16) -> Int16 {
        if apiKey == ApiKey.controlledShutdown.rawValue && apiVersion == 0 { return 0 }
        return isFlexible(apiKey: apiKey, apiVersion: apiVersion) ? 2 : 1
    }

    /// 0 or 1. ApiVersions answers always use header v0: a client that does not yet know the
    /// broker's versions must be able to read the answer (KIP-511).
    public static func responseHeaderVersion(apiKey: Int16, apiVersion: Int16) -> Int16 {
        if apiKey == ApiKey.apiVersions.rawValue { return 0 }
        return isFlexible(apiKey: apiKey, apiVersion: apiVersion) ? 1 : 0
    }
}
