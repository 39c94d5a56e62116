import KafkaProtocol
@testable import ProxyCore
import XCTest

/// The connection's rules, without sockets: each test feeds events with a manual clock and checks
/// the actions.
final class ConnectionMachineTests: XCTestCase {
    // MARK: connecting

    func testConnectsToTheNextAddressAfterTheFirstRefuses() {
        var d = MachineDriver()
        d.machine.start(nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.schedule(d.now + 10 * MachineDriver.second), .resolve])
        d.machine.resolved(["a:9092", "b:9092"], lastError: "")
        XCTAssertEqual(d.drain(), [.dial(0)])
        d.machine.connectFailed("a:9092: connection refused")
        XCTAssertEqual(d.drain(), [.dial(1)])
        d.machine.connected(nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.schedule(d.now + 30 * MachineDriver.second), .resumeClient, .resumeBroker])
        XCTAssertEqual(d.machine.state, .relaying(.none))
        XCTAssertEqual(d.machine.upstreamName, "b:9092")
    }

    func testEveryAddressRefusingClosesAsUnreachable() {
        var d = MachineDriver()
        d.machine.start(nowNanos: d.now)
        d.machine.resolved(["a:9092"], lastError: "")
        d.machine.connectFailed("a:9092: connection refused")
        let actions = d.drain()
        XCTAssertEqual(actions.closeReason, .upstreamUnreachable(route: "bootstrap", detail: "a:9092: connection refused", dialled: true))
        XCTAssertEqual(actions.closeReason?.metricLabel, "upstream_unreachable")

        var none = MachineDriver()
        none.machine.start(nowNanos: none.now)
        none.machine.resolved([], lastError: "no such host")
        XCTAssertEqual(none.drain().closeReason, .upstreamUnreachable(route: "bootstrap", detail: "no such host", dialled: false))
    }

    func testConnectTimeout() {
        var d = MachineDriver()
        d.machine.start(nowNanos: d.now)
        d.machine.resolved(["a:9092"], lastError: "")
        _ = d.drain()
        d.advance(seconds: 10)
        d.machine.timerFired(nowNanos: d.now, stallHint: " (no answer)")
        let reason = d.drain().closeReason
        XCTAssertEqual(reason, .connectTimeout(route: "bootstrap", upstream: "a:9092", seconds: 10, hint: " (no answer)"))
        XCTAssertEqual(reason?.metricLabel, "upstream_connect_timeout")
        // Late events change nothing.
        d.machine.connected(nowNanos: d.now)
        XCTAssertEqual(d.drain(), [])
    }

    // MARK: SASL

    func testLoginThenRelaying() {
        var d = MachineDriver(login: "SCRAM-SHA-512")
        d.machine.start(nowNanos: d.now)
        d.machine.resolved(["a:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        XCTAssertEqual(Array(d.drain().suffix(2)), [.startLogin(reauthentication: false), .resumeBroker])
        XCTAssertEqual(d.machine.state, .authenticating)
        // The login driver's request goes out; the broker's answer goes back to the driver, not the client.
        let request = Frames.apiVersions(Int32.min)
        d.machine.loginRequest(request, correlationId: Int32.min, apiKey: ApiKey.apiVersions.rawValue, apiVersion: 3, nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.toBroker(request)])
        XCTAssertEqual(d.broker(Frames.response(Int32.min)), [.loginResponse])
        d.machine.loginSucceeded(sessionLifetimeMs: 0, nowNanos: d.now)
        let actions = d.drain()
        XCTAssertEqual(actions.first, .loginSucceeded(reauthentication: false))
        XCTAssertTrue(actions.has(.resumeClient))
        XCTAssertEqual(d.machine.state, .relaying(.none))
        // Requests pass whole frames (framing mode), responses stream.
        XCTAssertEqual(d.client(Frames.produce(1)).toBroker, Frames.produce(1))
        XCTAssertEqual(d.broker(Frames.response(1)).toClient, Frames.response(1))
    }

    func testLoginFailureAndTimeout() {
        var d = MachineDriver(login: "PLAIN")
        d.machine.start(nowNanos: d.now)
        d.machine.resolved(["a:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        _ = d.drain()
        d.machine.loginFailed(reason: "authentication_failed", detail: "Invalid user credentials")
        let failed = d.drain()
        XCTAssertEqual(failed.first, .loginFailed("authentication_failed"))
        XCTAssertEqual(failed.closeReason?.metricLabel, "sasl_authentication_failed")
        XCTAssertEqual(failed.closeReason?.severity, .error)

        var t = MachineDriver(login: "GSSAPI")
        t.machine.start(nowNanos: t.now)
        t.machine.resolved(["a:9092"], lastError: "")
        t.machine.connected(nowNanos: t.now)
        _ = t.drain()
        t.advance(seconds: 10)
        t.machine.timerFired(nowNanos: t.now, stallHint: " (waiting for the KDC)")
        let timedOut = t.drain()
        XCTAssertEqual(timedOut.first, .loginFailed("timeout"))
        XCTAssertEqual(timedOut.closeReason, .loginTimeout(mechanism: "GSSAPI", cluster: "primary", upstream: "a:9092",
                                                          seconds: 10, waiting: " (waiting for the KDC)"))
        XCTAssertEqual(timedOut.closeReason?.metricLabel, "sasl_timeout")
        // A step that comes back after the close is dropped.
        t.machine.loginSucceeded(sessionLifetimeMs: 0, nowNanos: t.now)
        XCTAssertEqual(t.drain(), [])
    }

    private func loggedIn(_ mechanism: String = "PLAIN") -> MachineDriver {
        var d = MachineDriver(login: mechanism)
        d.machine.start(nowNanos: d.now)
        d.machine.resolved(["a:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        d.machine.loginSucceeded(sessionLifetimeMs: 60_000, nowNanos: d.now)
        _ = d.drain()
        return d
    }

    func testReauthenticationAtAFrameBoundaryWithRequestsInFlight() {
        var d = loggedIn()
        // Two requests in flight, and half of a third.
        let third = Frames.produce(3)
        XCTAssertEqual(d.client(Frames.produce(1) + Frames.produce(2) + third[..<10]).toBroker,
                       Frames.produce(1) + Frames.produce(2))
        d.machine.reauthenticationTimerFired(nowNanos: d.now)
        let started = d.drain()
        XCTAssertEqual(started, [.pauseClient, .startLogin(reauthentication: true)])
        XCTAssertEqual(d.machine.state, .relaying(.reauthenticating))
        // The rest of the third request arrives: it waits for the re-authentication.
        XCTAssertEqual(d.client(Array(third[10...])).toBroker, [])
        let handshake = Frames.saslHandshake(Int32.min)
        d.machine.loginRequest(handshake, correlationId: Int32.min, apiKey: ApiKey.saslHandshake.rawValue, apiVersion: 1, nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.toBroker(handshake)])
        // The responses in flight still reach the client, in order, before the login's answer.
        XCTAssertEqual(d.broker(Frames.response(1) + Frames.response(2)).toClient, Frames.response(1) + Frames.response(2))
        XCTAssertEqual(d.broker(Frames.response(Int32.min)), [.loginResponse])
        d.machine.loginSucceeded(sessionLifetimeMs: 60_000, nowNanos: d.now)
        let done = d.drain()
        XCTAssertEqual(done.first, .loginSucceeded(reauthentication: true))
        XCTAssertEqual(done.toBroker, third, "the held request goes out once, whole, after the login")
        XCTAssertEqual(done.last, .resumeClient)
        XCTAssertEqual(d.machine.state, .relaying(.none))
    }

    func testReauthenticationDueWhileHeldStartsAtTheNextFrame() {
        var d = loggedIn()
        // A client SaslHandshake waits for the response before it; meanwhile the session is due.
        _ = d.client(Frames.produce(1))
        XCTAssertEqual(d.client(Frames.saslHandshake(2)).toBroker, [])
        d.machine.reauthenticationTimerFired(nowNanos: d.now)
        XCTAssertEqual(d.drain(), [])
        let answered = d.broker(Frames.response(1))
        XCTAssertTrue(answered.has(.startLogin(reauthentication: true)), "the due login goes first, at the frame boundary")
        XCTAssertFalse(answered.contains { if case .refuseSASL = $0 { return true } else { return false } })
        d.machine.loginSucceeded(sessionLifetimeMs: 60_000, nowNanos: d.now)
        XCTAssertTrue(d.drain().has(.refuseSASL(apiKey: ApiKey.saslHandshake.rawValue, correlationId: 2)))
    }

    func testClientSaslHandshakeIsAnsweredInOrder() {
        var d = loggedIn()
        XCTAssertEqual(d.client(Frames.produce(1)).toBroker, Frames.produce(1))
        // Not forwarded, and not answered before the response to request 1.
        let held = d.client(Frames.saslHandshake(2) + Frames.produce(3))
        XCTAssertEqual(held.toBroker, [])
        XCTAssertFalse(held.contains { if case .refuseSASL = $0 { return true } else { return false } })
        XCTAssertEqual(d.machine.state, .relaying(.clientSASL))
        let after = d.broker(Frames.response(1))
        let refusal = after.firstIndex(of: .refuseSASL(apiKey: ApiKey.saslHandshake.rawValue, correlationId: 2))
        let response = after.firstIndex(of: .toClient(Frames.response(1)))
        XCTAssertNotNil(refusal)
        XCTAssertNotNil(response)
        XCTAssertLessThan(response!, refusal!, "the response before it goes out first")
        XCTAssertEqual(after.toBroker, Frames.produce(3), "requests after it flow again")
        XCTAssertEqual(d.machine.state, .relaying(.none))
    }

    func testClientSaslAuthenticateIsRefusedAndTheConnectionClosesWhenFlushed() {
        var d = loggedIn()
        let auth = StreamFixtures.request(.saslAuthenticate, 2, correlationId: 9, body: [0, 0, 0, 0])
        let actions = d.client(auth + Frames.produce(10))
        XCTAssertTrue(actions.has(.refuseSASL(apiKey: ApiKey.saslAuthenticate.rawValue, correlationId: 9)))
        XCTAssertEqual(actions.closeReason, .refusedClientSASL)
        XCTAssertEqual(actions.toBroker, [], "nothing after it is relayed")
    }

    // MARK: draining

    func testDrainWithNothingInFlightClosesAtOnce() {
        var d = MachineDriver()
        d.relaying()
        d.machine.drainRequested(timeoutSeconds: 5, nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.pauseClient, .schedule(d.now + 5 * MachineDriver.second), .closeWhenFlushed(.drained)])
    }

    func testDrainDeliversResponsesInFlightThenCloses() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1) + Frames.produce(2))
        d.machine.drainRequested(timeoutSeconds: 5, nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.pauseClient, .schedule(d.now + 5 * MachineDriver.second)])
        let first = d.broker(Frames.response(1))
        XCTAssertEqual(first.toClient, Frames.response(1))
        XCTAssertNil(first.closeReason)
        let response = Frames.response(2)
        let half = d.broker(Array(response[..<7]))
        XCTAssertNil(half.closeReason, "not while a response is half relayed")
        let last = d.broker(Array(response[7...]))
        XCTAssertEqual(last.closeReason, .drained)
        XCTAssertEqual(half.toClient + last.toClient, response)
    }

    func testDrainDeadline() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1))
        d.machine.drainRequested(timeoutSeconds: 5, nowNanos: d.now)
        _ = d.drain()
        d.advance(seconds: 4.9)
        XCTAssertNil(d.timer().closeReason)
        d.advance(seconds: 0.1)
        let reason = d.timer().closeReason
        XCTAssertEqual(reason, .drainTimeout(outstanding: 1))
        XCTAssertEqual(reason?.metricLabel, "drain_timeout")
    }

    func testDrainWhileConnectingCloses() {
        var d = MachineDriver()
        d.machine.start(nowNanos: d.now)
        _ = d.drain()
        d.machine.drainRequested(timeoutSeconds: 5, nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.close(.drainedWhileConnecting)])
    }

    // MARK: time

    func testIdleTimeoutAndSlowLoris() {
        var d = MachineDriver(idleSeconds: 2)
        d.relaying()
        d.advance(seconds: 1)
        _ = d.client(Frames.produce(1, acks: 0))
        d.advance(seconds: 1)
        XCTAssertEqual(d.timer(), [.schedule(d.now + 1 * MachineDriver.second)], "a whole request was activity")
        // A byte now and then never completes a request: not activity.
        let slow = Frames.produce(2)
        for i in 0..<10 {
            d.advance(seconds: 0.2)
            _ = d.client([slow[i]])
        }
        let reason = d.timer().closeReason
        XCTAssertEqual(reason, .idle(seconds: 2))
        XCTAssertEqual(reason?.metricLabel, "idle_timeout")
    }

    func testBrokerThatAnswersNothingTimesOut() {
        var d = MachineDriver(idleSeconds: 2)
        d.relaying()
        _ = d.client(Frames.produce(7))
        d.advance(seconds: 2)
        guard case .brokerTimeout(_, 2, 1, let oldest)? = d.timer().closeReason else {
            return XCTFail("expected a broker timeout")
        }
        XCTAssertEqual(oldest.correlationId, 7)
    }

    // MARK: end of stream

    func testClientEOFWhileItsRequestsAreStillBeingWritten() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1, acks: 0))
        d.machine.clientEOF(brokerHasPendingOutput: true, nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.pauseClient, .pauseBroker, .schedule(d.now + 5 * MachineDriver.second)])
        d.machine.brokerDrained()
        XCTAssertEqual(d.drain(), [.close(.requestsFlushed)])

        var quick = MachineDriver()
        quick.relaying()
        quick.machine.clientEOF(brokerHasPendingOutput: false, nowNanos: quick.now)
        XCTAssertEqual(quick.drain(), [.close(.clientClosed)])
    }

    func testClientEOFInTheMiddleOfARequest() {
        var d = MachineDriver()
        d.relaying()
        let frame = Frames.produce(1)
        let sent = d.client(Array(frame[..<30]))
        d.machine.clientEOF(brokerHasPendingOutput: false, nowNanos: d.now)
        let reason = d.drain().closeReason
        XCTAssertEqual(reason?.metricLabel, "truncated_frame")
        _ = sent
    }

    func testBrokerEOFAndReset() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1))
        d.machine.brokerEOF(nowNanos: d.now)
        XCTAssertEqual(d.drain().closeReason, .brokerClosed(upstream: "broker-0:9092", outstanding: 1))

        var r = MachineDriver()
        r.relaying()
        _ = r.client(Frames.produce(1))
        r.machine.channelFailed(.broker, detail: "ECONNRESET", isDisconnect: true, isTLS: false)
        XCTAssertEqual(r.drain().closeReason?.metricLabel, "broker_closed")

        var idle = MachineDriver()
        idle.relaying()
        idle.machine.brokerEOF(nowNanos: idle.now)
        XCTAssertNil(idle.drain().closeReason?.metricLabel, "no error when nothing was outstanding")
    }

    // MARK: relaying

    func testPassThroughIsBorrowedAndAcksZeroAnswerIsDropped() {
        var d = MachineDriver()
        d.relaying()
        let requests = Frames.produce(1, acks: 0) + Frames.produce(2)
        let sent = d.client(requests)
        XCTAssertEqual(sent.toBroker, requests)
        XCTAssertTrue(d.lastRaw.allSatisfy { if case .sendToBroker(.owned) = $0 { return false } else { return true } },
                      "pass-through requests are not copied")
        XCTAssertEqual(sent.filter { if case .requestSeen = $0 { return true } else { return false } },
                       [.requestSeen(1), .requestSeen(2)])
        // The broker answers the acks=0 request anyway (Tansu does): dropped, the connection stays.
        let answered = d.broker(Frames.response(1) + Frames.response(2))
        XCTAssertEqual(answered.toClient, Frames.response(2))
        XCTAssertNil(answered.closeReason)
        XCTAssertTrue(d.lastRaw.allSatisfy { if case .sendToClient(.owned) = $0 { return false } else { return true } })
    }

    func testAFramingConnectionWritesTheFramesOfOneReadAtOnce() {
        // Several clusters: every request is framed (to clear Fetch epochs); the frames still go out as one write.
        var d = MachineDriver(clearsLeaderEpochs: true)
        d.relaying()
        let requests = Frames.produce(1) + Frames.produce(2) + Frames.produce(3)
        XCTAssertEqual(d.client(requests).toBroker, requests)
        let sends = d.lastRaw.compactMap { if case .sendToBroker(let bytes) = $0 { bytes } else { nil } }
        XCTAssertEqual(sends.count, 1, "one borrowed range for the three frames")
        guard case .borrowed? = sends.first else { return XCTFail("copied: \(sends)") }
        XCTAssertEqual(d.lastRaw.filter { if case .requestSeen = $0 { true } else { false } }.count, 3)

        // A frame completed from an earlier read is a copy of its own; the whole frames after it join.
        let split = Frames.produce(4)
        _ = d.client(Array(split[..<10]))
        let rest = Array(split[10...]) + Frames.produce(5) + Frames.produce(6)
        XCTAssertEqual(d.client(rest).toBroker, split + Frames.produce(5) + Frames.produce(6))
        let kinds = d.lastRaw.compactMap { action -> String? in
            switch action {
            case .sendToBroker(.borrowed): "borrowed"
            case .sendToBroker(.owned): "owned"
            case .sendToBroker(.prefix): "prefix"
            default: nil
            }
        }
        XCTAssertEqual(kinds, ["owned", "borrowed"])
    }

    func testAnUnexpectedResponseClosesWithItsReason() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1))
        let reason = d.broker(Frames.response(99)).closeReason
        XCTAssertEqual(reason?.metricLabel, "correlation_mismatch")
    }

    func testGarbledRequestClosesWithItsReason() {
        var d = MachineDriver()
        d.relaying()
        XCTAssertEqual(d.client([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).closeReason?.metricLabel, "invalid_frame_size")
    }

    func testProducerIdRequestedFromTheNewClusterAndBatchesPatched() throws {
        let policy = FakePolicy()
        policy.markForeign(7)
        var d = MachineDriver(translates: true, policy: policy)
        d.relaying()
        let first = d.client(Frames.idempotentProduce(1, producerId: 7, sequence: 40)
            + Frames.idempotentProduce(2, producerId: 7, sequence: 41))
        XCTAssertTrue(first.has(.producerMoved(7)))
        XCTAssertEqual(d.machine.state, .relaying(.producerId(.init(producerId: 7, epoch: 0))))
        // What went to the broker is the proxy's InitProducerId, nothing of the client's.
        let initRequest = first.toBroker
        let header = try initRequest.withUnsafeBytes { try RequestHeader.peek(UnsafeRawBufferPointer(rebasing: $0[4...])) }!
        XCTAssertEqual(header.apiKey, ApiKey.initProducerId.rawValue)
        let released = d.broker(Frames.initProducerIdResponse(header.correlationId, producerId: 4242, epoch: 3))
        XCTAssertEqual(released.toClient, [], "the client never sees the proxy's own answer")
        XCTAssertEqual(released.last, .resumeClient)
        var sent = released.toBroker
        var batches: [(Int64, Int16, Int32)] = []
        while sent.count > 4 {
            let size = Int(UInt32(sent[0]) << 24 | UInt32(sent[1]) << 16 | UInt32(sent[2]) << 8 | UInt32(sent[3]))
            let payload = Array(sent[4..<(4 + size)])
            let h = try payload.withUnsafeBytes { try RequestHeader.peek($0) }!
            let b = try ProduceRequestBatches.locate(payload: payload, headerLength: h.headerLength, version: 9)[0]
            XCTAssertTrue(ProduceRequestBatches.crcIsValid(payload, batch: b))
            batches.append((b.producerId, b.producerEpoch, b.baseSequence))
            sent.removeFirst(4 + size)
        }
        XCTAssertEqual(batches.map(\.0), [4242, 4242])
        XCTAssertEqual(batches.map(\.1), [3, 3])
        XCTAssertEqual(batches.map(\.2), [0, 1], "sequences counted from the first batch seen")
        // The client's responses flow as usual.
        XCTAssertEqual(d.broker(Frames.response(1) + Frames.response(2)).toClient, Frames.response(1) + Frames.response(2))
    }

    // MARK: backpressure

    func testBackpressurePausesAndResumes() {
        var d = MachineDriver()
        d.relaying()
        d.machine.brokerBlocked()
        XCTAssertEqual(d.drain(), [.pauseClient])
        d.machine.brokerDrained()
        XCTAssertEqual(d.drain(), [.resumeClient])
        d.machine.clientBlocked()
        XCTAssertEqual(d.drain(), [.pauseBroker])
        d.machine.clientDrained(nowNanos: d.now)
        XCTAssertEqual(d.drain(), [.resumeBroker])
    }

    func testHeldRequestsBeyondTheLimitPauseTheClient() {
        let policy = FakePolicy()
        policy.markForeign(7)
        var d = MachineDriver(translates: true, policy: policy, maxRequestBytes: 256)
        d.relaying()
        // Held while the proxy gets a producer id of this cluster.
        XCTAssertEqual(d.client(Frames.idempotentProduce(1, producerId: 7, sequence: 0)).toBroker.count > 0, true)
        // More client bytes while held are kept; beyond the limit, reading stops.
        let more = d.client((2...6).flatMap { Frames.fetch($0) })
        XCTAssertTrue(more.has(.pauseClient))
        XCTAssertEqual(more.toBroker, [])
    }
}
