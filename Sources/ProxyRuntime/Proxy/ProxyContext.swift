import Logging
import ProxyCore
import Synchronization

/// The config in force and the cluster traffic goes to. The active cluster can differ from the
/// file's `activeCluster` in automatic failover mode.
struct RunningConfig: Sendable {
    var config: ProxyConfig
    var activeCluster: String
    /// Incremented by every config applied; 1 for the config the process started with.
    var generation: Int
    /// What the config was read from, comparable across processes (see `ConfigDigest`).
    var digest: ConfigDigest
    /// The newest reload attempt, nil before the first. Kept here, with what the reload changed, so
    /// every reader sees a reload's results together or not at all.
    var lastReload: ProxyServer.ReloadRecord?
    /// The newest switch of the active cluster, set with `activeCluster`.
    var lastSwitch: ProxyServer.SwitchRecord?

    var active: ProxyConfig.Cluster { config.cluster(named: activeCluster) ?? config.active }

    /// Leader epochs of one cluster mean nothing on another, so they are hidden from clients whenever
    /// the proxy might move them (see EndpointRewriting.rewriteResponse).
    var hidesLeaderEpochs: Bool { config.clusters.count > 1 }
}

/// What every connection shares: the running config, the broker directory, metrics.
final class ProxyContext: Sendable {
    let logger: Logger
    let metrics: ProxyMetrics
    let directory: BrokerDirectory
    let rewriter: ResponseRewriter
    let sessions: SessionRegistry
    let producerIds = ProducerIdRegistry()
    let groups = GroupMembers()
    /// Each cluster's ApiVersions ranges, as its probe learned them.
    let apiVersions = ClusterApiVersions()
    /// Listener and per-cluster TLS material, reloaded when its files change.
    let tls: TLSMaterials
    let connectTimeoutSeconds = 10
    /// Repeats of the same error (per cluster and reason) are logged as a count, not line by line.
    let repeatedErrors: RepeatedErrorLog
    /// `logging.protocol`: a line per request and response.
    let protocolTrace: ProtocolTrace
    private let state: Locked<RunningConfig>

    init(config: ProxyConfig, digest: ConfigDigest, logger: Logger, metrics: ProxyMetrics, directory: BrokerDirectory) {
        self.logger = logger
        self.metrics = metrics
        self.directory = directory
        state = Locked(RunningConfig(config: config, activeCluster: config.activeCluster, generation: 1,
                                    digest: digest, lastReload: nil, lastSwitch: nil))
        rewriter = ResponseRewriter(advertisedHost: config.listener.advertisedHost)
        sessions = SessionRegistry()
        tls = TLSMaterials(logger: logger)
        repeatedErrors = RepeatedErrorLog(logger: logger)
        protocolTrace = ProtocolTrace(config.logging)
    }

    var running: RunningConfig { state.withLock { $0 } }
    var config: ProxyConfig { state.withLock { $0.config } }

    func update(_ body: (inout RunningConfig) -> Void) {
        state.withLock { body(&$0) }
    }

    func sessionClosed(_ session: ProxySession) {
        sessions.remove(session)
        metrics.connectionsActive.decrement()
    }
}

/// Every open client connection, for limits, drain and /status.
final class SessionRegistry: Sendable {
    private let sessions = Locked<[UInt64: ProxySession]>([:])
    private let nextId = Atomic<UInt64>(1)
    private let accepted = Atomic<UInt64>(0)

    func makeId() -> UInt64 { nextId.wrappingAdd(1, ordering: .relaxed).oldValue }

    func add(_ session: ProxySession) {
        sessions.withLock { $0[session.id] = session }
        accepted.add(1, ordering: .relaxed)
    }

    func remove(_ session: ProxySession) {
        _ = sessions.withLock { $0.removeValue(forKey: session.id) }
    }

    var count: Int { sessions.withLock { $0.count } }
    var totalAccepted: UInt64 { accepted.load(ordering: .relaxed) }

    var all: [ProxySession] { sessions.withLock { Array($0.values) } }

    var countsByRoute: (bootstrap: Int, broker: Int) {
        sessions.withLock { sessions in
            var bootstrap = 0
            for session in sessions.values { if case .bootstrap = session.route { bootstrap += 1 } }
            return (bootstrap, sessions.count - bootstrap)
        }
    }
}
