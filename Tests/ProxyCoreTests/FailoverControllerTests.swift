@testable import ProxyCore
import XCTest

final class FailoverControllerTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    private func config(active: String = "primary", mode: ProxyConfig.FailoverMode = .automatic,
                        failback: ProxyConfig.FailbackMode = .automatic) -> ProxyConfig {
        var failover = ProxyConfig.Failover()
        failover.mode = mode
        failover.failback = failback
        failover.unhealthyAfterSeconds = 10
        failover.failbackAfterSeconds = 30
        let server = ProxyConfig.HostPort(host: "h", port: 9092)
        return ProxyConfig(listener: ProxyConfig.Listener(), activeCluster: active,
                           clusters: [.init(name: "primary", bootstrapServers: [server]),
                                      .init(name: "dr", bootstrapServers: [server])],
                           failover: failover)
    }

    func testAnEditOfActiveClusterAlwaysSwitches() {
        var controller = FailoverController(config: config(mode: .manual))
        XCTAssertEqual(controller.configApplied(config(active: "dr", mode: .manual)),
                       .init(from: "primary", to: "dr", reason: .config))
        XCTAssertNil(controller.configApplied(config(active: "dr", mode: .manual)), "same file again")
        XCTAssertEqual(controller.active, "dr")
    }

    func testManualModeIgnoresHealth() {
        var controller = FailoverController(config: config(mode: .manual))
        XCTAssertNil(controller.probed(cluster: "dr", ok: true, nowNanos: 0))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 0))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 60 * second))
    }

    func testUnhealthyLongEnoughFailsOverThenFailsBack() {
        var controller = FailoverController(config: config())
        XCTAssertNil(controller.probed(cluster: "dr", ok: true, nowNanos: 0))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 1 * second))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 10 * second), "9 s is not yet 10")
        XCTAssertEqual(controller.probed(cluster: "primary", ok: false, nowNanos: 11 * second),
                       .init(from: "primary", to: "dr", reason: .unhealthy))
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 20 * second))
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 49 * second), "29 s is not yet 30")
        XCTAssertEqual(controller.probed(cluster: "primary", ok: true, nowNanos: 50 * second),
                       .init(from: "dr", to: "primary", reason: .failback))
    }

    func testAFailingClusterCountsFromTheProbeThatFirstGotNoAnswer() {
        // A black-holed cluster: each probe waits out its 3 s timeout. It has not answered since the
        // first of them began (at 1 s), so 10 s of failure are over at 11 s, not 10 s after that
        // probe's timeout.
        var controller = FailoverController(config: config())
        XCTAssertNil(controller.probed(cluster: "dr", ok: true, nowNanos: 0))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 4 * second, startedNanos: 1 * second))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 7 * second, startedNanos: 4 * second))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 10 * second, startedNanos: 7 * second))
        XCTAssertEqual(controller.probed(cluster: "primary", ok: false, nowNanos: 13 * second, startedNanos: 10 * second),
                       .init(from: "primary", to: "dr", reason: .unhealthy))
        // Healthy again counts from the answer, not from when the probe was sent.
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 20 * second, startedNanos: 19 * second))
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 49 * second, startedNanos: 48 * second))
        XCTAssertEqual(controller.probed(cluster: "primary", ok: true, nowNanos: 50 * second, startedNanos: 49 * second)?.to,
                       "primary")
    }

    func testNoFailoverToAnUnhealthyCluster() {
        var controller = FailoverController(config: config())
        XCTAssertNil(controller.probed(cluster: "dr", ok: false, nowNanos: 0))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 0))
        XCTAssertNil(controller.probed(cluster: "primary", ok: false, nowNanos: 60 * second))
        XCTAssertEqual(controller.probed(cluster: "dr", ok: true, nowNanos: 61 * second)?.to, "dr")
    }

    func testNoAutomaticFailbackFromAClusterTheOperatorChose() {
        var controller = FailoverController(config: config())
        XCTAssertNotNil(controller.configApplied(config(active: "dr")))
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 0))
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 600 * second))
    }

    func testManualFailbackStaysOnTheFailoverCluster() {
        var controller = FailoverController(config: config(failback: .manual))
        _ = controller.probed(cluster: "dr", ok: true, nowNanos: 0)
        _ = controller.probed(cluster: "primary", ok: false, nowNanos: 0)
        XCTAssertEqual(controller.probed(cluster: "primary", ok: false, nowNanos: 20 * second)?.to, "dr")
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 21 * second))
        XCTAssertNil(controller.probed(cluster: "primary", ok: true, nowNanos: 900 * second))
    }
}
