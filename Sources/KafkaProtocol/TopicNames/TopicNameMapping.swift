/// Topic names of a prefixed cluster: what clients send is prefixed on the way up, what the
/// cluster answers is unprefixed on the way back, and topics outside the prefix are invisible.
public enum TopicNameMapping {
    static let specs: [Int16: TopicApiSpec] = [
        ApiKey.produce.rawValue: .produce,
        ApiKey.fetch.rawValue: .fetch,
        ApiKey.listOffsets.rawValue: .listOffsets,
        ApiKey.metadata.rawValue: .metadata,
        ApiKey.offsetCommit.rawValue: .offsetCommit,
        ApiKey.offsetFetch.rawValue: .offsetFetch,
        ApiKey.joinGroup.rawValue: .joinGroup,
        ApiKey.syncGroup.rawValue: .syncGroup,
        ApiKey.describeGroups.rawValue: .describeGroups,
        ApiKey.createTopics.rawValue: .createTopics,
        ApiKey.deleteTopics.rawValue: .deleteTopics,
        ApiKey.deleteRecords.rawValue: .deleteRecords,
        ApiKey.offsetForLeaderEpoch.rawValue: .offsetForLeaderEpoch,
        ApiKey.addPartitionsToTxn.rawValue: .addPartitionsToTxn,
        ApiKey.txnOffsetCommit.rawValue: .txnOffsetCommit,
        ApiKey.describeConfigs.rawValue: .describeConfigs,
        ApiKey.alterConfigs.rawValue: .alterConfigs,
        ApiKey.createPartitions.rawValue: .createPartitions,
        ApiKey.electLeaders.rawValue: .electLeaders,
        ApiKey.incrementalAlterConfigs.rawValue: .incrementalAlterConfigs,
        ApiKey.alterPartitionReassignments.rawValue: .alterPartitionReassignments,
        ApiKey.listPartitionReassignments.rawValue: .listPartitionReassignments,
        ApiKey.offsetDelete.rawValue: .offsetDelete,
        ApiKey.describeProducers.rawValue: .describeProducers,
        ApiKey.consumerGroupHeartbeat.rawValue: .consumerGroupHeartbeat,
        ApiKey.consumerGroupDescribe.rawValue: .consumerGroupDescribe,
        ApiKey.describeTopicPartitions.rawValue: .describeTopicPartitions,
    ]

    /// Mapped version range of each API that carries topic names. An API in `carriesTopicNames`
    /// but not here (or a version outside its range) must be withheld from ApiVersions for
    /// clients of a prefixed cluster.
    public static let mappedVersions: [Int16: ClosedRange<Int16>] = specs.mapValues(\.versions)

    /// Every API whose requests or responses can carry topic names (as topicName fields, topic
    /// resources or embedded consumer protocol bytes), mapped or not.
    public static let carriesTopicNames: Set<Int16> = Set(specs.keys).union(unmappedCarryingTopicNames)

    /// APIs that carry topic names and are not mapped: ACLs on topic resources, log dirs, the
    /// inter-broker and KRaft APIs, transactions and share/streams groups.
    static let unmappedCarryingTopicNames: Set<Int16> = [
        4, 5, 6, 7,             // LeaderAndIsr, StopReplica, UpdateMetadata, ControlledShutdown
        27,                     // WriteTxnMarkers
        29, 30, 31,             // DescribeAcls, CreateAcls, DeleteAcls (topic resources)
        34, 35,                 // AlterReplicaLogDirs, DescribeLogDirs
        52, 53, 54, 55, 56,     // Vote, Begin/EndQuorumEpoch, DescribeQuorum, AlterPartition
        59,                     // FetchSnapshot
        65,                     // DescribeTransactions
        73,                     // AssignReplicasToDirs (topic ids of the cluster's own topics)
        76, 77, 78, 79,         // ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch, ShareAcknowledge
        83, 84, 85, 86, 87,     // share group state
        88, 89,                 // StreamsGroupHeartbeat, StreamsGroupDescribe
        90, 91, 92,             // Describe/Alter/DeleteShareGroupOffsets
    ]

    /// `body`: the request bytes after the request header. nil: nothing to change (send the original).
    public static func request(apiKey: Int16, apiVersion: Int16, body: UnsafeRawBufferPointer, prefix: TopicPrefix,
                               context: inout TopicMappingContext) throws(KafkaProtocolError) -> MappedBody? {
        guard let spec = try spec(apiKey, apiVersion) else { return nil }
        var walker = TopicNameWalker(body: body, version: apiVersion, flexible: ApiCatalog.isFlexible(apiKey: apiKey, apiVersion: apiVersion),
                                     direction: .toUpstream, prefix: prefix, knownGroups: context.groupProtocolTypes)
        let mapped = try walker.message(spec.request)
        switch apiKey {
        case ApiKey.joinGroup.rawValue:
            if let group = walker.groupId { context.remember(group: group, protocolType: walker.protocolType) }
            if apiVersion < 7 { TopicMappingContext.push(walker.protocolType, to: &context.pendingJoinProtocolTypes) }
        case ApiKey.syncGroup.rawValue where apiVersion < 5:
            TopicMappingContext.push(walker.protocolType, to: &context.pendingSyncProtocolTypes)
        default:
            break
        }
        return mapped
    }

    /// `body`: the response bytes after the response header. Upstream names prefix+X become X;
    /// entries of upstream topics without the prefix are removed. nil: nothing to change.
    public static func response(apiKey: Int16, apiVersion: Int16, body: UnsafeRawBufferPointer, prefix: TopicPrefix,
                                context: inout TopicMappingContext) throws(KafkaProtocolError) -> MappedBody? {
        guard let spec = try spec(apiKey, apiVersion) else { return nil }
        var protocolType: [UInt8]?
        switch apiKey {
        case ApiKey.joinGroup.rawValue where apiVersion < 7:
            protocolType = TopicMappingContext.pop(&context.pendingJoinProtocolTypes)
        case ApiKey.syncGroup.rawValue where apiVersion < 5:
            protocolType = TopicMappingContext.pop(&context.pendingSyncProtocolTypes)
        default:
            break
        }
        var walker = TopicNameWalker(body: body, version: apiVersion, flexible: ApiCatalog.isFlexible(apiKey: apiKey, apiVersion: apiVersion),
                                     direction: .toClient, prefix: prefix, protocolType: protocolType)
        return try walker.message(spec.response)
    }

    /// nil: the API carries no topic names at this version. Throws for one that carries names
    /// this mapping does not know: passing it on unmapped would leak or misdirect names.
    static func spec(_ apiKey: Int16, _ apiVersion: Int16) throws(KafkaProtocolError) -> TopicApiSpec? {
        guard let spec = specs[apiKey] else {
            if carriesTopicNames.contains(apiKey) {
                throw KafkaProtocolError(.unsupportedVersion, "\(ApiKey(apiKey)) carries topic names and cannot be mapped to a topic prefix")
            }
            return nil
        }
        guard spec.versions.contains(apiVersion) else {
            throw KafkaProtocolError(.unsupportedVersion, "\(ApiKey(apiKey)) v\(apiVersion) cannot be mapped to a topic prefix")
        }
        return apiVersion > spec.namesThrough ? nil : spec
    }
}
