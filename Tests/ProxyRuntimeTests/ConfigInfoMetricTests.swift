import Prometheus
@testable import ProxyRuntime
import ProxyCore
import XCTest

final class ConfigInfoMetricTests: XCTestCase {
    private func series(_ registry: PrometheusCollectorRegistry, _ name: String) -> [String] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }.map(String.init)
    }

    /// One series per process whatever changes, so `count by (digest, active_cluster)` counts processes.
    func testConfigInfoKeepsExactlyOneSeries() {
        let registry = PrometheusCollectorRegistry()
        let metrics = FailoverMetrics(registry: registry)
        let first = ConfigDigest(of: Array("a".utf8)), second = ConfigDigest(of: Array("b".utf8))

        metrics.setConfigInfo(digest: first, activeCluster: "primary")
        XCTAssertEqual(series(registry, "kafka_proxy_config_info"),
                       [#"kafka_proxy_config_info{digest="\#(first.hex)",active_cluster="primary"} 1.0"#])

        metrics.setConfigInfo(digest: first, activeCluster: "primary")
        XCTAssertEqual(series(registry, "kafka_proxy_config_info").count, 1)

        metrics.setConfigInfo(digest: first, activeCluster: "dr")
        XCTAssertEqual(series(registry, "kafka_proxy_config_info"),
                       [#"kafka_proxy_config_info{digest="\#(first.hex)",active_cluster="dr"} 1.0"#])

        metrics.setConfigInfo(digest: second, activeCluster: "dr")
        XCTAssertEqual(series(registry, "kafka_proxy_config_info"),
                       [#"kafka_proxy_config_info{digest="\#(second.hex)",active_cluster="dr"} 1.0"#])

        // Back to an earlier pair: a fresh series again, not a second one.
        metrics.setConfigInfo(digest: first, activeCluster: "primary")
        XCTAssertEqual(series(registry, "kafka_proxy_config_info"),
                       [#"kafka_proxy_config_info{digest="\#(first.hex)",active_cluster="primary"} 1.0"#])
    }

    func testBuildInfoCarriesVersionAndCommit() {
        let registry = PrometheusCollectorRegistry()
        _ = ProxyMetrics(registry: registry)
        XCTAssertEqual(series(registry, "kafka_proxy_build_info"),
                       [#"kafka_proxy_build_info{version="\#(BuildInfo.version)",commit="\#(BuildInfo.commit)"} 1.0"#])
    }

    func testCommitOutsideTheCommitAlphabetBecomesUnknown() {
        XCTAssertEqual(BuildInfo.sanitized("1fbece5d2a4e"), "1fbece5d2a4e")
        XCTAssertEqual(BuildInfo.sanitized("1fbece5d2a4e-dirty"), "1fbece5d2a4e-dirty")
        XCTAssertEqual(BuildInfo.sanitized(""), "unknown")
        XCTAssertEqual(BuildInfo.sanitized("abc\"} 1\nevil"), "unknown")
        XCTAssertEqual(BuildInfo.sanitized(String(repeating: "a", count: 65)), "unknown")
    }
}
