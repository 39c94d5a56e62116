import Logging
import ProxyCore
import Synchronization

/// What every connection shares: the running config, the broker directory, metrics.
final class ProxyContext: Sendable {
    let logger: Logger
    let metrics: ProxyMetrics
    let directory: BrokerDirectory
    let rewriter: ResponseRewriter
    let sessions: SessionRegistry
    let connectTimeoutSeconds = 10
    private let currentConfig: Mutex<ProxyConfig>

    init(config: ProxyConfig, logger: Logger, metrics: ProxyMetrics, directory: BrokerDirectory) {
        self.logger = logger
        self.metrics = metrics
        self.directory = directory
        self.currentConfig = Mutex(config)
        rewriter = ResponseRewriter(advertisedHost: config.listener.advertisedHost)
        sessions = SessionRegistry()
    }

    var config: ProxyConfig { currentConfig.withLock { $0 } }

    func sessionClosed(_ session: ProxySession) {
        sessions.remove(session)
        metrics.connectionsActive.decrement()
    }
}

/// Every open client connection, for limits, drain and /status.
final class SessionRegistry: Sendable {
    private let sessions = Mutex<[UInt64: ProxySession]>([:])
    private let nextId = Atomic<UInt64>(1)
    private let accepted = Atomic<UInt64>(0)

    func makeId() -> UInt64 { nextId.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Adds the session unless `limit` sessions are open already.
    func add(_ session: ProxySession, limit: Int) -> Bool {
        let added = sessions.withLock { sessions in
            guard sessions.count < limit else { return false }
            sessions[session.id] = session
            return true
        }
        if added { accepted.add(1, ordering: .relaxed) }
        return added
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
