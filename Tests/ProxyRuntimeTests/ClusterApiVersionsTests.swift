import ProxyCore
@testable import ProxyRuntime
import XCTest

final class ClusterApiVersionsTests: XCTestCase {
    func testLimitsNameTheOtherConfiguredClustersKnownRanges() {
        let store = ClusterApiVersions()
        let primary = ApiVersionRanges([0: 0...11])
        let dr = ApiVersionRanges([0: 3...9])
        store.record(cluster: "primary", primary)
        store.record(cluster: "dr", dr)
        store.record(cluster: "gone", ApiVersionRanges([:]))

        XCTAssertEqual(store.limits(answeredBy: "primary", configured: ["primary", "dr"]),
                       ApiVersionsLimits(otherClusters: [dr], configuredClusters: 2))
        XCTAssertEqual(store.limits(answeredBy: "dr", configured: ["primary", "dr", "never-probed"]),
                       ApiVersionsLimits(otherClusters: [primary], configuredClusters: 3),
                       "a cluster without known ranges counts as configured but restricts nothing")
    }

    func testTheNewestAnswerWinsAndForgettingRemovesIt() {
        let store = ClusterApiVersions()
        store.record(cluster: "dr", ApiVersionRanges([0: 0...7]))
        store.record(cluster: "dr", ApiVersionRanges([0: 0...9]))
        XCTAssertEqual(store.ranges(of: "dr"), ApiVersionRanges([0: 0...9]), "an upgrade replaces the ranges")
        store.forget(cluster: "dr")
        XCTAssertNil(store.ranges(of: "dr"))
        XCTAssertEqual(store.limits(answeredBy: "primary", configured: ["primary", "dr"]).otherClusters, [])
    }
}
