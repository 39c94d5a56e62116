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
import Reactor
import Synchronization

/// The running proxy: the bootstrap listener, per-broker listeners (through the directory), the
/// admin endpoint, cluster probes, config reloads and cluster switches.
///
/// Reloads, probe results and switches are handled one at a time on `controlQueue`; the decisions
/// come from the pure `FailoverController`, and this type carries them out.
public final class ProxyServer: Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    struct ReloadRecord: Sendable {
        var ok: Bool
        var error: String?
        var restartRequired: [String]
        var atUnixSeconds: Int
    }

    struct SwitchRecord: Sendable {
        var change: FailoverController.Switch
        var atUnixSeconds: Int
    }

    private struct State {
        var bootstrapListener: Listener?
        var admin: AdminServer?
        var stopping = false
        var probes: [String: ClusterProbe] = [:]
        var controller: FailoverController
    }

    let context: ProxyContext
    let group: EventLoopGroup
    let loopMetrics: [LoopMetrics]
    let failoverMetrics: FailoverMetrics
    private let acceptQueue = DispatchQueue(label: "kafka-proxy.accept")
    private let controlQueue = DispatchQueue(label: "kafka-proxy.control")
    private let bindAddress: SocketAddress
    private let state: Locked<State>
    private let rejectLog = Locked<UInt64>(0)
    private let onLoggingChange: @Sendable (ProxyConfig.Logging) -> Void

    /// `digest`: of the file `config` was read from; without a file, of the config's YAML rendering.
    public init(config: ProxyConfig, digest: ConfigDigest? = nil, logger: Logger, registry: PrometheusCollectorRegistry,
                loops: Int = ProcessInfoShim.activeProcessorCount,
                onLoggingChange: @escaping @Sendable (ProxyConfig.Logging) -> Void = { _ in }) throws(StartError) {
        let metrics = ProxyMetrics(registry: registry)
        let group = EventLoopGroup(count: loops)
        self.group = group
        self.onLoggingChange = onLoggingChange
        loopMetrics = group.loops.map { _ in LoopMetrics(metrics: metrics) }
        failoverMetrics = FailoverMetrics(registry: registry)
        state = Locked(State(controller: FailoverController(config: config)))
        do {
            bindAddress = try SocketAddress.resolve(host: config.listener.host, port: 0, passive: true)[0]
        } catch {
            throw StartError(description: "listener.host: \(error)")
        }

        // Broker listeners start lazily and accept into `admit`, which needs `self`: route through
        // a box filled in once init is done.
        let admitBox = AdmitBox()
        let bindAddress = self.bindAddress
        let acceptQueue = self.acceptQueue
        let directory = BrokerDirectory(
            portRange: config.listener.brokerPorts,
            startListener: { port throws(ListenError) in
                var address = bindAddress
                address.port = port
                let listener = try Listener(address: address, queue: acceptQueue,
                    onAccept: { fd, peer in admitBox.admit?(fd, peer, .broker(port: port)) },
                    onError: { error in logger.error("accept on broker port \(port) failed: \(error)") })
                logger.info("listening for broker connections on \(address)")
                return listener
            },
            onListenerFailure: { error in logger.warning("\(error); trying the next port of listener.brokerPorts") })
        context = ProxyContext(config: config, digest: digest ?? ConfigDigest(of: ConfigPrinter.yaml(config).utf8),
                               logger: logger, metrics: metrics, directory: directory)
        admitBox.admit = { [weak self] fd, peer, route in self?.admit(fd: fd, peer: peer, route: route) }
        let sessions = context.sessions
        directory.onNewBroker { cluster, port in
            for session in sessions.all where session.provisionalPort == port {
                session.brokerLearned(cluster: cluster, port: port)
            }
        }
    }

    /// Binds the bootstrap and admin listeners and starts probing the clusters.
    public func start() throws(StartError) {
        let config = context.config
        var address = bindAddress
        address.port = config.listener.bootstrapPort
        let logger = context.logger
        do {
            try context.tls.apply(config)
        } catch {
            throw StartError(description: error.description)
        }
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
        failoverMetrics.setActive(config.activeCluster, among: config.clusters.map(\.name))
        failoverMetrics.setConfigInfo(digest: context.running.digest, activeCluster: config.activeCluster)
        controlQueue.async { [self] in reconcileProbes(config) }
    }

    // MARK: connections

    private func admit(fd: Int32, peer: SocketAddress, route: Route) {
        let running = context.running
        if state.withLock({ $0.stopping }) {
            Glibc.close(fd)
            return
        }
        // Only this (accept) queue adds sessions, so the count cannot grow between check and add.
        guard context.sessions.count < running.config.limits.maxConnections else {
            // Counted before the close: whoever sees the EOF also sees it counted.
            context.metrics.connectionsRejected.increment()
            Glibc.close(fd)
            logRejection(limit: running.config.limits.maxConnections)
            return
        }
        let loop = group.nextLoop()
        let session = ProxySession(id: context.sessions.makeId(), fd: fd, clientAddress: peer, route: route,
                                   cluster: running.activeCluster, hidesLeaderEpochs: running.hidesLeaderEpochs,
                                   loop: loop, loopMetrics: loopMetrics[loop.index], context: context,
                                   limits: running.config.limits)
        let upstreams = upstreams(for: route, running: running)
        if case .broker(let port) = route,
           context.directory.upstream(cluster: running.activeCluster, port: port) == nil {
            // Set before the session is shared, never changed after.
            session.provisionalPort = port
        }
        context.sessions.add(session)
        context.metrics.connectionsTotal.increment()
        context.metrics.connectionsActive.increment()
        session.queue.async { session.start(upstreams: upstreams) }
    }

    private func upstreams(for route: Route, running: RunningConfig) -> [ProxyConfig.HostPort] {
        let servers = running.active.bootstrapServers
        switch route {
        case .broker(let port):
            // The active cluster's broker in this port's slot; a cluster with fewer brokers has
            // none there, and the client, sent to a bootstrap server, learns the current brokers.
            if let (_, address) = context.directory.upstream(cluster: running.activeCluster, port: port) {
                return [address]
            }
            return servers
        case .bootstrap:
            // Rotate so connections spread over the servers and a dead first server is not always tried first.
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

    // MARK: reload

    /// Reads and validates the file, then applies it; a broken file is reported and changes nothing.
    public func reload(path: String, trigger: String) {
        reload(trigger: trigger) { () throws(ConfigErrors) -> LoadedConfig in try ConfigLoader.loadWithDigest(path: path) }
    }

    /// As `reload(path:trigger:)` with the config produced by `load` (e.g. the file with
    /// `kafka-proxy server` flags applied on top); a thrown error is reported and changes nothing.
    public func reload(trigger: String, load: @escaping @Sendable () throws(ConfigErrors) -> LoadedConfig) {
        controlQueue.async { [self] in
            guard !state.withLock({ $0.stopping }) else { return }
            let loaded: LoadedConfig
            do throws(ConfigErrors) {
                loaded = try load()
            } catch {
                // As `kafka-proxy check` begins each: the operator sees which file and where.
                let reason = error.headlines.joined(separator: "; ")
                rejected(trigger: trigger, reason: reason, report: error.description)
                return
            }
            apply(loaded, trigger: trigger)
        }
    }

    /// On `controlQueue`. `report`: what `kafka-proxy check` would print for the file.
    private func rejected(trigger: String, reason: String, report: String) {
        context.update {
            $0.lastReload = ReloadRecord(ok: false, error: reason, restartRequired: [], atUnixSeconds: Self.unixNow())
        }
        failoverMetrics.reloads(ok: false)
        var report = report
        while report.last == "\n" { report.removeLast() }
        context.logger.warning("config reload (\(trigger)) rejected, keeping the running config:\n\(report)")
    }

    /// On `controlQueue`.
    private func apply(_ source: LoadedConfig, trigger: String) {
        let loaded = source.config
        let old = context.running
        guard loaded != old.config else {
            if source.digest != old.digest {
                // Comments or formatting only: nothing to apply, but the fleet compares digests.
                context.update { $0.digest = source.digest }
                failoverMetrics.setConfigInfo(digest: source.digest, activeCluster: old.activeCluster)
                context.logger.info("config reload (\(trigger)): no setting changed; digest \(source.digest)")
            } else {
                context.logger.debug("config reload (\(trigger)): nothing changed")
            }
            return
        }
        var effective = loaded
        var restartRequired: [String] = []
        // Listener TLS material applies live (new connections); the sockets themselves do not.
        var bound = loaded.listener
        bound.tls = old.config.listener.tls
        if bound != old.config.listener {
            restartRequired.append("listener")
            effective.listener = old.config.listener
            effective.listener.tls = loaded.listener.tls
        }
        if loaded.admin != old.config.admin {
            restartRequired.append("admin")
            effective.admin = old.config.admin
        }
        do {
            try context.tls.apply(effective)
        } catch {
            rejected(trigger: trigger, reason: "\(error)", report: "\(error)")
            return
        }
        if !restartRequired.isEmpty {
            context.logger.warning("config reload: changes to \(restartRequired.joined(separator: ", ")) need a restart and are ignored until then")
        }
        let change = state.withLock { $0.controller.configApplied(effective) }
        let record = ReloadRecord(ok: true, error: nil, restartRequired: restartRequired, atUnixSeconds: Self.unixNow())
        var applied = old
        context.update { running in
            running.config = effective
            running.generation += 1
            running.digest = source.digest
            running.lastReload = record
            if let change {
                running.activeCluster = change.to
                running.lastSwitch = SwitchRecord(change: change, atUnixSeconds: record.atUnixSeconds)
            }
            applied = running
        }
        failoverMetrics.setConfigInfo(digest: applied.digest, activeCluster: applied.activeCluster)
        context.logger.info("config reload (\(trigger)) applied: generation \(applied.generation), digest \(applied.digest)")
        failoverMetrics.reloads(ok: true)
        if effective.logging != old.config.logging { onLoggingChange(effective.logging) }
        context.protocolTrace.apply(effective.logging)
        reconcileProbes(effective)

        if let change {
            perform(change)
        } else if let before = old.config.cluster(named: old.activeCluster),
                  let after = effective.cluster(named: old.activeCluster), before != after {
            // Same cluster, new servers, credentials or names: every connection reconnects to see them.
            let keys = after.changedKeys(from: before).joined(separator: ", ")
            context.logger.warning("cluster \(old.activeCluster) changed its \(keys): reconnecting clients")
            drainSessions(where: { _ in true }, timeoutSeconds: effective.failover.drainTimeoutSeconds)
        }
    }

    // MARK: failover

    /// On `controlQueue`: one probe per configured cluster, at the configured interval.
    private func reconcileProbes(_ config: ProxyConfig) {
        let (stale, toStart) = state.withLock { state -> ([ClusterProbe], [(ClusterProbe, ProxyConfig.Cluster)]) in
            var stale: [ClusterProbe] = []
            for (name, probe) in state.probes where config.cluster(named: name) == nil {
                stale.append(probe)
                state.probes[name] = nil
                context.apiVersions.forget(cluster: name)
            }
            var toStart: [(ClusterProbe, ProxyConfig.Cluster)] = []
            for cluster in config.clusters {
                let probe = state.probes[cluster.name] ?? ClusterProbe(tls: context.tls) { [weak self] result in
                    guard let self else { return }
                    controlQueue.async { self.probed(result) }
                }
                state.probes[cluster.name] = probe
                toStart.append((probe, cluster))
            }
            return (stale, toStart)
        }
        for probe in stale { probe.stop() }
        for (probe, cluster) in toStart {
            probe.start(cluster: cluster, intervalSeconds: config.failover.healthCheckIntervalSeconds,
                        timeoutSeconds: config.failover.probeTimeoutSeconds)
        }
    }

    /// On `controlQueue`.
    private func probed(_ result: ProbeResult) {
        // Before the health change is visible, so a cluster reported healthy has its ranges known.
        if let ranges = result.apiVersions {
            if let before = context.apiVersions.ranges(of: result.cluster), before != ranges {
                context.logger.info("cluster \(result.cluster) changed its API versions: new connections negotiate the new intersection, connections negotiated earlier keep theirs")
            }
            context.apiVersions.record(cluster: result.cluster, ranges)
        }
        let (wasHealthy, change) = state.withLock { state in
            let was = state.controller.isHealthy(result.cluster)
            return (was, state.controller.probed(cluster: result.cluster, ok: result.ok, nowNanos: result.atNanos,
                                                       startedNanos: result.startedNanos))
        }
        failoverMetrics.setHealthy(result.cluster, result.ok)
        // Node id order: the n-th broker of every cluster takes the n-th port (see AddressMap).
        for broker in result.brokers.sorted(by: { $0.nodeId < $1.nodeId }) {
            do throws(BrokerDirectory.Failure) {
                _ = try context.directory.localPort(cluster: result.cluster, endpoint: broker)
            } catch {
                context.logger.warning("cluster \(result.cluster): \(error)")
            }
        }
        if wasHealthy != result.ok {
            if result.ok {
                context.logger.info("cluster \(result.cluster) is reachable (\(result.broker))")
            } else {
                context.logger.log(level: context.repeatedErrors.level(.warning, cluster: result.cluster, reason: "probe failed"),
                                   "cluster \(result.cluster) is unreachable: \(result.detail)")
            }
        }
        if let change {
            context.update {
                $0.activeCluster = change.to
                $0.lastSwitch = SwitchRecord(change: change, atUnixSeconds: Self.unixNow())
            }
            perform(change)
        }
    }

    /// On `controlQueue`, after the running config names the new cluster and records the switch (one
    /// update): new connections already go there; existing ones drain (no new requests, in-flight
    /// responses delivered, then closed) and their clients reconnect through the same ports.
    private func perform(_ change: FailoverController.Switch) {
        let running = context.running
        context.logger.warning("switching active cluster from \(change.from) to \(change.to) (reason: \(change.reason.rawValue))")
        failoverMetrics.switched(change, clusters: running.config.clusters.map(\.name))
        failoverMetrics.setConfigInfo(digest: running.digest, activeCluster: change.to)
        context.groups.switched(to: change.to)
        let timeout = running.config.failover.drainTimeoutSeconds
        guard running.config.failover.onSwitch == .move else {
            drainSessions(where: { $0.cluster != change.to }, timeoutSeconds: timeout)
            return
        }
        // Away from a cluster that stopped answering, responses in flight there will not come.
        moveSessions(to: running, timeoutSeconds: timeout, awaitsResponses: change.reason != .unhealthy)
    }

    /// Each connection keeps its client socket and is re-dialled on the new cluster: the bootstrap
    /// port to its bootstrap servers, a broker port to the broker in the same slot there. A slot the
    /// new cluster has no broker for (or does not know yet) cannot be moved: that connection drains.
    private func moveSessions(to running: RunningConfig, timeoutSeconds: Int, awaitsResponses: Bool) {
        let sessions = context.sessions.all.filter { $0.cluster != running.activeCluster }
        guard !sessions.isEmpty else { return }
        context.logger.info("moving \(sessions.count) connections to \(running.activeCluster) (at most \(timeoutSeconds)s for the responses in flight)")
        for session in sessions {
            if case .broker(let port) = session.route,
               context.directory.upstream(cluster: running.activeCluster, port: port) == nil {
                session.drain(timeoutSeconds: timeoutSeconds)
                continue
            }
            session.move(to: running.activeCluster, upstreams: upstreams(for: session.route, running: running),
                         timeoutSeconds: timeoutSeconds, awaitsResponses: awaitsResponses)
        }
    }

    private func drainSessions(where predicate: (ProxySession) -> Bool, timeoutSeconds: Int) {
        let sessions = context.sessions.all.filter(predicate)
        if !sessions.isEmpty {
            context.logger.info("draining \(sessions.count) connections (at most \(timeoutSeconds)s)")
        }
        for session in sessions { session.drain(timeoutSeconds: timeoutSeconds) }
    }

    // MARK: shutdown

    /// Stops accepting, drains every connection (bounded), then calls `completion` on a global queue.
    public func shutdown(drainTimeoutSeconds: Int, completion: @escaping @Sendable () -> Void) {
        let (bootstrap, admin, probes) = state.withLock { state in
            state.stopping = true
            return (state.bootstrapListener, state.admin, Array(state.probes.values))
        }
        bootstrap?.close()
        context.directory.closeListeners()
        for probe in probes { probe.stop() }
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

    func probeResult(cluster: String) -> ProbeResult? {
        state.withLock { $0.probes[cluster] }?.latest
    }


    static func unixNow() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now.tv_sec
    }
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
