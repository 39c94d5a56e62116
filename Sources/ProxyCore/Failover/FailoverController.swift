/// Decides which cluster is active. Pure: callers feed it probe results and applied configs with
/// a monotonic clock, and it answers with the switch to make (if any); the caller performs it.
///
/// Rules: an edit of `activeCluster` always wins (the operator's word); in automatic mode an
/// active cluster that fails its probes for `unhealthyAfterSeconds` is left for the first healthy
/// cluster in preference order; with automatic failback, a cluster left that way is returned to
/// once the preferred cluster has been healthy for `failbackAfterSeconds`. A cluster the operator
/// chose is never failed back from.
public struct FailoverController: Sendable {
    public enum Reason: String, Sendable, Equatable {
        case config, unhealthy, failback
    }

    public struct Switch: Sendable, Equatable {
        public var from: String
        public var to: String
        public var reason: Reason
    }

    struct Health: Sendable, Equatable {
        var healthy: Bool
        /// When the current state (healthy or not) began.
        var sinceNanos: UInt64
    }

    public private(set) var active: String
    private var configuredActive: String
    private var settings: ProxyConfig.Failover
    private var preference: [String]
    private var health: [String: Health] = [:]
    /// True when health checks, not the operator, picked the active cluster.
    private var chosenAutomatically = false

    public init(config: ProxyConfig) {
        active = config.activeCluster
        configuredActive = config.activeCluster
        settings = config.failover
        preference = config.clusterPreference
    }

    /// nil until the first probe: unknown clusters are neither failed from nor failed to.
    public func isHealthy(_ cluster: String) -> Bool? { health[cluster]?.healthy }

    /// A reloaded config took effect.
    public mutating func configApplied(_ config: ProxyConfig) -> Switch? {
        settings = config.failover
        preference = config.clusterPreference
        health = health.filter { preference.contains($0.key) }
        let edited = config.activeCluster != configuredActive
        configuredActive = config.activeCluster
        if edited || !preference.contains(active) {
            return switchTo(config.activeCluster, reason: .config, automatic: false)
        }
        return nil
    }

    /// `startedNanos`: when the probe behind the result began. A cluster that fails is counted as
    /// failing from then (it has not answered since), so a probe that has to time out does not
    /// add its timeout to `unhealthyAfterSeconds`; recovery counts from the answer.
    public mutating func probed(cluster: String, ok: Bool, nowNanos: UInt64, startedNanos: UInt64? = nil) -> Switch? {
        guard preference.contains(cluster) else { return nil }
        if health[cluster]?.healthy != ok {
            health[cluster] = Health(healthy: ok, sinceNanos: ok ? nowNanos : min(startedNanos ?? nowNanos, nowNanos))
        }
        guard settings.mode == .automatic else { return nil }

        if let state = health[active], !state.healthy,
           nowNanos &- state.sinceNanos >= Self.nanos(settings.unhealthyAfterSeconds),
           let next = preference.first(where: { $0 != active && health[$0]?.healthy == true }) {
            return switchTo(next, reason: .unhealthy, automatic: true)
        }
        if settings.failback == .automatic, chosenAutomatically,
           let preferred = preference.first, preferred != active,
           let state = health[preferred], state.healthy,
           nowNanos &- state.sinceNanos >= Self.nanos(settings.failbackAfterSeconds) {
            return switchTo(preferred, reason: .failback, automatic: preferred != configuredActive)
        }
        return nil
    }

    private mutating func switchTo(_ cluster: String, reason: Reason, automatic: Bool) -> Switch? {
        chosenAutomatically = automatic
        guard cluster != active else { return nil }
        let change = Switch(from: active, to: cluster, reason: reason)
        active = cluster
        return change
    }

    private static func nanos(_ seconds: Int) -> UInt64 { UInt64(seconds) * 1_000_000_000 }
}
