#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KafkaProtocol
import XCTest

/// Flow control and orderly endings: backpressure from a client that does not read, graceful
/// shutdown, and the drain after a reload that moves the cluster to other bootstrap servers.
final class ConnectionFlowTests: ConnectionTestCase {
    func testClientThatDoesNotReadStopsTheProxyReadingTheBrokerAndLosesNothing() throws {
        let responseBytes = 1 << 20
        let count = 96
        let broker = try broker { _, request in
            guard request.apiKey == ApiKey.fetch.rawValue else { return [] }
            return [.respond(Frames.fetchResponse(correlationId: request.correlationId, recordBytes: responseBytes,
                                                  fill: UInt8(truncatingIfNeeded: request.correlationId)))]
        }
        let proxy = try proxy([broker])
        let client = try client(proxy, receiveBuffer: 64 * 1024)
        client.send((0..<count).flatMap { Frames.fetchRequest(correlationId: Int32($0)) })
        XCTAssertTrue(waitUntil(timeout: 10) { broker.requests.count == count })
        let connection = try XCTUnwrap(broker.connections.first)
        let total = count * Frames.fetchResponse(correlationId: 0, recordBytes: responseBytes, fill: 0).count
        // The broker's writes stall: nothing more is taken for a while.
        var stalledAt = -1
        var last = -1
        var stableSince = Date()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let now = connection.bytesSent
            if now != last {
                last = now
                stableSince = Date()
            } else if Date().timeIntervalSince(stableSince) > 1.0 {
                stalledAt = now
                break
            }
            usleep(50_000)
        }
        // What the broker gets rid of is the proxy's queue (bounded at about 1 MiB) plus the kernel
        // buffers of four sockets, which loopback autotuning can grow to tens of MiB (about 10 MiB
        // observed): half of 100 MiB separates "stopped reading" from "read everything".
        XCTAssertGreaterThan(stalledAt, 0, "the broker's writes never stalled")
        XCTAssertLessThan(stalledAt, total / 2,
                          "the proxy kept reading the broker: \(stalledAt) of \(total) bytes taken with the client not reading")
        print("backpressure: the broker stalled after \(stalledAt) of \(total) bytes")
        // Everything arrives once the client reads, in order and whole.
        for i in 0..<count {
            guard let frame = client.readFrame(timeout: 20) else {
                XCTFail("response \(i) missing")
                break
            }
            XCTAssertEqual(Frames.correlationId(ofResponse: frame), Int32(i))
            let expected = Frames.fetchResponse(correlationId: Int32(i), recordBytes: responseBytes,
                                                fill: UInt8(truncatingIfNeeded: i))
            XCTAssertTrue(sameBytes(frame, expected), "response \(i) byte for byte")
        }
        XCTAssertEqual(connection.bytesSent, total)
    }

    func testGracefulShutdownDeliversTheInflightResponseThenCloses() throws {
        let held = HeldRequests()
        let broker = try broker { connection, request in
            if request.apiKey == ApiKey.produce.rawValue {
                held.add(connection, request)
                return []
            }
            return FakeBroker.standard(connection, request)
        }
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        client.send(Frames.produceRequest(correlationId: 50, acks: 1))
        XCTAssertTrue(waitUntil(timeout: 10) { held.count == 1 })

        let finished = DispatchSemaphore(value: 0)
        let shutdownStart = Date()
        proxy.server.shutdown(drainTimeoutSeconds: 5) { finished.signal() }
        usleep(300_000)
        XCTAssertThrowsError(try RawClient(port: proxy.bootstrapPort), "no new connections once shutting down")
        XCTAssertTrue(client.staysOpen(for: 0.2), "the connection waits for its response")
        held.answerAll()
        XCTAssertEqual(client.readFrame(timeout: 5), Frames.produceResponse(correlationId: 50), "in-flight response delivered")
        let end = client.waitForEnd(timeout: 5)
        XCTAssertEqual(end.ending, .eof, "then closed")
        XCTAssertLessThan(end.seconds, 2)
        XCTAssertEqual(finished.wait(timeout: .now() + 5), .success, "shutdown completes once the connection is gone")
        XCTAssertLessThan(Date().timeIntervalSince(shutdownStart), 4, "without waiting for the drain timeout")
        XCTAssertEqual(proxy.errors("drain_timeout"), 0)
    }

    func testShutdownDrainTimeoutClosesAConnectionWhoseResponseNeverComes() throws {
        let broker = try broker { connection, request in
            request.apiKey == ApiKey.produce.rawValue ? [] : FakeBroker.standard(connection, request)
        }
        let proxy = try proxy([broker])
        let client = try connectedClient(proxy)
        client.send(Frames.produceRequest(correlationId: 51, acks: 1))
        XCTAssertTrue(waitUntil(timeout: 10) { broker.requests.count == 2 })
        let finished = DispatchSemaphore(value: 0)
        proxy.server.shutdown(drainTimeoutSeconds: 1) { finished.signal() }
        let end = client.waitForEnd(timeout: 10)
        XCTAssertEqual(end.ending, .eof)
        XCTAssertGreaterThanOrEqual(end.seconds, 0.9, "kept open for the drain timeout")
        XCTAssertLessThan(end.seconds, 3)
        XCTAssertEqual(end.bytes, 0)
        XCTAssertEqual(finished.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(proxy.errors("drain_timeout"), 1)
    }

    func testReloadWithNewBootstrapServersDrainsConnectionsOfTheOldOnes() throws {
        let held = HeldRequests()
        let old = try broker { connection, request in
            if request.apiKey == ApiKey.produce.rawValue {
                held.add(connection, request)
                return []
            }
            return FakeBroker.standard(connection, request)
        }
        let new = try broker()
        let proxy = try proxy([old], drainTimeoutSeconds: 10)
        let busy = try connectedClient(proxy)
        let idle = try connectedClient(proxy)
        busy.send(Frames.produceRequest(correlationId: 60, acks: 1))
        XCTAssertTrue(waitUntil(timeout: 10) { held.count == 1 })

        let reloadedAt = Date()
        try proxy.reload { $0.bootstrapServers = ["127.0.0.1:\(new.port)"] }
        let idleEnd = idle.waitForEnd(timeout: 10)
        XCTAssertEqual(idleEnd.ending, .eof, "a connection with nothing in flight closes")
        XCTAssertLessThan(Date().timeIntervalSince(reloadedAt), 2, "at once")
        XCTAssertTrue(busy.staysOpen(for: 0.3), "a connection with a response in flight waits for it")

        // While draining, new requests are not taken.
        busy.send(Frames.produceRequest(correlationId: 61, acks: 1))
        usleep(300_000)
        XCTAssertFalse(old.requests.contains { $0.correlationId == 61 }, "a request sent while draining is not relayed")

        held.answerAll()
        XCTAssertEqual(busy.readFrame(timeout: 5), Frames.produceResponse(correlationId: 60), "in-flight response delivered")
        let busyEnd = busy.waitForEnd(timeout: 5)
        XCTAssertNotEqual(busyEnd.ending, .open, "then closed")
        XCTAssertLessThan(busyEnd.seconds, 2)
        XCTAssertEqual(busyEnd.bytes, 0, "no answer to the request sent while draining")

        // New connections go to the new servers.
        let fresh = try client(proxy)
        fresh.send(Frames.apiVersionsRequest(correlationId: 62))
        XCTAssertEqual(fresh.readFrame(timeout: 10), Frames.apiVersionsResponse(correlationId: 62, version: 3))
        XCTAssertEqual(new.connections.count, 1)
        XCTAssertEqual(proxy.errors("drain_timeout"), 0)
        XCTAssertEqual(proxy.metric("kafka_proxy_config_reloads_total", "result=\"success\""), 1)
    }
}

/// memcmp: comparing megabytes element by element is slow in debug builds.
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
}

/// Requests a script keeps unanswered until the test lets them go.
final class HeldRequests: @unchecked Sendable {
    private let lock = NSLock()
    private var held: [(BrokerConnection, BrokerRequest)] = []

    func add(_ connection: BrokerConnection, _ request: BrokerRequest) { lock.withLock { held.append((connection, request)) } }
    var count: Int { lock.withLock { held.count } }

    /// Sends every held request its standard answer, in order.
    func answerAll() {
        for (connection, request) in lock.withLock({ held }) {
            if let answer = FakeBroker.standardAnswer(to: request, brokerPort: connection.brokerPort) { connection.send(answer) }
        }
        lock.withLock { held.removeAll() }
    }
}
