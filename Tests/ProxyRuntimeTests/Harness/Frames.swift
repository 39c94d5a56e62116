import KafkaProtocol

/// Request and response frames for the characterization tests, built with the KafkaProtocol codec
/// (bodies the codec has no encoder for are written field by field from the message specs).
enum Frames {
    static let clientId = "char-test"

    // MARK: requests

    static func request(apiKey: ApiKey, version: Int16, correlationId: Int32, body: [UInt8]) -> [UInt8] {
        KafkaFrame.request(header: RequestHeader(apiKey: apiKey.rawValue, apiVersion: version,
                                                 correlationId: correlationId, clientId: clientId),
                           body: body)
    }

    static func apiVersionsRequest(correlationId: Int32, version: Int16 = 3) -> [UInt8] {
        request(apiKey: .apiVersions, version: version, correlationId: correlationId,
                body: ApiVersionsRequest(clientSoftwareName: "char-test", clientSoftwareVersion: "1.0").encoded(version: version))
    }

    /// Produce v7 (no NodeEndpoints in its answer, so the proxy streams the answer through).
    static func produceRequest(correlationId: Int32, acks: Int16, valueBytes: Int = 32, version: Int16 = 7) -> [UInt8] {
        let value = (0..<valueBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(correlationId)) }
        let batch = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000).build([Record(key: Array("k".utf8), value: value)])
        let body = ProduceRequest(topic: "char-topic", partition: 0, records: batch, acks: acks).encoded(version: version)
        return request(apiKey: .produce, version: version, correlationId: correlationId, body: body)
    }

    static func metadataRequest(correlationId: Int32, version: Int16 = 12) -> [UInt8] {
        request(apiKey: .metadata, version: version, correlationId: correlationId,
                body: MetadataRequest(topicNames: ["char-topic"]).encoded(version: version))
    }

    /// Fetch v4: its answer streams through the proxy untouched (NodeEndpoints start at v16).
    static func fetchRequest(correlationId: Int32) -> [UInt8] {
        let body = FetchRequest(topics: [FetchRequest.Topic(name: "char-topic", partitions: [
            FetchRequest.Partition(partition: 0, fetchOffset: 0),
        ])]).encoded(version: 4)
        return request(apiKey: .fetch, version: 4, correlationId: correlationId, body: body)
    }

    // MARK: responses

    static let brokerApiKeys: [ApiVersionsResponse.ApiVersion] = [
        .init(apiKey: ApiKey.produce.rawValue, minVersion: 0, maxVersion: 9),
        .init(apiKey: ApiKey.fetch.rawValue, minVersion: 0, maxVersion: 12),
        .init(apiKey: ApiKey.metadata.rawValue, minVersion: 0, maxVersion: 12),
        .init(apiKey: ApiKey.apiVersions.rawValue, minVersion: 0, maxVersion: 3),
    ]

    static func apiVersionsResponse(correlationId: Int32, version: Int16,
                                    apiKeys: [ApiVersionsResponse.ApiVersion] = brokerApiKeys) -> [UInt8] {
        KafkaFrame.response(apiKey: ApiKey.apiVersions.rawValue, apiVersion: version, correlationId: correlationId,
                            body: ApiVersionsResponse(apiKeys: apiKeys).encoded(version: version))
    }

    /// Produce v7 answer: one topic, one partition, no error.
    static func produceResponse(correlationId: Int32, baseOffset: Int64 = 42) -> [UInt8] {
        var w = ByteWriter()
        w.writeArrayCount(1, flexible: false)
        w.writeString("char-topic")
        w.writeArrayCount(1, flexible: false)
        w.writeInt32(0)            // partition index
        w.writeInt16(0)            // error code
        w.writeInt64(baseOffset)   // base offset
        w.writeInt64(-1)           // log append time
        w.writeInt64(0)            // log start offset
        w.writeInt32(0)            // throttle time
        return KafkaFrame.response(apiKey: ApiKey.produce.rawValue, apiVersion: 7, correlationId: correlationId, body: w.bytes)
    }

    static func metadataResponse(correlationId: Int32, version: Int16, brokers: [MetadataResponse.Broker]) -> [UInt8] {
        let topic = MetadataResponse.Topic(name: "char-topic", partitions: [
            MetadataResponse.Partition(partitionIndex: 0, leaderId: brokers.first?.nodeId ?? -1, leaderEpoch: 7,
                                       replicaNodes: brokers.map(\.nodeId), isrNodes: brokers.map(\.nodeId)),
        ])
        let response = MetadataResponse(brokers: brokers, clusterId: "char-cluster",
                                        controllerId: brokers.first?.nodeId ?? -1, topics: [topic])
        return KafkaFrame.response(apiKey: ApiKey.metadata.rawValue, apiVersion: version, correlationId: correlationId,
                                   body: response.encoded(version: version))
    }

    /// Fetch v4 answer carrying `recordBytes` bytes of records (opaque to the proxy).
    static func fetchResponse(correlationId: Int32, recordBytes: Int, fill: UInt8) -> [UInt8] {
        var w = ByteWriter(capacity: recordBytes + 64)
        w.writeInt32(0)                    // throttle time
        w.writeArrayCount(1, flexible: false)
        w.writeString("char-topic")
        w.writeArrayCount(1, flexible: false)
        w.writeInt32(0)                    // partition index
        w.writeInt16(0)                    // error code
        w.writeInt64(1000)                 // high watermark
        w.writeInt64(1000)                 // last stable offset
        w.writeInt32(-1)                   // aborted transactions: null
        w.writeInt32(Int32(recordBytes))   // records
        // Array + Array: a memcpy even in debug builds (a generic byte-by-byte append of 1 MiB is not).
        let body = w.bytes + [UInt8](repeating: fill, count: recordBytes)
        return KafkaFrame.response(apiKey: ApiKey.fetch.rawValue, apiVersion: 4, correlationId: correlationId, body: body)
    }

    /// The correlation id of a response frame (size prefix included).
    static func correlationId(ofResponse frame: [UInt8]) -> Int32 {
        Int32(bigEndianBytes: Array(frame[4..<8]))
    }
}
