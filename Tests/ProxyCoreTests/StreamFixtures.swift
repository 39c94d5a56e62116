import KafkaProtocol
@testable import ProxyCore

/// Frames built with the codec's encoders; byte-exact vectors live in KafkaProtocolTests.
enum StreamFixtures {
    static func request(_ api: ApiKey, _ version: Int16, correlationId: Int32, body: [UInt8] = [],
                        clientId: String? = "test-client") -> [UInt8] {
        KafkaFrame.request(header: RequestHeader(apiKey: api.rawValue, apiVersion: version,
                                                 correlationId: correlationId, clientId: clientId),
                           body: body)
    }

    static func produce(version: Int16, correlationId: Int32, acks: Int16, transactionalId: String? = nil) -> [UInt8] {
        var produce = ProduceRequest(topic: "orders", partition: 0, records: Array(repeating: 0xAB, count: 300), acks: acks)
        produce.transactionalId = transactionalId
        return request(.produce, version, correlationId: correlationId, body: produce.encoded(version: version))
    }

    /// A mixed pipeline a client could send: flexible and non-flexible headers, acks=0 and acks=1.
    static var requestStream: [UInt8] {
        request(.apiVersions, 3, correlationId: 1, body: [0x05] + Array("swift".utf8) + [0x04] + Array("1.0".utf8) + [0])
            + request(.metadata, 12, correlationId: 2, body: [0x01, 0x01, 0x00, 0x00])
            + produce(version: 9, correlationId: 3, acks: 0)
            + produce(version: 3, correlationId: 4, acks: 1, transactionalId: "tx-1")
            + request(.fetch, 4, correlationId: 5, body: Array(repeating: 0x11, count: 40), clientId: nil)
            + produce(version: 11, correlationId: 6, acks: -1)
    }

    static let metadataBrokers = [
        MetadataResponse.Broker(nodeId: 1, host: "broker-a.internal", port: 9092, rack: "r1"),
        MetadataResponse.Broker(nodeId: 2, host: "broker-b.internal", port: 9093, rack: nil),
    ]

    static func metadataResponse(version: Int16, correlationId: Int32) -> [UInt8] {
        let metadata = MetadataResponse(brokers: metadataBrokers, clusterId: "cluster-x", controllerId: 1, topics: [])
        return KafkaFrame.response(apiKey: ApiKey.metadata.rawValue, apiVersion: version, correlationId: correlationId,
                                   body: metadata.encoded(version: version))
    }

    static func apiVersionsResponse(correlationId: Int32) -> [UInt8] {
        let response = ApiVersionsResponse(apiKeys: [
            .init(apiKey: ApiKey.produce.rawValue, minVersion: 0, maxVersion: 99),
            .init(apiKey: ApiKey.metadata.rawValue, minVersion: 0, maxVersion: 99),
            .init(apiKey: ApiKey.listOffsets.rawValue, minVersion: 0, maxVersion: 42),
            .init(apiKey: 999, minVersion: 0, maxVersion: 1),
        ])
        return KafkaFrame.response(apiKey: ApiKey.apiVersions.rawValue, apiVersion: 3, correlationId: correlationId,
                                   body: response.encoded(version: 3))
    }

    /// A response the proxy never decodes: any body bytes.
    static func opaqueResponse(correlationId: Int32, bodyBytes: Int) -> [UInt8] {
        KafkaFrame.framed(withUnsafeBytes(of: correlationId.bigEndian) { Array($0) }
            + (0..<bodyBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    }
}
