import KafkaProtocol
@testable import ProxyCore
import XCTest

/// A switch that keeps the client connection: responses in flight first, then the same route on the
/// new cluster underneath, and the client's requests in order.
final class ConnectionMachineMoveTests: XCTestCase {
    private func move(_ d: inout MachineDriver, to cluster: String = "dr", login: String? = nil,
                      policy: FakePolicy = FakePolicy()) -> [Recorded] {
        d.machine.moveRequested(settings: MachineDriver.settings(cluster: cluster, login: login), policy: policy,
                                timeoutSeconds: 5, nowNanos: d.now)
        return d.drain()
    }

    func testMoveWithNothingInFlightRedialsAtOnceAndKeepsTheClient() {
        var d = MachineDriver()
        d.relaying()
        let actions = move(&d)
        XCTAssertTrue(actions.has(.pauseClient))
        XCTAssertTrue(actions.has(.closeBroker))
        XCTAssertTrue(actions.has(.resolve))
        XCTAssertNil(actions.closeReason, "the client connection stays")
        XCTAssertEqual(d.machine.state, .resolving)
        XCTAssertEqual(d.machine.settings.cluster, "dr")
        d.machine.resolved(["dr-0:9092"], lastError: "")
        XCTAssertEqual(d.drain(), [.dial(0)])
        d.machine.connected(nowNanos: d.now)
        let resumed = d.drain()
        XCTAssertTrue(resumed.has(.resumeClient))
        XCTAssertEqual(d.machine.state, .relaying(.none))
        XCTAssertEqual(d.machine.upstreamName, "dr-0:9092")
        // Requests now go to the new broker, whole frames (producers may need translating).
        XCTAssertEqual(d.client(Frames.produce(9)).toBroker, Frames.produce(9))
        XCTAssertEqual(d.broker(Frames.response(9)).toClient, Frames.response(9))
    }

    func testMoveWaitsForTheResponsesInFlightAndKeepsWhatTheClientSendsMeanwhile() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1) + Frames.produce(2))
        let started = move(&d)
        XCTAssertFalse(started.has(.closeBroker), "not while responses are in flight")
        // A request that was already on its way from the client is kept, not lost, not sent to the old broker.
        XCTAssertEqual(d.client(Frames.produce(3)).toBroker, [])
        XCTAssertEqual(d.broker(Frames.response(1)).toClient, Frames.response(1))
        let last = d.broker(Frames.response(2))
        XCTAssertEqual(last.toClient, Frames.response(2))
        XCTAssertTrue(last.has(.closeBroker))
        d.machine.resolved(["dr-0:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        let resumed = d.drain()
        XCTAssertEqual(resumed.toBroker, Frames.produce(3), "the kept request goes to the new broker first")
        XCTAssertTrue(resumed.has(.resumeClient))
        XCTAssertEqual(d.broker(Frames.response(3)).toClient, Frames.response(3))
    }

    func testMoveDeadlineClosesAConnectionStillWaiting() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1))
        _ = move(&d)
        d.advance(seconds: 5)
        XCTAssertEqual(d.timer().closeReason, .drainTimeout(outstanding: 1))
    }

    func testMoveToASASLClusterLogsInBeforeResuming() {
        var d = MachineDriver()
        d.relaying()
        _ = move(&d, login: "PLAIN")
        d.machine.resolved(["dr-0:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        let connected = d.drain()
        XCTAssertTrue(connected.has(.startLogin(reauthentication: false)))
        XCTAssertFalse(connected.has(.resumeClient))
        XCTAssertEqual(d.machine.state, .authenticating)
        d.machine.loginSucceeded(sessionLifetimeMs: 0, nowNanos: d.now)
        XCTAssertTrue(d.drain().has(.resumeClient))
    }

    func testMovedProducerGetsAProducerIdOfTheNewCluster() throws {
        let policy = FakePolicy()
        var d = MachineDriver()
        d.relaying()
        _ = move(&d, policy: policy)
        d.machine.resolved(["dr-0:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        _ = d.drain()
        policy.markForeign(7)
        let sent = d.client(Frames.idempotentProduce(1, producerId: 7, sequence: 100))
        XCTAssertTrue(sent.has(.producerMoved(7)), "translation is on after a move even if it was off before")
    }

    func testNewBrokerUnreachableClosesWithTheReason() {
        var d = MachineDriver()
        d.relaying()
        _ = move(&d)
        d.machine.resolved(["dr-0:9092"], lastError: "")
        d.machine.connectFailed("dr-0:9092: connection refused")
        XCTAssertEqual(d.drain().closeReason?.metricLabel, "upstream_unreachable")
    }

    func testShutdownWhileMovingDeliversTheResponsesThenCloses() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1))
        _ = move(&d)
        d.machine.drainRequested(timeoutSeconds: 2, nowNanos: d.now)
        _ = d.drain()
        XCTAssertEqual(d.broker(Frames.response(1)).closeReason, .drained)
    }

    func testAwayFromAnUnansweringClusterAConnectionWithRequestsOutstandingClosesAtOnce() {
        var d = MachineDriver()
        d.relaying()
        _ = d.client(Frames.produce(1))
        d.machine.moveRequested(settings: MachineDriver.settings(cluster: "dr"), policy: FakePolicy(), timeoutSeconds: 5,
                                awaitsResponses: false, nowNanos: d.now)
        let reason = d.drain().closeReason
        XCTAssertEqual(reason, .clusterUnhealthy(cluster: "primary", outstanding: 1))
        XCTAssertEqual(reason?.metricLabel, "cluster_unhealthy")

        var idle = MachineDriver()
        idle.relaying()
        idle.machine.moveRequested(settings: MachineDriver.settings(cluster: "dr"), policy: FakePolicy(), timeoutSeconds: 5,
                                   awaitsResponses: false, nowNanos: idle.now)
        XCTAssertTrue(idle.drain().has(.closeBroker), "one with nothing outstanding is moved")
    }

    func testAMoveWhileConnectingClosesSoTheClientReconnects() {
        var d = MachineDriver()
        d.machine.start(nowNanos: d.now)
        _ = d.drain()
        XCTAssertEqual(move(&d), [.close(.drainedWhileConnecting)])
    }
}
