import Dispatch
import Logging
import ProxyCore
import ProxyTLS
import Synchronization

/// The proxy's TLS material: one store for the listeners and one per TLS cluster, each rebuilt
/// when its files change (polled every `pollSeconds`). New connections take the current context;
/// existing ones keep the context their engine was made from.
final class TLSMaterials: Sendable {
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    private struct State {
        var listener: TLSMaterialStore?
        var clusters: [String: TLSMaterialStore] = [:]
        var timer: (any DispatchSourceTimer)?
    }

    private let logger: Logger
    private let pollSeconds: Int
    private let queue = DispatchQueue(label: "kafka-proxy.tls-watch")
    private let state = Locked<State>(State())

    init(logger: Logger, pollSeconds: Int = 2) {
        self.logger = logger
        self.pollSeconds = pollSeconds
    }

    /// Loads the material of `config` (at start and on every config change). Unusable listener
    /// material or unusable material of the active cluster is an error; other clusters' problems
    /// are logged and retried when their files change. Warns about `insecureSkipVerify` every time.
    func apply(_ config: ProxyConfig) throws(LoadError) {
        var listenerStore: TLSMaterialStore?
        if let tls = config.listener.tls {
            let configuration = TLSConfiguration.server(tls)
            if let existing = state.withLock({ $0.listener }), existing.configuration == configuration {
                listenerStore = existing
            } else {
                do throws(TLSError) {
                    listenerStore = try TLSMaterialStore(configuration: configuration)
                } catch {
                    throw LoadError(description: "listener.tls: \(error.message)")
                }
                logger.info("listener TLS: \(listenerStore!.current.summary)")
            }
        }
        var clusterStores: [String: TLSMaterialStore] = [:]
        let existing = state.withLock { $0.clusters }
        for cluster in config.clusters {
            guard let tls = cluster.enabledTLS else { continue }
            if tls.insecureSkipVerify {
                logger.warning("clusters.\(cluster.name).tls.insecureSkipVerify is true: broker certificates and hostnames are NOT verified; anyone on the network path can impersonate cluster \(cluster.name). Use only for testing.")
            }
            let configuration = TLSConfiguration.client(tls)
            if let store = existing[cluster.name], store.configuration == configuration {
                clusterStores[cluster.name] = store
                continue
            }
            do throws(TLSError) {
                let store = try TLSMaterialStore(configuration: configuration)
                clusterStores[cluster.name] = store
                logger.info("cluster \(cluster.name) TLS: \(store.current.summary)")
            } catch {
                if cluster.name == config.activeCluster {
                    throw LoadError(description: "clusters.\(cluster.name).tls: \(error.message)")
                }
                logger.error("clusters.\(cluster.name).tls: \(error.message); connections to \(cluster.name) will fail until this is fixed")
            }
        }
        state.withLock {
            $0.listener = listenerStore
            $0.clusters = clusterStores
        }
        startWatching()
    }

    /// A server engine for an accepted client connection; nil when the listeners are plain TCP.
    func serverEngine() throws(TLSError) -> TLSEngine? {
        guard let store = state.withLock({ $0.listener }) else { return nil }
        return try store.makeEngine()
    }

    var listenerUsesTLS: Bool { state.withLock { $0.listener != nil } }

    /// A client engine for dialling `host` of `cluster`; nil when the cluster is plain TCP.
    func clientEngine(cluster: ProxyConfig.Cluster, host: String) throws(TLSError) -> TLSEngine? {
        guard let tls = cluster.enabledTLS else { return nil }
        let configuration = TLSConfiguration.client(tls)
        var store = state.withLock { $0.clusters[cluster.name] }
        if store == nil || store?.configuration != configuration {
            // Material that failed at load (or a cluster added since): try again now.
            let fresh = try TLSMaterialStore(configuration: configuration)
            state.withLock { $0.clusters[cluster.name] = fresh }
            store = fresh
        }
        return try store!.makeEngine(serverName: host)
    }

    func stop() {
        let timer = state.withLock { state in
            defer { state.timer = nil }
            return state.timer
        }
        timer?.cancel()
    }

    private func startWatching() {
        state.withLock { state in
            guard state.timer == nil else { return }
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [weak self] in self?.poll() }
            timer.schedule(deadline: .now() + .seconds(pollSeconds), repeating: .seconds(pollSeconds),
                           leeway: .milliseconds(200))
            timer.activate()
            state.timer = timer
        }
    }

    private func poll() {
        let (listener, clusters) = state.withLock { ($0.listener, $0.clusters) }
        if let listener { report(listener.reloadIfChanged(), what: "listener TLS", key: "listener.tls") }
        for (name, store) in clusters.sorted(by: { $0.key < $1.key }) {
            report(store.reloadIfChanged(), what: "cluster \(name) TLS", key: "clusters.\(name).tls")
        }
    }

    private func report(_ outcome: TLSMaterialStore.ReloadOutcome, what: String, key: String) {
        switch outcome {
        case .unchanged:
            break
        case .reloaded(let context):
            logger.info("\(what) material changed, new connections use it: \(context.summary)")
        case .failed(let error):
            logger.error("\(key): the changed files are unusable, keeping the previous material: \(error.message)")
        }
    }
}

/// The host part of "host:port" / "[v6]:port", for SNI and hostname verification.
func hostOf(_ endpoint: String) -> String {
    if let parsed = try? ProxyConfig.HostPort(parsing: endpoint) { return parsed.host }
    return endpoint
}
