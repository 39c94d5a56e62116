#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import KafkaProtocol
import Logging
import Prometheus
import ProxyCore
import Synchronization

/// The running proxy: the bootstrap listener, per-broker listeners (through the directory),
/// the admin endpoint and the active-cluster probe, wired to the connections they accept.
public final class ProxyServer: Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    let context: ProxyContext
    let group: EventLoopGroup
    let loopMetrics: [LoopMetrics]
    let probe: ClusterProbe
    private let acceptQueue = DispatchQueue(label: "kafka-proxy.accept")
    private let bindAddress: SocketAddress
    private let state = Mutex<State>(State())
    private let rejectLog = Mutex<UInt64>(0)

    private struct State {
        var bootstrapListener: Listener?
        var admin: AdminServer?
        var stopping = false
    }

    public init(config: ProxyConfig, logger: Logger, registry: PrometheusCollectorRegistry,
                loops: Int = ProcessInfoShim.activeProcessorCount) throws(StartError) {
        let metrics = ProxyMetrics(registry: registry)
        let group = EventLoopGroup(count: loops)
        self.group = group
        loopMetrics = group.loops.map { _ in LoopMetrics(metrics: metrics) }
        do {
            bindAddress = try SocketAddress.resolve(host: config.listener.host, port: 0, passive: true)[0]
        } catch {
            throw StartError(description: "listener.host: \(error)")
        }

        // The directory starts broker listeners lazily; they accept into `admit`, which needs
        // `self`: route through a box filled in once init is done.
        let admitBox = AdmitBox()
        let bindAddress = self.bindAddress
        let acceptQueue = self.acceptQueue
        let directory = BrokerDirectory(
            portRange: config.listener.brokerPorts,
            startListener: { port, nodeId throws(ListenError) in
                var address = bindAddress
                address.port = port
                let listener = try Listener(address: address, queue: acceptQueue,
                    onAccept: { fd, peer in admitBox.admit?(fd, peer, .broker(nodeId: nodeId)) },
                    onError: { error in logger.error("accept on broker port \(port) failed: \(error)") })
                logger.info("listening for broker \(nodeId) on \(address)")
                return listener
            },
            onListenerFailure: { error in logger.warning("\(error); trying the next port of listener.brokerPorts") })
        context = ProxyContext(config: config, logger: logger, metrics: metrics, directory: directory)
        probe = ClusterProbe(logger: logger)
        admitBox.admit = { [weak self] fd, peer, route in self?.admit(fd: fd, peer: peer, route: route) }
    }

    /// Binds the bootstrap and admin listeners and starts probing the active cluster.
    public func start() throws(StartError) {
        let config = context.config
        var address = bindAddress
        address.port = config.listener.bootstrapPort
        let logger = context.logger
        let bootstrap: Listener
        do {
            bootstrap = try Listener(address: address, queue: acceptQueue,
                onAccept: { [weak self] fd, peer in self?.admit(fd: fd, peer: peer, route: .bootstrap) },
                onError: { error in logger.error("accept on bootstrap port failed: \(error)") })
        } catch {
            throw StartError(description: "listener.bootstrapPort: \(error)")
        }
        let admin: AdminServer
        do {
            admin = try AdminServer(listen: config.admin.listen, server: self)
        } catch {
            bootstrap.close()
            throw StartError(description: "admin.listen: \(error)")
        }
        state.withLock {
            $0.bootstrapListener = bootstrap
            $0.admin = admin
        }
        logger.info("listening for clients on \(address), cluster \(config.activeCluster) at \(config.active.bootstrapServers.map(\.description).joined(separator: ","))")
        logger.info("admin endpoint on http://\(config.admin.listen)")
        probe.start(cluster: config.active)
    }

    private func admit(fd: Int32, peer: SocketAddress, route: Route) {
        let config = context.config
        if state.withLock({ $0.stopping }) {
            Glibc.close(fd)
            return
        }
        guard context.sessions.count < config.limits.maxConnections else {
            Glibc.close(fd)
            context.metrics.connectionsRejected.increment()
            logRejection(limit: config.limits.maxConnections)
            return
        }
        let loop = group.nextLoop()
        let session = ProxySession(id: context.sessions.makeId(), fd: fd, clientAddress: peer, route: route,
                                   loop: loop, loopMetrics: loopMetrics[loop.index], context: context,
                                   limits: config.limits)
        // Only this queue adds sessions, so the count checked above cannot have grown.
        _ = context.sessions.add(session, limit: Int.max)
        context.metrics.connectionsTotal.increment()
        context.metrics.connectionsActive.increment()
        let upstreams = upstreams(for: route, config: config)
        session.queue.async { session.start(upstreams: upstreams) }
    }

    private func upstreams(for route: Route, config: ProxyConfig) -> [ProxyConfig.HostPort] {
        switch route {
        case .broker(let nodeId):
            if let address = context.directory.upstream(forNode: nodeId) { return [address] }
            return config.active.bootstrapServers
        case .bootstrap:
            // Rotate so bootstrap connections spread over the servers and a dead first server is not always tried first.
            let servers = config.active.bootstrapServers
            guard servers.count > 1 else { return servers }
            let start = Int(context.sessions.totalAccepted % UInt64(servers.count))
            return Array(servers[start...] + servers[..<start])
        }
    }

    /// Logs a refused connection at most once every 10 s, however many arrive.
    private func logRejection(limit: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        let shouldLog = rejectLog.withLock { last in
            guard now >= last + 10_000_000_000 || last == 0 else { return false }
            last = now
            return true
        }
        if shouldLog {
            context.logger.warning("refusing connections: limits.maxConnections (\(limit)) reached")
        }
    }

    /// Stops accepting, drains every connection (bounded), then calls `completion` on a global queue.
    public func shutdown(drainTimeoutSeconds: Int, completion: @escaping @Sendable () -> Void) {
        let (bootstrap, admin) = state.withLock { state in
            state.stopping = true
            return (state.bootstrapListener, state.admin)
        }
        bootstrap?.close()
        context.directory.closeListeners()
        probe.stop()
        let sessions = context.sessions.all
        context.logger.info("shutting down: draining \(sessions.count) connections (at most \(drainTimeoutSeconds)s)")
        for session in sessions { session.drain(timeoutSeconds: drainTimeoutSeconds) }
        waitForSessions(until: DispatchTime.now() + .seconds(drainTimeoutSeconds + 1)) {
            admin?.close()
            completion()
        }
    }

    private func waitForSessions(until deadline: DispatchTime, then completion: @escaping @Sendable () -> Void) {
        if context.sessions.count == 0 || DispatchTime.now() >= deadline {
            completion()
            return
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) { [self] in
            waitForSessions(until: deadline, then: completion)
        }
    }

    // MARK: observations for the admin endpoint

    var isListening: Bool { state.withLock { $0.bootstrapListener != nil && !$0.stopping } }

    /// Incremented by every config applied; 1 for the config the process started with.
    var configGeneration: Int { 1 }
}

private final class AdmitBox: @unchecked Sendable {
    /// Set once in ProxyServer.init, before any listener exists.
    var admit: (@Sendable (Int32, SocketAddress, Route) -> Void)?
}

/// `ProcessInfo` without importing Foundation into the reactor.
public enum ProcessInfoShim {
    public static var activeProcessorCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }
}
