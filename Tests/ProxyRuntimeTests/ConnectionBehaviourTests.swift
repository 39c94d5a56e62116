import Foundation
import KafkaProtocol
import XCTest

/// Characterization of the relay at the socket boundary: a real ProxyServer on 127.0.0.1 between a
/// raw TCP client and a fake broker. Only bytes, closes and timings are asserted, so the same tests
/// hold for any implementation of the connection.
final class ConnectionBehaviourTests: ConnectionTestCase {
    func testProduceAcks1RequestAndResponsePassThroughByteForByte() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try client(proxy)
        let request = Frames.produceRequest(correlationId: 7, acks: 1, valueBytes: 300)
        client.send(request)
        let answer = client.readFrame(timeout: 10)
        XCTAssertEqual(answer, Frames.produceResponse(correlationId: 7))
        XCTAssertEqual(broker.requests.map(\.frame), [request], "the broker got the request exactly as sent")
        XCTAssertEqual(proxy.metric("kafka_proxy_requests_total", "api=\"Produce\",version=\"7\""), 1)
    }

    func testApiVersionsPassesThroughByteForByteWhenNothingIsCapped() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try client(proxy)
        for (version, correlationId) in [(Int16(3), Int32(11)), (0, 12), (1, 13)] {
            let request = Frames.apiVersionsRequest(correlationId: correlationId, version: version)
            client.send(request)
            XCTAssertEqual(client.readFrame(timeout: 10),
                           Frames.apiVersionsResponse(correlationId: correlationId, version: version), "v\(version)")
            XCTAssertEqual(broker.requests.last?.frame, request, "v\(version)")
        }
    }

    func testApiVersionsWithholdsUnknownAndCapsEndpointCarryingApis() throws {
        let offered: [ApiVersionsResponse.ApiVersion] = [
            .init(apiKey: ApiKey.produce.rawValue, minVersion: 0, maxVersion: 9),
            .init(apiKey: ApiKey.metadata.rawValue, minVersion: 0, maxVersion: 99),
            .init(apiKey: 78, minVersion: 0, maxVersion: 1),       // share groups: withheld
            .init(apiKey: 31000, minVersion: 0, maxVersion: 0),    // unknown to the proxy: withheld
        ]
        let broker = try broker { _, request in
            [.respond(Frames.apiVersionsResponse(correlationId: request.correlationId, version: request.apiVersion,
                                                 apiKeys: offered))]
        }
        let proxy = try proxy([broker])
        let client = try client(proxy)
        client.send(Frames.apiVersionsRequest(correlationId: 5, version: 3))
        let answer = try XCTUnwrap(client.readFrame(timeout: 10))
        let expected: [ApiVersionsResponse.ApiVersion] = [
            .init(apiKey: ApiKey.produce.rawValue, minVersion: 0, maxVersion: 9),
            .init(apiKey: ApiKey.metadata.rawValue, minVersion: 0, maxVersion: MetadataResponse.maxVersion),
        ]
        XCTAssertEqual(answer, Frames.apiVersionsResponse(correlationId: 5, version: 3, apiKeys: expected))
    }

    func testPipelinedRequestsAllArriveAndResponsesComeBackInOrder() throws {
        let count = 200
        // The broker answers only once every request is in, all answers in one write.
        let broker = try broker { connection, _ in
            let requests = connection.requests
            guard requests.count == count else { return [] }
            let all = requests.flatMap { FakeBroker.standardAnswer(to: $0, brokerPort: connection.brokerPort) ?? [] }
            return [.respond(all)]
        }
        let proxy = try proxy([broker])
        let client = try client(proxy)
        var requests: [[UInt8]] = []
        var expected: [[UInt8]] = []
        for i in 0..<count {
            let correlationId = Int32(1000 + i)
            if i % 3 == 0 {
                requests.append(Frames.apiVersionsRequest(correlationId: correlationId))
                expected.append(Frames.apiVersionsResponse(correlationId: correlationId, version: 3))
            } else {
                requests.append(Frames.produceRequest(correlationId: correlationId, acks: -1, valueBytes: i))
                expected.append(Frames.produceResponse(correlationId: correlationId))
            }
        }
        client.send(requests.flatMap { $0 })
        var answers: [[UInt8]] = []
        while answers.count < count, let frame = client.readFrame(timeout: 10) { answers.append(frame) }
        XCTAssertEqual(answers.count, count)
        XCTAssertEqual(answers.map(Frames.correlationId(ofResponse:)), expected.map(Frames.correlationId(ofResponse:)),
                       "responses in request order")
        XCTAssertTrue(answers == expected, "every response byte for byte")
        XCTAssertTrue(broker.connections.first?.requests.map(\.frame) == requests, "every request byte for byte")
    }

    func testRequestSplitAtEveryOffsetArrivesWholeAtTheBroker() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        let base = Frames.produceRequest(correlationId: 0, acks: 1, valueBytes: 8)
        for offset in 1..<base.count {
            let correlationId = Int32(100 + offset)
            let request = Frames.produceRequest(correlationId: correlationId, acks: 1, valueBytes: 8)
            client.send(request[..<offset])
            usleep(1500)  // separate segments, so the proxy sees two reads
            client.send(request[offset...])
            let answer = client.readFrame(timeout: 10)
            XCTAssertEqual(answer, Frames.produceResponse(correlationId: correlationId), "split at \(offset)")
            XCTAssertEqual(broker.requests.last?.frame, request, "split at \(offset)")
            if answer == nil { break }
        }
        XCTAssertEqual(broker.requests.count, base.count, "ApiVersions + one request per split")
        XCTAssertFalse(broker.nonProbeConnections.contains { $0.receivedInvalidFrame })
    }

    func testMetadataBrokerAddressIsRewrittenToTheAdvertisedHostAndABrokerPort() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try client(proxy)
        client.send(Frames.metadataRequest(correlationId: 21, version: 12))
        let answer = try XCTUnwrap(client.readFrame(timeout: 10))
        XCTAssertEqual(Frames.correlationId(ofResponse: answer), 21)
        var reader = ByteReader(Array(answer[4...]))
        _ = try ResponseHeader.decode(from: &reader, headerVersion: 1)
        let metadata = try MetadataResponse.decode(from: &reader, version: 12)
        XCTAssertEqual(metadata.brokers.count, 1)
        let rewritten = try XCTUnwrap(metadata.brokers.first)
        XCTAssertEqual(rewritten.nodeId, 1)
        XCTAssertEqual(rewritten.host, "localhost", "listener.advertisedHost")
        XCTAssertTrue(proxy.brokerPorts.contains(UInt16(rewritten.port)), "port \(rewritten.port) in listener.brokerPorts \(proxy.brokerPorts)")
        // Everything else is the broker's answer (one cluster configured: leader epochs are kept).
        XCTAssertEqual(metadata.clusterId, "char-cluster")
        XCTAssertEqual(metadata.topics.first?.partitions.first?.leaderEpoch, 7)

        // The rewritten address leads to that broker.
        let before = broker.connections.count
        let direct = try RawClient(port: UInt16(rewritten.port))
        direct.send(Frames.apiVersionsRequest(correlationId: 22))
        XCTAssertEqual(direct.readFrame(timeout: 10), Frames.apiVersionsResponse(correlationId: 22, version: 3))
        XCTAssertEqual(broker.connections.count, before + 1, "a new upstream connection for the broker port")
    }

    func testProduceAcks0GetsNoResponseAndTheConnectionStays() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        let fireAndForget = Frames.produceRequest(correlationId: 30, acks: 0)
        client.send(fireAndForget)
        XCTAssertTrue(waitUntil(timeout: 10) { broker.requests.contains { $0.frame == fireAndForget } })
        XCTAssertEqual(client.readAvailable(timeout: 0.3), [], "no answer to acks=0")
        client.send(Frames.produceRequest(correlationId: 31, acks: 1))
        XCTAssertEqual(client.readFrame(timeout: 10), Frames.produceResponse(correlationId: 31))
    }

    func testBrokerAnswerToAcks0ProduceIsDroppedAndTheConnectionStays() throws {
        // Tansu answers acks=0 Produce requests; the proxy has no request waiting for that answer.
        let broker = try broker { connection, request in
            if request.apiKey == ApiKey.produce.rawValue {
                return [.respond(Frames.produceResponse(correlationId: request.correlationId))]
            }
            return FakeBroker.standard(connection, request)
        }
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        client.send(Frames.produceRequest(correlationId: 40, acks: 0))
        client.send(Frames.produceRequest(correlationId: 41, acks: 1))
        XCTAssertEqual(client.readFrame(timeout: 10), Frames.produceResponse(correlationId: 41),
                       "the stray answer to 40 is dropped, 41's answer arrives")
        client.send(Frames.apiVersionsRequest(correlationId: 42))
        XCTAssertEqual(client.readFrame(timeout: 10), Frames.apiVersionsResponse(correlationId: 42, version: 3))
        XCTAssertEqual(proxy.errors("correlation_mismatch"), 0)
        XCTAssertEqual(proxy.errors("unexpected_response"), 0)
    }

    func testFirstBootstrapServerRefusesTheNextOneIsUsed() throws {
        let broker = try broker()
        let closed = try freePort()
        let proxy = try proxy([broker], extraServers: ["127.0.0.1:\(closed)"])
        // Connections rotate over the servers; two connections make sure one starts at the refusing one.
        for correlationId in Int32(1)...2 {
            let client = try client(proxy)
            client.send(Frames.apiVersionsRequest(correlationId: correlationId))
            XCTAssertEqual(client.readFrame(timeout: 10), Frames.apiVersionsResponse(correlationId: correlationId, version: 3))
        }
        XCTAssertEqual(broker.connections.count, 2)
        XCTAssertEqual(proxy.metric("kafka_proxy_upstream_connect_failures_total"), 0, "a refused server that has a next one is no failure")
    }

    func testUnreachableUpstreamClosesTheClientConnection() throws {
        // Every server refuses. (A server that never completes the TCP handshake is cut by the 10 s
        // connect timeout, too slow for a unit test: refusal is what is pinned here.)
        let closed = try freePort()
        let proxy = try ProxyUnderTest(bootstrapServers: ["127.0.0.1:\(closed)"])
        defer { proxy.shutdown(drainTimeoutSeconds: 1) }
        let client = try proxy.connect()
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof, "closed with a FIN")
        XCTAssertLessThan(end.seconds, 3, "closed as soon as the connect is refused")
        XCTAssertEqual(end.bytes, 0, "nothing sent to the client")
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("upstream_unreachable") == 1 }, proxy.metricsText)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.metric("kafka_proxy_upstream_connect_failures_total") == 1 }, proxy.metricsText)

        // A client that sent a request before the refusal: no answer, the connection ends.
        let eager = try proxy.connect()
        eager.send(Frames.apiVersionsRequest(correlationId: 1))
        let eagerEnd = eager.waitForEnd(timeout: 10)
        XCTAssertNotEqual(eagerEnd.ending, .open)
        XCTAssertEqual(eagerEnd.bytes, 0)
    }
}
