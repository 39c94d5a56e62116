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

    func testTruncatedFrameThenCloseForwardsNoPartialRequestAndClosesUpstream() throws {
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

    private func assertGarbageClosesOnlyItsConnection(_ garbage: [UInt8], reason: String, limits: [String: Int] = [:],
                                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let broker = try broker()
        let proxy = try proxy([broker], limits: limits)
        let good = try connectedClient(proxy, correlationId: 1)
        let bad = try connectedClient(proxy, correlationId: 1)
        let framesBefore = broker.requests.count
        bad.send(garbage)
        let end = bad.waitForEnd(timeout: 10)
        XCTAssertNotEqual(end.ending, .open, "the bad connection is closed", file: file, line: line)
        XCTAssertLessThan(end.seconds, 3, file: file, line: line)
        XCTAssertEqual(end.bytes, 0, "nothing answers the garbage", file: file, line: line)
        XCTAssertEqual(broker.requests.count, framesBefore, "the garbage never reaches the broker as a frame", file: file, line: line)
        XCTAssertFalse(broker.connections.contains { $0.receivedInvalidFrame }, file: file, line: line)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors(reason) == 1 }, proxy.metricsText, file: file, line: line)
        // The other connection is untouched.
        good.send(Frames.produceRequest(correlationId: 2, acks: 1))
        XCTAssertEqual(good.readFrame(timeout: 10), Frames.produceResponse(correlationId: 2), file: file, line: line)
        XCTAssertEqual(proxy.metric("kafka_proxy_connections_active"), 1, file: file, line: line)
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
