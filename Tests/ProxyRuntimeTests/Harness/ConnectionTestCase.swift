import Foundation
import KafkaProtocol
import XCTest

/// Base of the connection characterization tests: owns the fake brokers and proxies a test makes
/// and tears them down, printing the proxy's log when the test failed.
class ConnectionTestCase: XCTestCase {
    private var brokers: [FakeBroker] = []
    private var proxies: [ProxyUnderTest] = []
    private var clients: [RawClient] = []

    func broker(_ script: @escaping FakeBroker.Script = FakeBroker.standard) throws -> FakeBroker {
        let broker = try FakeBroker(script: script)
        brokers.append(broker)
        return broker
    }

    func proxy(_ brokers: [FakeBroker], limits: [String: Int] = [:], drainTimeoutSeconds: Int = 10,
               extraServers: [String] = []) throws -> ProxyUnderTest {
        let servers = extraServers + brokers.map { "127.0.0.1:\($0.port)" }
        let proxy = try ProxyUnderTest(bootstrapServers: servers, limits: limits, drainTimeoutSeconds: drainTimeoutSeconds)
        proxies.append(proxy)
        // The proxy probes its cluster once at start (the interval is a day): let that finish, so
        // a probe connection still in its handshake never looks like a client's to a test.
        if let first = brokers.first, first.isReadGateOpen {
            XCTAssertTrue(waitUntil(timeout: 10) { first.probesAnswered > 0 }, "the proxy's probe never came")
        }
        return proxy
    }

    func client(_ proxy: ProxyUnderTest, receiveBuffer: Int? = nil) throws -> RawClient {
        let client = try proxy.connect(receiveBuffer: receiveBuffer)
        clients.append(client)
        return client
    }

    /// A client whose upstream connection is up: one ApiVersions round trip done.
    func connectedClient(_ proxy: ProxyUnderTest, correlationId: Int32 = 1) throws -> RawClient {
        let client = try client(proxy)
        client.send(Frames.apiVersionsRequest(correlationId: correlationId))
        let answer = client.readFrame(timeout: 10)
        XCTAssertNotNil(answer, "no ApiVersions answer through the proxy")
        return client
    }

    override func tearDown() {
        clients.removeAll()  // closes their sockets
        for proxy in proxies {
            if testRun.map({ $0.failureCount + $0.unexpectedExceptionCount > 0 }) ?? false {
                print("---- proxy log ----\n\(proxy.logs.text)\n-------------------")
            }
            proxy.shutdown(drainTimeoutSeconds: 1)
        }
        proxies.removeAll()
        for broker in brokers { broker.stop() }
        brokers.removeAll()
        super.tearDown()
    }
}

extension FakeBroker {
    /// Answers like a healthy broker: ApiVersions, Produce (not acks=0), Metadata (naming this broker
    /// as node 1) and Fetch (a small answer), each derived from the request's correlation id.
    static let standard: Script = { connection, request in
        standardAnswer(to: request, brokerPort: connection.brokerPort).map { [.respond($0)] } ?? []
    }

    static func standardAnswer(to request: BrokerRequest, brokerPort: UInt16) -> [UInt8]? {
        switch request.apiKey {
        case ApiKey.apiVersions.rawValue:
            return Frames.apiVersionsResponse(correlationId: request.correlationId, version: request.apiVersion)
        case ApiKey.produce.rawValue:
            return request.acks == 0 ? nil : Frames.produceResponse(correlationId: request.correlationId)
        case ApiKey.metadata.rawValue:
            return Frames.metadataResponse(correlationId: request.correlationId, version: request.apiVersion,
                                           brokers: [.init(nodeId: 1, host: "127.0.0.1", port: Int32(brokerPort))])
        case ApiKey.fetch.rawValue:
            return Frames.fetchResponse(correlationId: request.correlationId, recordBytes: 100, fill: 0x5a)
        default:
            return nil
        }
    }
}

extension BrokerRequest {
    /// acks of a Produce request; nil for other APIs.
    var acks: Int16? {
        guard apiKey == ApiKey.produce.rawValue else { return nil }
        let payload = Array(frame[4...])
        return payload.withUnsafeBytes { raw -> Int16? in
            guard let info = try? RequestHeader.peek(raw, frameLength: payload.count) else { return nil }
            return try? ProduceRequest.peekAcks(UnsafeRawBufferPointer(rebasing: raw[info.headerLength...]),
                                                version: apiVersion)
        }
    }
}
