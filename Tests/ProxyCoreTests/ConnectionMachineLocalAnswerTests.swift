import KafkaProtocol
@testable import ProxyCore
import XCTest

/// Answers the proxy gives itself go to the client in their request's place, never before they are due.
final class ConnectionMachineLocalAnswerTests: XCTestCase {
    private func observed(_ correlationId: Int32) -> ObservedRequest {
        ObservedRequest(apiKey: ApiKey.fetch.rawValue, apiVersion: 4, correlationId: correlationId, frameBytes: 0,
                        headerLength: 0, expectsResponse: true)
    }

    private func answer(_ d: inout MachineDriver, _ correlationId: Int32, after seconds: Double) -> [Recorded] {
        d.machine.answerLocally(observed(correlationId), frame: Frames.response(correlationId, bodyBytes: 7),
                                dueNanos: d.now + UInt64(seconds * 1e9), nowNanos: d.now)
        return d.drain()
    }

    func testDueAnswerWithNothingBeforeItGoesOutAtOnce() {
        var d = MachineDriver()
        d.relaying()
        let actions = answer(&d, 5, after: 0)
        XCTAssertEqual(actions, [.toClient(Frames.response(5, bodyBytes: 7))])
        XCTAssertTrue(d.machine.inflight.isEmpty)
    }

    func testAnswerNotDueStopsReadingTheBrokerUntilItIsSent() {
        var d = MachineDriver()
        d.relaying()
        let parked = answer(&d, 5, after: 0.5)
        XCTAssertEqual(parked, [.schedule(d.now + 500_000_000), .pauseBroker])
        // Later requests still go to the broker.
        XCTAssertEqual(d.client(Frames.produce(6)).toBroker, Frames.produce(6))
        // A read already under way is kept, not relayed ahead of the answer.
        let early = d.broker(Frames.response(6))
        XCTAssertEqual(early.toClient, [])
        XCTAssertTrue(early.has(.pauseBroker))
        // Nor does the client draining its output resume the broker.
        d.machine.clientDrained(nowNanos: d.now)
        XCTAssertFalse(d.drain().has(.resumeBroker))
        d.advance(seconds: 0.2)
        XCTAssertEqual(d.timer().toClient, [], "not before it is due")
        d.advance(seconds: 0.3)
        let sent = d.timer()
        XCTAssertEqual(sent.toClient, Frames.response(5, bodyBytes: 7) + Frames.response(6))
        XCTAssertTrue(sent.has(.resumeBroker))
        XCTAssertTrue(d.machine.inflight.isEmpty)
        // Kept bytes are copied out: nothing borrowed outlives its event.
        for action in d.lastRaw {
            if case .sendToClient(.borrowed) = action { XCTFail("borrowed bytes from the kept responses") }
        }
    }

    func testAnswerWaitsForTheResponsesBeforeItAndHoldsTheOnesAfter() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1) + Frames.produce(2))
        XCTAssertEqual(answer(&d, 3, after: 0.5), [], "two responses come first: nothing to decide yet")
        _ = d.client(Frames.produce(4))
        // One read: the two before the answer, and the one after it.
        let read = d.broker(Frames.response(1) + Frames.response(2) + Frames.response(4))
        XCTAssertEqual(read.toClient, Frames.response(1) + Frames.response(2))
        XCTAssertTrue(read.has(.pauseBroker))
        XCTAssertTrue(read.has(.schedule(d.now + 500_000_000)))
        d.advance(seconds: 0.5)
        XCTAssertEqual(d.timer().toClient, Frames.response(3, bodyBytes: 7) + Frames.response(4))
    }

    func testDueAnswerBehindAResponseGoesOutRightAfterIt() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1))
        _ = answer(&d, 2, after: 0)
        _ = d.client(Frames.produce(3))
        let response = Frames.response(1, bodyBytes: 30)
        // The response before the answer arrives in two reads: the answer never splits it.
        XCTAssertEqual(d.broker(Array(response[..<12])).toClient, Array(response[..<12]))
        let rest = d.broker(Array(response[12...]) + Frames.response(3))
        XCTAssertEqual(rest.toClient, Array(response[12...]) + Frames.response(2, bodyBytes: 7) + Frames.response(3))
        XCTAssertFalse(rest.has(.pauseBroker))
    }

    func testSecondAnswerWaitsBehindTheFirst() {
        var d = MachineDriver()
        d.relaying()
        _ = answer(&d, 1, after: 0.5)
        XCTAssertEqual(answer(&d, 2, after: 0.1), [])
        d.advance(seconds: 0.5)
        let sent = d.timer()
        XCTAssertEqual(sent.toClient, Frames.response(1, bodyBytes: 7) + Frames.response(2, bodyBytes: 7))
        XCTAssertTrue(sent.has(.resumeBroker))
    }

    func testIdleDeadlineComesBackAfterTheAnswer() {
        var d = MachineDriver(idleSeconds: 30)
        d.relaying()
        _ = answer(&d, 1, after: 0.5)
        d.advance(seconds: 0.5)
        let sent = d.timer()
        XCTAssertTrue(sent.has(.schedule(d.now + 30 * MachineDriver.second)), "\(sent)")
    }

    func testDrainDeliversTheAnswerThenCloses() {
        var d = MachineDriver()
        d.relaying()
        _ = answer(&d, 1, after: 0.5)
        d.machine.drainRequested(timeoutSeconds: 5, nowNanos: d.now)
        let draining = d.drain()
        XCTAssertNil(draining.closeReason, "the answer is still owed")
        XCTAssertTrue(draining.has(.schedule(d.now + 500_000_000)), "the answer's time, not the drain's: \(draining)")
        d.advance(seconds: 0.5)
        let done = d.timer()
        XCTAssertEqual(done.toClient, Frames.response(1, bodyBytes: 7))
        XCTAssertEqual(done.closeReason, .drained)
    }

    func testMoveWaitsForTheAnswerThenRedials() {
        var d = MachineDriver()
        d.relaying()
        _ = answer(&d, 1, after: 0.3)
        d.machine.moveRequested(settings: MachineDriver.settings(cluster: "dr"), policy: FakePolicy(),
                                timeoutSeconds: 5, nowNanos: d.now)
        XCTAssertFalse(d.drain().has(.closeBroker))
        d.advance(seconds: 0.3)
        let moved = d.timer()
        XCTAssertEqual(moved.toClient, Frames.response(1, bodyBytes: 7))
        XCTAssertTrue(moved.has(.closeBroker))
        XCTAssertEqual(d.machine.state, .resolving)
    }
}
