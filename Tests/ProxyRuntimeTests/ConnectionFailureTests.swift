#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KafkaProtocol
import XCTest

/// How a connection ends when one side misbehaves or leaves, at the socket boundary.
final class ConnectionFailureTests: ConnectionTestCase {
    func testRequestsSentRightBeforeClientEOFAllReachTheBroker() throws {
        // An acks=0 producer sends and closes at once. The broker does not read for a while, so the
        // proxy still holds requests for it when the client's EOF arrives.
        let broker = try broker()
        broker.closeReadGate()
        let proxy = try proxy([broker])
        let client = try client(proxy)
        let requests = (0..<16).map { Frames.produceRequest(correlationId: Int32(200 + $0), acks: 0, valueBytes: 256 * 1024) }
        let sent = DispatchSemaphore(value: 0)
        let fd = client.fd
        Thread.detachNewThread {
            for request in requests {
                _ = request.withUnsafeBytes { raw -> Bool in
                    var offset = 0
                    while offset < raw.count {
                        let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                        if n <= 0 { return false }
                        offset += n
                    }
                    return true
                }
            }
            shutdown(fd, Int32(SHUT_RDWR))  // the client is gone (its fd is closed by the test's teardown)
            sent.signal()
        }
        // Usually the client is done before the broker reads again; on a slow machine it may not be.
        let doneBeforeBrokerRead = sent.wait(timeout: .now() + 3) == .success
        usleep(200_000)
        broker.openReadGate()
        if !doneBeforeBrokerRead {
            XCTAssertEqual(sent.wait(timeout: .now() + 10), .success, "the client could send everything")
        }
        XCTAssertTrue(waitUntil(timeout: 10) { broker.requests.count == requests.count },
                      "\(broker.requests.count) of \(requests.count) requests reached the broker")
        XCTAssertTrue(broker.requests.map(\.frame) == requests, "every request whole and in order")
        XCTAssertTrue(waitUntil(timeout: 10) { broker.connections.first?.peerHasClosed == true },
                      "then the upstream connection is closed")
        XCTAssertEqual(proxy.errors("truncated_frame"), 0)
    }

    /// Whether the cut request's first bytes reach the broker is left open: today they do (requests
    /// stream through as they arrive) and the upstream close that follows makes the broker drop them.
    func testTruncatedFrameThenCloseNeverDeliversTheCutRequestAndClosesUpstream() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        let whole = Frames.produceRequest(correlationId: 70, acks: 0)
        let cut = Frames.produceRequest(correlationId: 71, acks: 1, valueBytes: 200)
        client.send(whole + cut[..<40])
        usleep(50_000)
        client.shutdownWrite()
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof, "the proxy ends the connection")
        XCTAssertEqual(end.bytes, 0, "no answer to the cut request")
        XCTAssertTrue(waitUntil(timeout: 5) { broker.connections.first?.peerHasClosed == true }, "upstream closed")
        XCTAssertEqual(broker.requests.map(\.frame).suffix(1), [whole], "the whole request before the cut one arrived")
        XCTAssertFalse(broker.requests.contains { $0.correlationId == 71 }, "the cut request never arrives whole")
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("truncated_frame") == 1 }, proxy.metricsText)
    }

    func testNegativeFrameSizeClosesOnlyThatConnection() throws {
        try assertGarbageClosesOnlyItsConnection([0xff, 0xff, 0xff, 0x9c], reason: "invalid_frame_size")
    }

    func testUnknownApiKeyClosesOnlyThatConnection() throws {
        var w = ByteWriter()
        w.writeInt32(10)
        w.writeInt16(31000)   // no such API
        w.writeInt16(0)
        w.writeInt32(1)
        w.writeInt16(-1)      // null client id
        try assertGarbageClosesOnlyItsConnection(w.bytes, reason: "unknown_api_key")
    }

    func testRequestAboveMaxRequestBytesClosesTheConnection() throws {
        let request = Frames.produceRequest(correlationId: 5, acks: 1, valueBytes: 4096)
        try assertGarbageClosesOnlyItsConnection(request, reason: "frame_too_large", limits: ["maxRequestBytes": 1024])
    }

    func testTLSClientHelloOnThePlainListenerClosesTheConnection() throws {
        // The start of a TLS ClientHello record: handshake, TLS 1.0 record version, length, ClientHello.
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03] + [UInt8](repeating: 7, count: 32)
        try assertGarbageClosesOnlyItsConnection(hello, reason: "tls_client_hello_on_plain_listener", handshakeFirst: false)
    }

    /// `handshakeFirst`: the bad client does an ApiVersions round trip before the garbage.
    private func assertGarbageClosesOnlyItsConnection(_ garbage: [UInt8], reason: String, limits: [String: Int] = [:],
                                                      handshakeFirst: Bool = true,
                                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let broker = try broker()
        let proxy = try proxy([broker], limits: limits)
        let good = try connectedClient(proxy, correlationId: 1)
        let bad = handshakeFirst ? try connectedClient(proxy, correlationId: 1) : try client(proxy)
        let framesBefore = broker.requests.count
        bad.send(garbage)
        let end = bad.waitForEnd(timeout: 10)
        XCTAssertNotEqual(end.ending, .open, "the bad connection is closed", file: file, line: line)
        XCTAssertLessThan(end.seconds, 3, file: file, line: line)
        XCTAssertEqual(end.bytes, 0, "nothing answers the garbage", file: file, line: line)
        XCTAssertEqual(broker.requests.count, framesBefore, "the garbage never reaches the broker as a frame", file: file, line: line)
        XCTAssertFalse(broker.nonProbeConnections.contains { $0.receivedInvalidFrame }, file: file, line: line)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors(reason) == 1 }, proxy.metricsText, file: file, line: line)
        // The other connection is untouched.
        good.send(Frames.produceRequest(correlationId: 2, acks: 1))
        XCTAssertEqual(good.readFrame(timeout: 10), Frames.produceResponse(correlationId: 2), file: file, line: line)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.metric("kafka_proxy_connections_active") == 1 }, proxy.metricsText,
                      file: file, line: line)
    }

    func testBrokerClosingWithResponsesOutstandingClosesTheClient() throws {
        let broker = try broker { connection, request in
            request.apiKey == ApiKey.produce.rawValue ? [.close] : FakeBroker.standard(connection, request)
        }
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        client.send(Frames.produceRequest(correlationId: 80, acks: 1))
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertLessThan(end.seconds, 3)
        XCTAssertEqual(end.bytes, 0)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("broker_closed") == 1 }, proxy.metricsText)
    }

    func testResponseWithTheWrongCorrelationIdClosesTheConnection() throws {
        let broker = try broker { connection, request in
            guard request.apiKey == ApiKey.produce.rawValue else { return FakeBroker.standard(connection, request) }
            return [.respond(Frames.produceResponse(correlationId: request.correlationId + 1000))]
        }
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        client.send(Frames.produceRequest(correlationId: 90, acks: 1))
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertEqual(end.bytes, 0, "the mismatched answer is not relayed")
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("correlation_mismatch") == 1 }, proxy.metricsText)
        XCTAssertTrue(waitUntil(timeout: 5) { broker.connections.first?.peerHasClosed == true })
    }

    func testResponseNobodyAskedForClosesTheConnection() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        try XCTUnwrap(broker.connections.first).send(Frames.produceResponse(correlationId: 77))
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertEqual(end.bytes, 0)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("unexpected_response") == 1 }, proxy.metricsText)
    }

    func testResponseAboveMaxResponseBytesClosesTheConnection() throws {
        let broker = try broker { connection, request in
            guard request.apiKey == ApiKey.fetch.rawValue else { return FakeBroker.standard(connection, request) }
            return [.respond(Frames.fetchResponse(correlationId: request.correlationId, recordBytes: 8192, fill: 1))]
        }
        let proxy = try proxy([broker], limits: ["maxResponseBytes": 4096])
        let client = try connectedClient(proxy)
        client.send(Frames.fetchRequest(correlationId: 91))
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertEqual(end.bytes, 0, "nothing of the oversized response is relayed")
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("frame_too_large") == 1 }, proxy.metricsText)
    }

    func testConnectionsBeyondMaxConnectionsAreClosedAtOnce() throws {
        let broker = try broker()
        let proxy = try proxy([broker], limits: ["maxConnections": 2])
        let first = try connectedClient(proxy, correlationId: 1)
        let second = try connectedClient(proxy, correlationId: 2)
        let third = try client(proxy)
        let end = third.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof, "accepted, then closed")
        XCTAssertLessThan(end.seconds, 2)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.metric("kafka_proxy_connections_rejected_total") == 1 }, proxy.metricsText)
        XCTAssertEqual(broker.nonProbeConnections.count, 2, "no upstream connection for a refused client")
        for (client, id) in [(first, Int32(3)), (second, 4)] {
            client.send(Frames.apiVersionsRequest(correlationId: id))
            XCTAssertEqual(client.readFrame(timeout: 10), Frames.apiVersionsResponse(correlationId: id, version: 3))
        }
        // A place frees up: the next connection is served.
        first.shutdownWrite()
        XCTAssertEqual(first.waitForEnd(timeout: 5).ending, .eof)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.metric("kafka_proxy_connections_active") == 1 })
        let fourth = try connectedClient(proxy, correlationId: 5)
        XCTAssertEqual(fourth.ending, .open)
    }

    func testBrokerClosingAnIdleConnectionClosesTheClientWithoutAnError() throws {
        let broker = try broker()
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        try XCTUnwrap(broker.connections.first).close()
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertLessThan(end.seconds, 3)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.metric("kafka_proxy_connections_active") == 0 })
        XCTAssertEqual(proxy.errors("broker_closed"), 0)
    }
}
