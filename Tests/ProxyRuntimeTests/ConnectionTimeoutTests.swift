import Foundation
import KafkaProtocol
import XCTest

/// The per-connection timer at the socket boundary: idle connections, slow loris clients and
/// silent brokers, with `limits.idleTimeoutSeconds: 1` (the smallest value the config accepts).
/// Lower bounds are tight (the behaviour is about time); upper bounds leave room for a loaded machine.
final class ConnectionTimeoutTests: ConnectionTestCase {
    func testIdleConnectionIsClosedByTheIdleTimeout() throws {
        let broker = try broker()
        let proxy = try proxy([broker], limits: ["idleTimeoutSeconds": 1])
        let client = try client(proxy)
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertGreaterThanOrEqual(end.seconds, 0.9, "not before idleTimeoutSeconds")
        XCTAssertLessThan(end.seconds, 4, "closed within about idleTimeoutSeconds (+1 s timer leeway)")
        XCTAssertEqual(end.bytes, 0)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("idle_timeout") == 1 }, proxy.metricsText)
        XCTAssertTrue(waitUntil(timeout: 5) { broker.allClientUpstreamsClosed }, "the upstream connection is closed too")
    }

    func testRequestsKeepTheConnectionOpenPastTheIdleTimeout() throws {
        let broker = try broker()
        let proxy = try proxy([broker], limits: ["idleTimeoutSeconds": 1])
        let client = try client(proxy)
        // A round trip every 300 ms for 3 s: three idle timeouts' worth of time, never idle for one.
        for i in Int32(0)..<10 {
            client.send(Frames.apiVersionsRequest(correlationId: i))
            XCTAssertEqual(client.readFrame(timeout: 5), Frames.apiVersionsResponse(correlationId: i, version: 3), "round trip \(i)")
            usleep(300_000)
        }
        XCTAssertEqual(proxy.errors("idle_timeout"), 0)
        // Then idle: closed.
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertLessThan(end.seconds, 4)
    }

    func testSlowLorisIsClosedByTheIdleTimer() throws {
        let broker = try broker()
        let proxy = try proxy([broker], limits: ["idleTimeoutSeconds": 1])
        let client = try connectedClient(proxy)
        // A 1000-byte request, one byte every 200 ms: trickling bytes are not activity.
        var frame = Frames.produceRequest(correlationId: 9, acks: 1, valueBytes: 900)
        frame.removeSubrange(1000...)
        let start = Date()
        var sent = 0
        var ended: RawClient.Ending = .open
        while sent < 40 {
            guard client.send(frame[sent...sent]) else { ended = .reset; break }
            sent += 1
            if !client.staysOpen(for: 0.2) { ended = client.ending; break }
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertNotEqual(ended, .open, "still open after \(sent) bytes in \(seconds) s")
        XCTAssertGreaterThanOrEqual(seconds, 0.8)
        XCTAssertLessThan(seconds, 4, "cut by the idle timer, not by a request deadline")
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("idle_timeout") == 1 }, proxy.metricsText)
        XCTAssertEqual(broker.requests.count, 1, "only the ApiVersions before it reached the broker whole")
    }

    func testRequestWhoseBodyTricklesAfterItsHeaderIsCutToo() throws {
        let broker = try broker()
        let proxy = try proxy([broker], limits: ["idleTimeoutSeconds": 1])
        let client = try connectedClient(proxy)
        var frame = Frames.produceRequest(correlationId: 9, acks: 1, valueBytes: 900)
        frame.removeSubrange(1000...)
        client.send(frame[..<40])  // size and the whole header at once, then a byte every 200 ms
        let start = Date()
        var sent = 40
        var ended: RawClient.Ending = .open
        while sent < 80 {
            guard client.send(frame[sent...sent]) else { ended = .reset; break }
            sent += 1
            if !client.staysOpen(for: 0.2) { ended = client.ending; break }
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertNotEqual(ended, .open, "still open after \(sent) bytes in \(seconds) s")
        XCTAssertGreaterThanOrEqual(seconds, 0.8)
        XCTAssertLessThan(seconds, 4)
        // The reason is not pinned: today it is broker_timeout (a seen header counts as a request
        // outstanding at the broker), which blames the broker for the client's slowness.
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("idle_timeout") + proxy.errors("broker_timeout") == 1 },
                      proxy.metricsText)
    }

    func testBrokerThatAnswersNothingIsCutWithRequestsOutstanding() throws {
        let broker = try broker { _, _ in [] }
        let proxy = try proxy([broker], limits: ["idleTimeoutSeconds": 1])
        let client = try client(proxy)
        client.send(Frames.produceRequest(correlationId: 3, acks: 1))
        XCTAssertTrue(waitUntil(timeout: 10) { broker.requests.count == 1 })
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertGreaterThanOrEqual(end.seconds, 0.7)
        XCTAssertLessThan(end.seconds, 4)
        XCTAssertEqual(end.bytes, 0)
        XCTAssertTrue(waitUntil(timeout: 5) { proxy.errors("broker_timeout") == 1 }, proxy.metricsText)
        XCTAssertEqual(proxy.errors("idle_timeout"), 0)
        XCTAssertTrue(waitUntil(timeout: 5) { broker.connections.first?.peerHasClosed == true })
    }
}
