import Prometheus
import ProxyCore
import Synchronization

/// Metrics of reloads and cluster switches; all cold paths.
final class FailoverMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let reloadsOK: Counter
    private let reloadsFailed: Counter
    private let configInfo = Locked<ConfigInfoSeries?>(nil)

    private struct ConfigInfoSeries {
        var digest: ConfigDigest
        var activeCluster: String
        var gauge: Gauge
    }

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        let name = ProxyMetrics.name("config_reloads", "total", "Config file reloads, by result")
        reloadsOK = registry.makeCounter(descriptor: name, labels: [("result", "success")])
        reloadsFailed = registry.makeCounter(descriptor: name, labels: [("result", "error")])
    }

    func reloads(ok: Bool) {
        (ok ? reloadsOK : reloadsFailed).increment()
    }

    func setActive(_ active: String, among clusters: [String]) {
        let name = ProxyMetrics.name("active_cluster", "", "1 for the cluster traffic goes to, 0 for the others")
        for cluster in clusters {
            registry.makeGauge(descriptor: name, labels: [("cluster", cluster)]).set(Int64(cluster == active ? 1 : 0))
        }
    }

    /// `kafka_proxy_config_info{digest,active_cluster} 1`: exactly one series per process, so that
    /// `count by (digest, active_cluster) (kafka_proxy_config_info)` counts processes. The old series
    /// is removed, not set to 0, when either label changes.
    func setConfigInfo(digest: ConfigDigest, activeCluster: String) {
        configInfo.withLock { current in
            if let current, current.digest == digest, current.activeCluster == activeCluster { return }
            if let old = current?.gauge { registry.unregisterGauge(old) }
            let gauge = registry.makeGauge(descriptor: ProxyMetrics.name("config_info", "",
                "1, labelled with the digest (SHA-256) of the config file in force and the cluster traffic goes to"),
                labels: [("digest", digest.hex), ("active_cluster", activeCluster)])
            gauge.set(Int64(1))
            current = ConfigInfoSeries(digest: digest, activeCluster: activeCluster, gauge: gauge)
        }
    }

    func setHealthy(_ cluster: String, _ healthy: Bool) {
        registry.makeGauge(descriptor: ProxyMetrics.name("cluster_healthy", "", "1 when the newest probe of the cluster succeeded"),
                           labels: [("cluster", cluster)]).set(Int64(healthy ? 1 : 0))
    }

    func switched(_ change: FailoverController.Switch, clusters: [String]) {
        registry.makeCounter(descriptor: ProxyMetrics.name("failovers", "total", "Active cluster switches, by reason"),
                             labels: [("from", change.from), ("to", change.to), ("reason", change.reason.rawValue)]).increment()
        setActive(change.to, among: clusters)
    }
}
