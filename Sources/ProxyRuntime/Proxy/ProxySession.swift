#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import KafkaProtocol
import Logging
import ProxyCore
import ProxySASL
import ProxyTLS
import Reactor
import Synchronization
import SASLSettings

/// One client connection and its upstream broker connection: the executor of a
/// `ConnectionMachine`. Every rule of the connection is the machine's; this class turns socket
/// events into machine events and the machine's actions into socket calls, timers and metrics.
///
/// Both channels, the deadline and the machine are confined to `queue` (a serial queue targeting
/// the loop's queue; the loop's poller and deadline timer call in on that queue), so nothing here
/// takes a lock.
final class ProxySession: @unchecked Sendable, SocketChannelDelegate, LoopTimerTarget {
    let id: UInt64
    let route: Route
    /// The cluster this connection relays to; a switch moves it (or drains the connection).
    /// Read by the server's registry from other threads.
    var cluster: String { clusterName.withLock { $0 } }
    private let clusterName: Locked<String>
    private let limits: ProxyConfig.Limits
    private let hidesLeaderEpochs: Bool
    let clientAddress: SocketAddress
    private let loop: EventLoop
    let queue: DispatchQueue
    let context: ProxyContext
    private let loopMetrics: LoopMetrics
    /// The upstream dialled or relayed to, for the log lines' metadata.
    private var upstreamLabel: String? {
        didSet { cachedLogger = nil }
    }
    /// Made at the first log line (`logger`): its metadata dictionary was part of every idle
    /// connection's memory, for lines most connections never write.
    private var cachedLogger: Logger?

    private var machine: ConnectionMachine
    private let client: SocketChannel
    private var upstream: SocketChannel?
    private var targets: [UpstreamDialer.Target] = []
    /// The machine's one deadline, kept by the loop (one Dispatch timer for all its connections).
    private var timer: LoopTimer?
    /// A broker-port connection made before the proxy knew which broker of `cluster` holds that
    /// port: it went to a bootstrap server instead, and must not outlive that guess.
    var provisionalPort: UInt16?
    /// Boxed, like `closeWhenFlushed`: inline, these rarely set values were a tenth of every
    /// connection's memory.
    private var credentials: SASLCredentials? {
        get { credentialsBox?.value }
        set { credentialsBox = newValue.map(Box.init) }
    }
    private var credentialsBox: Box<SASLCredentials>?
    private var login: LoginDriver?
    private var brokerVersions: ApiVersionsResponse?
    private var reauthGeneration = 0
    private var closeWhenFlushed: CloseReason? {
        get { closeWhenFlushedBox?.value }
        set { closeWhenFlushedBox = newValue.map(Box.init) }
    }
    private var closeWhenFlushedBox: Box<CloseReason>?
    private var upstreamServers: [ProxyConfig.HostPort] = []

    init(id: UInt64, fd: Int32, clientAddress: SocketAddress, route: Route, cluster: String, hidesLeaderEpochs: Bool,
         loop: EventLoop, loopMetrics: LoopMetrics, context: ProxyContext, limits: ProxyConfig.Limits) {
        self.id = id
        self.route = route
        clusterName = Locked(cluster)
        self.limits = limits
        self.hidesLeaderEpochs = hidesLeaderEpochs
        self.clientAddress = clientAddress
        self.loop = loop
        self.loopMetrics = loopMetrics
        self.context = context
        credentialsBox = (context.config.cluster(named: cluster)?.sasl).map(Box.init)
        machine = ConnectionMachine(settings: .init(route: route, cluster: cluster, context: context, limits: limits),
                                    policy: SharedConnectionPolicy(context: context, cluster: cluster))
        queue = loop.makeConnectionQueue(label: "kafka-proxy.conn.\(id)")
        client = SocketChannel(fd: fd, queue: queue, loop: loop)
        Syscall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    private var logger: Logger {
        if let cachedLogger { return cachedLogger }
        var logger = context.logger
        logger[metadataKey: "conn"] = "\(id)"
        logger[metadataKey: "client"] = "\(clientAddress)"
        logger[metadataKey: "route"] = "\(route)"
        logger[metadataKey: "cluster"] = "\(cluster)"
        if let upstreamLabel { logger[metadataKey: "upstream"] = "\(upstreamLabel)" }
        cachedLogger = logger
        return logger
    }

    private var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
    /// On the queue: the machine's own copy, no lock.
    private var currentCluster: String { machine.settings.cluster }

    // MARK: events from outside (any thread)

    func start(upstreams: [ProxyConfig.HostPort]) {
        client.delegate = self
        do throws(TLSError) {
            // listener.tls: the server handshake runs inside the channel while the upstream is dialled.
            if let engine = try context.tls.serverEngine() { client.startTLS(engine) }
        } catch {
            machine.close(.tlsStartFailed(metricReason: error.reason, message: error.message))
            run()
            return
        }
        upstreamServers = upstreams
        machine.start(nowNanos: now)
        run()
    }

    func brokerLearned(cluster: String, port: UInt16) {
        guard cluster == self.cluster, port == provisionalPort else { return }
        queue.async { [self] in
            machine.brokerLearned(port: port)
            run()
        }
    }

    /// Keeps the client connection: once its responses are in, `upstreams` (the same route on
    /// `cluster`) are dialled underneath it.
    func move(to cluster: String, upstreams: [ProxyConfig.HostPort], timeoutSeconds: Int, awaitsResponses: Bool) {
        queue.async { [self] in
            guard !machine.isClosed else { return }
            clusterName.withLock { $0 = cluster }
            credentials = context.config.cluster(named: cluster)?.sasl
            upstreamServers = upstreams
            cachedLogger = nil
            machine.moveRequested(settings: .init(route: route, cluster: cluster, context: context, limits: limits),
                                  policy: SharedConnectionPolicy(context: context, cluster: cluster),
                                  timeoutSeconds: timeoutSeconds, awaitsResponses: awaitsResponses, nowNanos: now)
            run()
        }
    }

    func drain(timeoutSeconds: Int) {
        queue.async { [self] in
            machine.drainRequested(timeoutSeconds: timeoutSeconds, nowNanos: now)
            run()
        }
    }

    /// The deadline the machine scheduled has come (on the loop's queue).
    func loopTimerFired() {
        let hint = login.map { " (\($0.waitingDescription))" } ?? upstream?.tlsStallHint ?? ""
        machine.timerFired(nowNanos: now, stallHint: hint)
        run()
    }

    // MARK: SocketChannelDelegate

    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) {
        if channel === client {
            context.metrics.bytesFromClients.increment(by: Int64(bytes.count))
            machine.clientRead(bytes, nowNanos: now)
        } else {
            context.metrics.bytesFromBrokers.increment(by: Int64(bytes.count))
            machine.brokerRead(bytes, nowNanos: now)
        }
        run()
    }

    func channelEOF(_ channel: SocketChannel) {
        if channel === client {
            machine.clientEOF(brokerHasPendingOutput: upstream?.hasPendingOutput ?? false, nowNanos: now)
        } else {
            machine.brokerEOF(nowNanos: now)
        }
        run()
    }

    func channelConnected(_ channel: SocketChannel) {
        guard channel === upstream, !channel.isTLS else { return }
        upstreamReady()
    }

    func channelHandshakeCompleted(_ channel: SocketChannel) {
        guard channel === upstream else { return }
        upstreamReady()
    }

    private func upstreamReady() {
        // The addresses left to try are not needed any more (they are most of an idle connection's memory).
        targets = []
        machine.connected(nowNanos: now)
        run()
    }

    func channelDrained(_ channel: SocketChannel) {
        if channel === client {
            if let reason = closeWhenFlushed {
                machine.close(reason)
            } else {
                machine.clientDrained(nowNanos: now)
            }
        } else {
            machine.brokerDrained()
        }
        run()
    }

    func channelFailed(_ channel: SocketChannel, _ error: ChannelError) {
        let side: ConnectionSide = channel === client ? .client : .broker
        var detail = error.description
        var isTLS = false
        if case .tls(let tls) = error {
            isTLS = true
            context.metrics.recordError(tls.reason)
            if side == .client { detail = tls.message }
            if side == .broker {
                logger.log(level: context.repeatedErrors.level(.warning, cluster: currentCluster, reason: "TLS failed (\(tls.reason))"),
                           "TLS to cluster \(currentCluster) broker \(machine.upstreamName) failed: \(tls.message)")
            }
        }
        if side == .broker, case .connecting = machine.state { dropUpstream() }
        machine.channelFailed(side, detail: detail, isDisconnect: error.isDisconnect, isTLS: isTLS)
        run()
    }

    // MARK: carrying out actions

    private func run() {
        #if DEBUG
        // Connection-queue blocks and the loop poller's read events both run on the loop queue.
        dispatchPrecondition(condition: .onQueue(loop.queue))
        #endif
        while let action = machine.nextAction() { perform(action) }
    }

    private func perform(_ action: ConnectionAction) {
        switch action {
        case .resolve:
            UpstreamDialer.resolve(upstreamServers, on: queue) { [self] targets, errors in
                self.targets = targets
                upstreamServers = []
                machine.resolved(targets.map(\.name), lastError: errors.last ?? "")
                run()
            }
        case .dial(let index):
            dropUpstream()
            let target = targets[index]
            upstreamLabel = target.name
            do throws(UpstreamDialer.DialError) {
                upstream = try UpstreamDialer.open(target, cluster: context.config.cluster(named: currentCluster), tls: context.tls,
                                                   queue: queue, loop: loop, delegate: self)
            } catch {
                if case .tls(let tls) = error {
                    context.metrics.recordError(tls.reason)
                    logger.log(level: context.repeatedErrors.level(.warning, cluster: currentCluster, reason: "TLS failed (\(tls.reason))"),
                               "TLS to cluster \(currentCluster) broker \(target.name) cannot start: \(tls.message)")
                }
                machine.connectFailed("\(target.name): \(error)")
            }
        case .closeBroker:
            // The old cluster's login and versions mean nothing on the new one.
            login?.cancel()
            login = nil
            brokerVersions = nil
            reauthGeneration += 1
            dropUpstream()
        case .startLogin(let reauthentication, let firstCorrelationId):
            startLogin(reauthentication: reauthentication, firstCorrelationId: firstCorrelationId)
        case .loginResponse(let payload):
            // A client that left while the proxy logs in for it: stop before the next step reads secrets.
            if case .authenticating = machine.state, client.peerHasClosed {
                machine.close(.clientLeftDuringLogin)
            } else {
                login?.receive(payload)
            }
        case .loginSucceeded(let reauthentication, let lifetimeMs):
            loginSucceeded(reauthentication: reauthentication, lifetimeMs: lifetimeMs)
        case .loginFailed(let reason):
            context.metrics.recordSASLFailure(cluster: currentCluster, mechanism: credentials?.mechanism.rawValue ?? "", reason: reason)
        case .sendToBroker(let bytes):
            guard let upstream, !send(bytes, to: upstream) else { return }
            if !upstream.isClosed { machine.brokerBlocked() }
        case .sendToClient(let bytes):
            if !send(bytes, to: client), !client.isClosed { machine.clientBlocked() }
        case .rewriteToClient(let request, let payload):
            do throws(ProxyStreamError) {
                let frame = try context.rewrite(request, payload, cluster: currentCluster, clearLeaderEpochs: hidesLeaderEpochs)
                if !client.send(frame), !client.isClosed { machine.clientBlocked() }
            } catch {
                machine.close(.badResponse(upstream: machine.upstreamName, error))
            }
        case .refuseClientSASL(let apiKey, let apiVersion, let correlationId):
            guard let response = ClientSASLRefusal.response(apiKey: apiKey, apiVersion: apiVersion,
                                                            correlationId: correlationId) else { return }
            let api = apiKey == ApiKey.saslHandshake.rawValue ? "SaslHandshake" : "SaslAuthenticate"
            logger.warning("the client sent \(api) v\(apiVersion), but the proxy logs in to cluster \(currentCluster) itself: answered with an error (configure the client without SASL)")
            client.send(response)
        case .pauseClient: client.pauseReading()
        case .resumeClient: client.resumeReading()
        case .pauseBroker: upstream?.pauseReading()
        case .resumeBroker: upstream?.resumeReading()
        case .schedule(let deadline):
            let timer = self.timer ?? loop.addTimer(for: self)
            self.timer = timer
            loop.schedule(timer, deadlineNanos: deadline)
        case .requestSeen(let request):
            loopMetrics.countRequest(apiKey: request.apiKey, apiVersion: request.apiVersion)
            context.protocolTrace.request(logger, apiKey: request.apiKey, apiVersion: request.apiVersion,
                                          correlationId: request.correlationId, bytes: request.frameBytes)
        case .responseSeen(let request, let frameBytes, let latency, let payload):
            loopMetrics.recordLatency(apiKey: request.apiKey, nanoseconds: latency)
            context.protocolTrace.response(logger, request: request, bytes: frameBytes, payload: payload)
        case .memberSynced(let group, let memberId, let generation, let clientId):
            context.groups.synced(group: group, memberId: memberId, generation: generation, clientId: clientId,
                                  cluster: currentCluster)
        case .memberLeft(let group, let memberIds): context.groups.left(group: group, memberIds: memberIds)
        case .commitRefused(let apiKey): context.metrics.recordCommitRefused(cluster: currentCluster, apiKey: apiKey)
        case .producerIdIssued(let producerId): context.producerIds.recordIssued(producerId, by: cluster)
        case .producerMoved(let producerId): context.producerIds.markMoved(producerId)
        case .transactionRefused(let apiKey): context.metrics.recordTransactionRefused(cluster: cluster, apiKey: apiKey)
        case .log(let severity, let message): logger.log(level: severity.level, "\(message)")
        case .closeWhenFlushed(let reason):
            if client.hasPendingOutput { closeWhenFlushed = reason } else { machine.close(reason) }
        case .close(let reason):
            close(reason)
        }
    }

    private func send(_ bytes: OutgoingBytes, to channel: SocketChannel) -> Bool {
        switch bytes {
        case .borrowed(let raw): return channel.send(raw)
        case .owned(let array): return channel.send(array)
        case .prefix(let prefix): return withUnsafeBytes(of: prefix.bigEndian) { channel.send($0) }
        }
    }

    private func close(_ reason: CloseReason) {
        context.metrics.recordClose(reason)
        var level = reason.severity.level
        if let key = reason.repeatKey { level = context.repeatedErrors.level(level, cluster: currentCluster, reason: key) }
        logger.log(level: level, "\(reason.message)")
        login?.cancel()
        login = nil
        client.close()
        dropUpstream()
        if let timer { loop.removeTimer(timer) }
        timer = nil
        context.sessionClosed(self)
    }

    private func dropUpstream() {
        upstream?.close()
        upstream = nil
    }

    // MARK: SASL (the steps run off the loop: LoginDriver)

    private func startLogin(reauthentication: Bool, firstCorrelationId: Int32) {
        guard let credentials else { return }
        if reauthentication { logger.debug("re-authenticating (\(credentials.mechanism.rawValue)) before the session expires") }
        let driver = LoginDriver(credentials: credentials, serverHost: hostOf(machine.upstreamName),
                                 brokerVersions: brokerVersions, firstCorrelationId: firstCorrelationId,
                                 lane: currentCluster, queue: queue,
                                 timeout: reauthentication ? .seconds(context.connectTimeoutSeconds) : nil) { [self] step in
            switch step {
            case .send(let request):
                machine.loginRequest(request.frame, correlationId: request.correlationId, apiKey: request.apiKey,
                                     apiVersion: request.apiVersion, nowNanos: now)
            case .authenticated(let lifetimeMs):
                brokerVersions = login?.brokerVersions ?? brokerVersions
                machine.loginSucceeded(sessionLifetimeMs: lifetimeMs, nowNanos: now)
            case .failed(let error):
                machine.loginFailed(reason: error.reason, detail: "\(error)")
            }
            run()
        }
        login = driver
        driver.start()
    }

    private func loginSucceeded(reauthentication: Bool, lifetimeMs: Int64) {
        let mechanism = credentials?.mechanism.rawValue ?? ""
        context.metrics.recordSASLSuccess(cluster: currentCluster, mechanism: mechanism, reauthentication: reauthentication)
        let lifetime = lifetimeMs > 0 ? ", session lifetime \(lifetimeMs) ms" : ""
        if reauthentication {
            logger.debug("re-authenticated to cluster \(currentCluster) broker \(machine.upstreamName) (\(mechanism))\(lifetime)")
        } else {
            logger.debug("SASL \(mechanism) login to cluster \(currentCluster) broker \(machine.upstreamName) succeeded\(lifetime)")
        }
        reauthGeneration += 1
        guard let delayMs = Reauthentication.delayMs(sessionLifetimeMs: lifetimeMs) else { return }
        let generation = reauthGeneration
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(clamping: delayMs))) { [weak self] in
            guard let self, generation == reauthGeneration else { return }
            machine.reauthenticationTimerFired(nowNanos: now)
            run()
        }
    }
}

/// A value kept out of line, for rarely set fields of a per-connection object.
private final class Box<Value> {
    let value: Value
    init(_ value: Value) { self.value = value }
}
