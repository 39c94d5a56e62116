/// The requests of a transaction (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit):
/// the producer they speak for, and the partitions they name, read so that a proxy can refuse
/// one whose producer id another cluster issued, with an error answer in the request's own shape.
public struct TransactionRequest: Equatable, Sendable {
    public struct Producer: Equatable, Sendable {
        public var transactionalId: String
        public var producerId: Int64
        public var producerEpoch: Int16

        public init(transactionalId: String, producerId: Int64, producerEpoch: Int16) {
            self.transactionalId = transactionalId
            self.producerId = producerId
            self.producerEpoch = producerEpoch
        }
    }

    /// AddPartitionsToTxn and TxnOffsetCommit name partitions, and are answered per partition,
    /// alike (CommitRefusal).
    public typealias Topic = CommitRefusal.Topic

    public var apiKey: Int16
    public var apiVersion: Int16
    /// One for every request but AddPartitionsToTxn v4+, which batches transactions (brokers send that form).
    public var producers: [Producer]
    /// The partitions of AddPartitionsToTxn (v0-3) and TxnOffsetCommit; per producer for AddPartitionsToTxn v4+.
    public var topics: [[Topic]]

    public init(apiKey: Int16, apiVersion: Int16, producers: [Producer], topics: [[Topic]] = []) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.producers = producers
        self.topics = topics
    }

    public static let apiKeys: Set<Int16> = [ApiKey.addPartitionsToTxn.rawValue, ApiKey.addOffsetsToTxn.rawValue,
                                             ApiKey.endTxn.rawValue, ApiKey.txnOffsetCommit.rawValue]

    /// Decodes the body (`r` after the request header). Only the fields the proxy needs are kept;
    /// the rest is skipped, but read, so a truncated request is an error.
    public static func decode(apiKey: Int16, apiVersion: Int16, from r: inout ByteReader) throws -> TransactionRequest {
        guard let descriptor = ApiCatalog.descriptor(apiKey), TransactionRequest.apiKeys.contains(apiKey),
              apiVersion >= descriptor.minVersion, apiVersion <= descriptor.maxVersion else {
            throw KafkaProtocolError(.unsupportedVersion, "transaction request api \(apiKey) v\(apiVersion)")
        }
        let flexible = descriptor.isFlexible(apiVersion)
        var request = TransactionRequest(apiKey: apiKey, apiVersion: apiVersion, producers: [])
        switch apiKey {
        case ApiKey.addPartitionsToTxn.rawValue where apiVersion >= 4:
            let count = try r.readArrayCount(flexible: flexible)
            for _ in 0..<count {
                request.producers.append(try readProducer(&r, flexible: flexible))
                _ = try r.readBool()    // verify_only
                request.topics.append(try readTopics(&r, flexible: flexible, partition: readPartitionIndex))
                try r.skipTaggedFields()
            }
        case ApiKey.addPartitionsToTxn.rawValue:
            request.producers.append(try readProducer(&r, flexible: flexible))
            request.topics.append(try readTopics(&r, flexible: flexible, partition: readPartitionIndex))
        case ApiKey.addOffsetsToTxn.rawValue:
            request.producers.append(try readProducer(&r, flexible: flexible))
            _ = try r.readString(flexible: flexible)        // group_id
        case ApiKey.endTxn.rawValue:
            request.producers.append(try readProducer(&r, flexible: flexible))
            _ = try r.readBool()                             // committed
        default:                                             // TxnOffsetCommit
            let commit = try TxnOffsetCommitRequest.decode(body: try r.readRawBytes(r.remaining), version: apiVersion)
            request.producers.append(Producer(transactionalId: commit.transactionalId, producerId: commit.producerId,
                                              producerEpoch: commit.producerEpoch))
            request.topics.append(commit.committed)
            return request
        }
        if flexible { try r.skipTaggedFields() }
        return request
    }

    private static func readProducer(_ r: inout ByteReader, flexible: Bool) throws -> Producer {
        let transactionalId = try r.readString(flexible: flexible)
        let producerId = try r.readInt64()
        let epoch = try r.readInt16()
        return Producer(transactionalId: transactionalId, producerId: producerId, producerEpoch: epoch)
    }

    private static func readPartitionIndex(_ r: inout ByteReader, _ flexible: Bool) throws -> Int32 {
        try r.readInt32()
    }

    private static func readTopics(_ r: inout ByteReader, flexible: Bool,
                                   partition: (inout ByteReader, Bool) throws -> Int32) throws -> [Topic] {
        let count = try r.readArrayCount(flexible: flexible)
        var topics: [Topic] = []
        for _ in 0..<count {
            let name = try r.readString(flexible: flexible)
            let partitions = try r.readArrayCount(flexible: flexible, minElementSize: 4)
            var indexes: [Int32] = []
            for _ in 0..<partitions { indexes.append(try partition(&r, flexible)) }
            if flexible { try r.skipTaggedFields() }
            topics.append(Topic(name: name, partitions: indexes))
        }
        return topics
    }

    /// The response body answering this request with `errorCode` (0: done), for every partition it names.
    public func responseBody(errorCode: Int16) -> [UInt8] {
        let flexible = ApiCatalog.descriptor(apiKey)?.isFlexible(apiVersion) ?? false
        switch apiKey {
        case ApiKey.addPartitionsToTxn.rawValue where apiVersion >= 4:
            var w = ByteWriter()
            w.writeInt32(0)                                  // throttle_time_ms
            w.writeInt16(errorCode)
            w.writeArrayCount(producers.count, flexible: flexible)
            for (producer, topics) in zip(producers, topics) {
                w.writeString(producer.transactionalId, flexible: flexible)
                // topic_results, then the transaction's tagged fields
                w.writeRawBytes(CommitRefusal.encode(topics, errorCode: errorCode, throttle: false, flexible: flexible))
            }
            w.writeTaggedFields([], if: flexible)
            return w.bytes
        case ApiKey.addPartitionsToTxn.rawValue, ApiKey.txnOffsetCommit.rawValue:
            return CommitRefusal.encode(topics.first ?? [], errorCode: errorCode, throttle: true, flexible: flexible)
        default:
            var w = ByteWriter()
            w.writeInt32(0)                                  // throttle_time_ms
            w.writeInt16(errorCode)
            if apiKey == ApiKey.endTxn.rawValue, apiVersion >= 5 {
                w.writeInt64(-1)                             // producer_id
                w.writeInt16(-1)                             // producer_epoch
            }
            w.writeTaggedFields([], if: flexible)
            return w.bytes
        }
    }
}
