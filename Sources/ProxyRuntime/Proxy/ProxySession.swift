#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims
import Dispatch
import KafkaProtocol
import Logging
import ProxyCore
import ProxySASL
import ProxyTLS
import Reactor

/// Which upstream a client connection is for.
enum Route: Sendable, CustomStringConvertible {
    case bootstrap
    /// A per-broker listener: whichever broker of the active cluster holds that port's slot.
    case broker(port: UInt16)

    var description: String {
        switch self {
        case .bootstrap: "bootstrap"
        case .broker(let port): "broker port \(port)"
        }
    }
}

/// One client connection and its upstream broker connection, relayed frame by frame.
///
/// Both sockets, the timer and all state are confined to `queue` (a serial queue targeting the
/// loop's queue), so nothing here takes a lock. Login (ProxySession+SASL.swift) and what moved
/// clients need (ProxySession+Failover.swift) live in extensions, which is why some state is internal. The request path: client readable -> read into
/// the loop buffer -> `RequestObserver` notes the frame -> the same bytes go to the broker.
/// The response path: broker readable -> `ResponseRelay` streams or rewrites -> client.
final class ProxySession: @unchecked Sendable, SocketChannelDelegate {
    enum Phase { case connecting, relaying, draining, closed }

    let id: UInt64
    let route: Route
    /// The cluster this connection relays to; it never changes (a switch drains the connection).
    let cluster: String
    private let hidesLeaderEpochs: Bool
    let clientAddress: SocketAddress
    private let loop: EventLoop
    let queue: DispatchQueue
    let context: ProxyContext
    private let loopMetrics: LoopMetrics
    var logger: Logger

    let client: SocketChannel
    var upstream: SocketChannel?
    var upstreamName = ""
    private var targets: [SocketAddress] = []
    private var targetNames: [String] = []

    var phase = Phase.connecting
    /// A broker-port connection made before the proxy knew which broker of `cluster` holds that
    /// port: it went to a bootstrap server instead, and must not outlive that guess.
    var provisionalPort: UInt16?
    /// Set when producers of another cluster may arrive (after a switch): requests then pass
    /// frame by frame so Produce batches can be moved onto this cluster's producer ids.
    private let translatesProducers: Bool
    private var translator = ProducerIdTranslator()
    private var pendingRequests: [UInt8] = []
    var awaitingProducerId: ProducerIdTranslator.ClientProducer?
    var nextProxyCorrelationId = Int32.min
    /// The client's client.id, from its first request; group members are tracked by it.
    var clientId: String?
    /// A Fetch of a group member that has not rejoined on this cluster yet (see GroupMembers).
    var holdingFetch = false
    /// Correlation ids of the newest acks=0 Produce requests: a broker that answers one anyway
    /// (Tansu does) gets its answer dropped instead of the connection closed.
    private var recentAcksZero = [Int32](repeating: 0, count: 64)
    private var recentAcksZeroCount = 0
    /// The client closed; the requests it sent are still being written to the broker.
    private var flushingToBroker = false
    /// SASL (issue 5): the cluster's credentials when it has `sasl:`. Such sessions take client
    /// requests frame by frame, so the proxy can answer a client's own SASL requests and
    /// re-authenticate (KIP-368) at a request frame boundary.
    let saslCredentials: SASLCredentials?
    /// The login or re-authentication in progress; client requests are held while it is set.
    var saslExchange: LoginDriver?
    var saslIsReauthentication = false
    /// The broker's ApiVersions, learned by the first login (re-authentications start at SaslHandshake).
    var saslBrokerVersions: ApiVersionsResponse?
    var reauthDue = false
    var reauthGeneration = 0
    /// A client SaslHandshake/SaslAuthenticate waits for the responses before it, then gets ClientSASLRefusal.
    private var refusingClientSASL = false
    var closeWhenFlushed = false
    /// Highest InitProducerId version the broker offers (from the ApiVersions answer relayed to the client).
    var initProducerIdVersion: Int16 = 0
    private var requests: RequestObserver
    private var relay: ResponseRelay
    var inflight = InflightQueue()

    private let timer: any DispatchSourceTimer
    private var lastActivity: UInt64
    private let idleTimeoutNanos: UInt64
    private var drainDeadline: UInt64 = 0

    init(id: UInt64, fd: Int32, clientAddress: SocketAddress, route: Route, cluster: String, hidesLeaderEpochs: Bool,
         loop: EventLoop, loopMetrics: LoopMetrics, context: ProxyContext, limits: ProxyConfig.Limits) {
        self.id = id
        self.route = route
        self.cluster = cluster
        self.hidesLeaderEpochs = hidesLeaderEpochs
        translatesProducers = context.producerIds.mayTranslate(on: cluster) || context.groups.anyPending(on: cluster)
        saslCredentials = context.config.cluster(named: cluster)?.sasl?.credentials
        self.clientAddress = clientAddress
        self.loop = loop
        self.loopMetrics = loopMetrics
        self.context = context
        queue = loop.makeConnectionQueue(label: "kafka-proxy.conn.\(id)")
        client = SocketChannel(fd: fd, queue: queue, loop: loop)
        requests = RequestObserver(maxFrameBytes: limits.maxRequestBytes)
        relay = ResponseRelay(maxFrameBytes: limits.maxResponseBytes)
        idleTimeoutNanos = UInt64(limits.idleTimeoutSeconds) * 1_000_000_000
        lastActivity = DispatchTime.now().uptimeNanoseconds
        timer = DispatchSource.makeTimerSource(queue: queue)
        logger = context.logger
        logger[metadataKey: "conn"] = "\(id)"
        logger[metadataKey: "client"] = "\(clientAddress)"
        logger[metadataKey: "route"] = "\(route)"
        logger[metadataKey: "cluster"] = "\(cluster)"
        Syscall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    // MARK: lifecycle

    func start(upstreams: [ProxyConfig.HostPort]) {
        client.delegate = self
        timer.setEventHandler { [self] in timerFired() }
        timer.schedule(deadline: .now() + .seconds(context.connectTimeoutSeconds), leeway: .milliseconds(100))
        timer.activate()
        // listener.tls: the server handshake runs inside the channel while the upstream is dialled.
        do throws(TLSError) {
            if let engine = try context.tls.serverEngine() { client.startTLS(engine) }
        } catch {
            context.metrics.recordError(error.reason)
            close(reason: nil, level: .error, "cannot start TLS with the client: \(error.message)")
            return
        }
        // Name resolution blocks: never on a loop queue.
        DispatchQueue.global().async { [self] in
            var addresses: [SocketAddress] = []
            var names: [String] = []
            var lastError = "no bootstrap servers configured"
            for upstream in upstreams {
                do throws(ResolveError) {
                    let resolved = try SocketAddress.resolve(host: upstream.host, port: upstream.port)
                    addresses += resolved
                    names += Array(repeating: upstream.description, count: resolved.count)
                } catch {
                    lastError = error.description
                }
            }
            queue.async { [self, addresses, names, lastError] in
                guard phase == .connecting else { return }
                targets = addresses
                targetNames = names
                if targets.isEmpty {
                    context.metrics.upstreamConnectFailures.increment()
                    close(reason: "upstream_unreachable", level: .warning, "cannot reach \(route): \(lastError)")
                } else {
                    connectNext(lastError: lastError)
                }
            }
        }
    }

    /// The broker behind `port` in `cluster` is known now: a connection that guessed goes away, and
    /// the client reconnects to the right broker through the same port.
    func brokerLearned(cluster: String, port: UInt16) {
        guard cluster == self.cluster, port == provisionalPort else { return }
        queue.async { [self] in
            close(reason: nil, level: .info, "broker of port \(port) in \(cluster) is known now: closing the connection that went to a bootstrap server")
        }
    }

    /// Stop reading requests, deliver the responses in flight, then close (bounded by `timeoutSeconds`).
    func drain(timeoutSeconds: Int) {
        queue.async { [self] in
            switch phase {
            case .closed, .draining: return
            case .connecting:
                close(reason: nil, level: .debug, "closed while connecting: proxy draining")
            case .relaying:
                phase = .draining
                client.pauseReading()
                drainDeadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutSeconds) * 1_000_000_000
                timer.schedule(deadline: .now() + .seconds(timeoutSeconds), leeway: .milliseconds(50))
                closeIfDrained()
            }
        }
    }

    private func closeIfDrained() {
        guard phase == .draining, inflight.isEmpty, relay.isAtFrameBoundary, !client.hasPendingOutput else { return }
        close(reason: nil, level: .debug, "drained")
    }

    private func connectNext(lastError: String) {
        guard let address = targets.first else {
            context.metrics.upstreamConnectFailures.increment()
            close(reason: "upstream_unreachable", level: .warning, "cannot connect to \(route): \(lastError)")
            return
        }
        targets.removeFirst()
        upstreamName = targetNames.removeFirst()
        let fd = CProxyShims_socket_nonblocking(address.family, CProxyShims_SOCK_STREAM, 0)
        guard fd >= 0 else {
            connectNext(lastError: SyscallError(call: "socket", errno: errno).description)
            return
        }
        Syscall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if result != 0 && errno != EINPROGRESS {
            let error = SyscallError(call: "connect \(address)", errno: errno)
            Glibc.close(fd)
            connectNext(lastError: error.description)
            return
        }
        let channel = SocketChannel(fd: fd, queue: queue, loop: loop)
        channel.delegate = self
        // A TLS cluster: the channel runs the client handshake (SNI = serverName or the host dialled)
        // after the connect; channelHandshakeCompleted then means "ready".
        do throws(TLSError) {
            if let clusterConfig = context.config.cluster(named: cluster),
               let engine = try context.tls.clientEngine(cluster: clusterConfig, host: hostOf(upstreamName)) {
                channel.startTLS(engine)
            }
        } catch {
            channel.close()
            context.metrics.recordError(error.reason)
            logger.warning("TLS to cluster \(cluster) broker \(upstreamName) cannot start: \(error.message)")
            connectNext(lastError: "\(upstreamName): TLS: \(error.message)")
            return
        }
        upstream = channel
        channel.awaitConnect()
    }

    private func upstreamConnected() {
        // A SASL cluster: log in before any client byte is relayed (the connect timeout covers it).
        if let credentials = saslCredentials {
            guard saslExchange == nil else { return }  // writable again while logging in
            logger[metadataKey: "upstream"] = "\(upstreamName)"
            startSASL(credentials, reauthentication: false)
            upstream?.resumeReading()
            return
        }
        startRelaying()
    }

    func startRelaying() {
        phase = .relaying
        logger[metadataKey: "upstream"] = "\(upstreamName)"
        logger.debug("relaying")
        touch()
        rearmIdleTimer()
        client.resumeReading()
        upstream?.resumeReading()
    }

    func close(reason: String?, level: Logger.Level, _ message: @autoclosure () -> String) {
        guard phase != .closed else { return }
        phase = .closed
        if let reason { context.metrics.recordError(reason) }
        logger.log(level: level, "\(message())")
        // A login step still pending off the loop: its result is dropped, a queued one never runs.
        saslExchange?.cancel()
        saslExchange = nil
        client.close()
        upstream?.close()
        upstream = nil
        timer.cancel()
        timer.setEventHandler(handler: nil)
        context.sessionClosed(self)
    }

    // MARK: timer

    private func touch() {
        lastActivity = DispatchTime.now().uptimeNanoseconds
    }

    private func rearmIdleTimer() {
        timer.schedule(deadline: DispatchTime(uptimeNanoseconds: lastActivity + idleTimeoutNanos),
                       leeway: .seconds(1))
    }

    private func timerFired() {
        let now = DispatchTime.now().uptimeNanoseconds
        switch phase {
        case .connecting where saslExchange != nil:
            if let mechanism = saslCredentials?.mechanism.rawValue {
                context.metrics.recordSASLFailure(cluster: cluster, mechanism: mechanism, reason: "timeout")
            }
            close(reason: "sasl_timeout", level: .error,
                  "SASL \(saslCredentials?.mechanism.rawValue ?? "") login to cluster \(cluster) broker \(upstreamName) did not finish within \(context.connectTimeoutSeconds)s (\(saslExchange?.waitingDescription ?? "")); closing the client connection")
        case .connecting:
            context.metrics.upstreamConnectFailures.increment()
            close(reason: "upstream_connect_timeout", level: .warning,
                  "connecting to \(route) (\(upstreamName)) timed out after \(context.connectTimeoutSeconds)s\(upstream?.tlsStallHint ?? "")")
        case .relaying:
            if now >= lastActivity + idleTimeoutNanos, let oldest = inflight.first {
                close(reason: "broker_timeout", level: .warning,
                      "broker \(upstreamName) answered nothing for \(idleTimeoutNanos / 1_000_000_000)s with \(inflight.count) requests outstanding (oldest: \(ProxyMetrics.apiName(oldest.apiKey)) v\(oldest.apiVersion), correlation id \(oldest.correlationId)); closing")
            } else if now >= lastActivity + idleTimeoutNanos {
                close(reason: "idle_timeout", level: .info, "idle for \(idleTimeoutNanos / 1_000_000_000)s, closing")
            } else {
                rearmIdleTimer()
            }
        case .draining:
            if now >= drainDeadline {
                close(reason: "drain_timeout", level: .warning,
                      "drain deadline passed with \(inflight.count) responses outstanding")
            }
        case .closed:
            break
        }
    }

    // MARK: SocketChannelDelegate

    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) {
        if channel === client {
            clientRead(bytes)
        } else if channel === upstream {
            upstreamRead(bytes)
        }
    }

    func channelEOF(_ channel: SocketChannel) {
        if channel === client {
            guard upstream != nil, phase == .relaying else { return }
            clientClosed()
        } else if channel === upstream {
            guard phase == .relaying || phase == .draining || saslExchange != nil else { return }
            let outstanding = inflight.count
            close(reason: outstanding > 0 ? "broker_closed" : nil, level: outstanding > 0 ? .warning : .debug,
                  "broker \(upstreamName) closed the connection with \(outstanding) responses outstanding")
        }
    }

    func channelConnected(_ channel: SocketChannel) {
        // A TLS upstream is ready only when its handshake is done.
        if channel === upstream && !channel.isTLS { channelWritable(channel) }
    }

    func channelHandshakeCompleted(_ channel: SocketChannel) {
        // The client side's handshake needs nothing: its reads simply carry plaintext.
        if channel === upstream { channelWritable(channel) }
    }

    func channelDrained(_ channel: SocketChannel) {
        channelWritable(channel)
    }

    /// The upstream is ready (connected, TLS done) or a side's queued output was written.
    private func channelWritable(_ channel: SocketChannel) {
        if channel === upstream {
            if flushingToBroker {
                close(reason: nil, level: .debug, "client closed the connection; its requests reached the broker")
            } else if phase == .connecting {
                upstreamConnected()
            } else if phase == .relaying {
                client.resumeReading()
            }
        } else if channel === client {
            if closeWhenFlushed {
                close(reason: nil, level: .info, "closed after refusing the client's SaslAuthenticate")
            } else if phase == .draining {
                closeIfDrained()
            } else {
                upstream?.resumeReading()
            }
        }
    }

    func channelFailed(_ channel: SocketChannel, _ error: ChannelError) {
        if case .tls(let tls) = error {
            context.metrics.recordError(tls.reason)
            if channel === client {
                close(reason: nil, level: .warning, "TLS with the client failed: \(tls.message)")
                return
            }
            logger.warning("TLS to cluster \(cluster) broker \(upstreamName) failed: \(tls.message)")
        }
        if channel === upstream && phase == .connecting && saslExchange == nil {
            channel.close()
            upstream = nil
            connectNext(lastError: "\(upstreamName): \(error)")
            return
        }
        let side = channel === client ? "client" : "broker"
        if error.isDisconnect, channel !== client, !inflight.isEmpty {
            close(reason: "broker_closed", level: .warning,
                  "broker \(upstreamName) reset the connection with \(inflight.count) responses outstanding: \(error)")
        } else if error.isDisconnect {
            close(reason: nil, level: .debug, "\(side) disconnected: \(error)")
        } else {
            close(reason: "\(side)_io_error", level: .warning, "\(side) socket error: \(error)")
        }
    }

    // MARK: request path

    /// A chunk from the client (the channel's read loop calls this up to 8 times per event, and
    /// stops when this pauses the client or closes).
    private func clientRead(_ chunk: UnsafeRawBufferPointer) {
        // Reading is on only while relaying; never reached otherwise.
        guard let upstream, phase == .relaying else { return }
        // No touch() here: a byte now and then is not activity (slow loris); whole requests are (requestSeen).
        let n = chunk.count
        if clientId == nil, chunk.count > 4 {
            // The first read starts at a frame boundary; one parse per connection.
            clientId = (try? RequestHeader.parse(UnsafeRawBufferPointer(rebasing: chunk[4...])))??.header.clientId ?? ""
        }
        if translatesProducers || saslCredentials != nil {
            context.metrics.bytesFromClients.increment(by: Int64(n))
            pendingRequests.append(contentsOf: chunk)
            // False: it paused the client or closed, which ends the channel's read loop.
            _ = relayPendingRequests()
            return
        }
        do {
            try requests.observe(chunk) { request in requestSeen(request) }
        } catch {
            if !client.isTLS && looksLikeTLSClientHello(chunk) {
                close(reason: "tls_client_hello_on_plain_listener", level: .warning,
                      "the client started a TLS handshake but the listener is plain TCP: set listener.tls, or use security.protocol=PLAINTEXT in the client")
                return
            }
            close(reason: error.reason.rawValue, level: .warning, "closing client connection: \(error.detail)")
            return
        }
        context.metrics.bytesFromClients.increment(by: Int64(n))
        if !upstream.send(chunk) {
            if !upstream.isClosed { client.pauseReading() }
        }
    }

    /// The translating request path: whole frames, Produce batches moved onto this cluster's
    /// producer ids. Returns false when reading from the client should stop for now.
    func relayPendingRequests() -> Bool {
        guard let upstream else { return false }
        var consumed = 0
        defer { pendingRequests.removeFirst(consumed) }
        while awaitingProducerId == nil, !holdingFetch, saslAllowsRequests(), pendingRequests.count - consumed >= 4 {
            let p = pendingRequests
            let size = Int(Int32(bitPattern: UInt32(p[consumed]) << 24 | UInt32(p[consumed + 1]) << 16
                | UInt32(p[consumed + 2]) << 8 | UInt32(p[consumed + 3])))
            guard size >= 8, size <= requests.maxFrameBytes else {
                // The observer words the error.
                let error = p.withUnsafeBytes { raw in
                    Result { () throws(ProxyStreamError) in
                        try requests.observe(UnsafeRawBufferPointer(rebasing: raw[consumed..<(consumed + 4)])) { _ in }
                    }
                }
                if case .failure(let error) = error {
                    close(reason: error.reason.rawValue, level: .warning, "closing client connection: \(error.detail)")
                }
                return false
            }
            guard pendingRequests.count - consumed >= 4 + size else { break }
            var payload = Array(pendingRequests[(consumed + 4)..<(consumed + 4 + size)])
            if saslCredentials != nil,
               let header = try? payload.withUnsafeBytes({ try RequestHeader.peek($0, frameLength: size) }),
               header.apiKey == ApiKey.saslHandshake.rawValue || header.apiKey == ApiKey.saslAuthenticate.rawValue {
                // Answered by the proxy, in order: once every response before it has gone out.
                guard inflight.isEmpty, relay.isAtFrameBoundary else {
                    refusingClientSASL = true
                    break
                }
                refusingClientSASL = false
                consumed += 4 + size
                if !refuseClientSASL(header) { return false }
                continue
            }
            if translatesProducers,
               let header = try? payload.withUnsafeBytes({ try RequestHeader.peek($0, frameLength: size) }),
               header.apiKey == ApiKey.fetch.rawValue, let clientId,
               context.groups.mustHoldFetch(clientId: clientId, cluster: cluster) {
                holdFetchUntilRejoined()
                break
            }
            if translatesProducers,
               let header = try? payload.withUnsafeBytes({ try RequestHeader.peek($0, frameLength: size) }),
               header.apiKey == ApiKey.produce.rawValue {
                let cluster = self.cluster
                let producerIds = context.producerIds
                // A malformed request is left as it is: the observer below closes with the reason.
                let outcome = try? translator.translate(&payload, headerLength: header.headerLength,
                                                        version: header.apiVersion) { producerId in
                    producerIds.needsTranslation(producerId, on: cluster)
                }
                if case .needsProducerId(let producer) = outcome {
                    requestProducerId(for: producer)
                    break
                }
            }
            let frame = Array(pendingRequests[consumed..<(consumed + 4)]) + payload
            consumed += 4 + size
            let observed = frame.withUnsafeBytes { raw in
                Result { () throws(ProxyStreamError) in try requests.observe(raw) { requestSeen($0) } }
            }
            if case .failure(let error) = observed {
                close(reason: error.reason.rawValue, level: .warning, "closing client connection: \(error.detail)")
                return false
            }
            if !upstream.send(frame) {
                if !upstream.isClosed { client.pauseReading() }
                return false
            }
        }
        if awaitingProducerId != nil || saslExchange != nil || refusingClientSASL || closeWhenFlushed
            || pendingRequests.count - consumed > requests.maxFrameBytes {
            client.pauseReading()
            return false
        }
        return true
    }

    private func proxyResponse(_ request: InflightRequest, _ payload: [UInt8]) throws(ProxyStreamError) {
        if let login = saslExchange, login.awaitingCorrelationId == request.correlationId {
            // A client that left while the proxy logs in for it: stop before the next step reads secrets.
            if !saslIsReauthentication && clientHasClosed() {
                close(reason: nil, level: .debug, "client closed the connection during the SASL login")
                return
            }
            // The step runs off the loop; saslAdvance gets its result later, outside the relay.
            login.receive(payload)
            return
        }
        guard request.apiKey == ApiKey.initProducerId.rawValue, let producer = awaitingProducerId else { return }
        guard let response = try? InitProducerIdResponse.decode(payload: payload, version: request.apiVersion) else {
            throw ProxyStreamError(.undecodableResponse, "InitProducerId response cannot be decoded")
        }
        guard response.errorCode == 0 else {
            throw ProxyStreamError(.undecodableResponse,
                "cluster \(cluster) refused a producer id for producer \(producer.producerId): error \(response.errorCode)")
        }
        translator.issued(for: producer, producerId: response.producerId, epoch: response.producerEpoch)
        logger.info("producer \(producer.producerId) continues on \(cluster) as producer \(response.producerId)")
        awaitingProducerId = nil
        // Resume after the relay call returns: the held requests go out in order.
        queue.async { [self] in
            guard phase == .relaying else { return }
            if relayPendingRequests() { client.resumeReading() }
        }
    }

    /// The client is gone. What it sent and the proxy accepted still reaches the broker (an acks=0
    /// producer closes right after its last send), bounded by the drain timer; then both close.
    private func clientClosed() {
        if !requests.isAtFrameBoundary || !pendingRequests.isEmpty {
            close(reason: ProxyStreamError.Reason.truncatedFrame.rawValue, level: .warning,
                  "client closed the connection in the middle of a request (\(requests.bytesIntoFrame + pendingRequests.count) bytes of it arrived)")
            return
        }
        guard let upstream, upstream.hasPendingOutput, phase == .relaying || phase == .draining else {
            close(reason: nil, level: .debug, "client closed the connection")
            return
        }
        flushingToBroker = true
        client.pauseReading()
        upstream.pauseReading()
        phase = .draining
        drainDeadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
        timer.schedule(deadline: .now() + .seconds(5), leeway: .milliseconds(50))
    }

    private func requestSeen(_ request: ObservedRequest) {
        touch()
        if request.apiKey == ApiKey.joinGroup.rawValue, let clientId {
            context.groups.joining(clientId: clientId, cluster: cluster)
        }
        loopMetrics.countRequest(apiKey: request.apiKey, apiVersion: request.apiVersion)
        if request.expectsResponse {
            // touch() just read the clock: the request's start time is the same instant.
            inflight.append(InflightRequest(correlationId: request.correlationId, apiKey: request.apiKey,
                                            apiVersion: request.apiVersion, startNanos: lastActivity))
        } else {
            recentAcksZero[recentAcksZeroCount % recentAcksZero.count] = request.correlationId
            recentAcksZeroCount &+= 1
        }
    }

    // MARK: response path

    /// A chunk from the broker (up to 8 per read event; pausing the upstream or closing ends the loop).
    private func upstreamRead(_ chunk: UnsafeRawBufferPointer) {
        guard let upstream, phase == .relaying || phase == .draining || saslExchange != nil else { return }
        touch()
        let n = chunk.count
        var clientKeepsUp = true
        do {
            try relay.relay(
                chunk, inflight: &inflight,
                needsRewrite: {
                    $0.apiKey == ApiKey.initProducerId.rawValue || $0.apiKey == ApiKey.syncGroup.rawValue
                        || ResponseRewriter.needsRewrite(apiKey: $0.apiKey, apiVersion: $0.apiVersion)
                },
                rewrite: { request, payload throws(ProxyStreamError) in try rewrite(request, payload) },
                isStray: { correlationId in
                    recentAcksZeroCount > 0 && recentAcksZero.prefix(recentAcksZeroCount).contains(correlationId)
                },
                onResponse: { request, _ in
                    loopMetrics.recordLatency(apiKey: request.apiKey,
                        nanoseconds: DispatchTime.now().uptimeNanoseconds &- request.startNanos)
                },
                onProxyResponse: { request, payload throws(ProxyStreamError) in try proxyResponse(request, payload) },
                emit: { output in
                    switch output {
                    case .borrowed(let bytes): clientKeepsUp = client.send(bytes) && clientKeepsUp
                    case .owned(let bytes): clientKeepsUp = client.send(bytes) && clientKeepsUp
                    }
                })
        } catch {
            close(reason: error.reason.rawValue, level: .warning,
                  "closing connection: broker \(upstreamName) sent a bad response: \(error.detail)")
            return
        }
        context.metrics.bytesFromBrokers.increment(by: Int64(n))
        if refusingClientSASL && inflight.isEmpty && relay.isAtFrameBoundary {
            queue.async { [self] in
                guard phase == .relaying, refusingClientSASL else { return }
                if relayPendingRequests() { client.resumeReading() }
            }
        }
        if phase == .draining { closeIfDrained() }
        if client.isClosed || phase == .closed { return }
        if !clientKeepsUp {
            upstream.pauseReading()
        }
    }

    private func rewrite(_ request: InflightRequest, _ payload: [UInt8]) throws(ProxyStreamError) -> [UInt8] {
        if request.apiKey == ApiKey.syncGroup.rawValue {
            if let clientId, Self.syncGroupSucceeded(payload, version: request.apiVersion) {
                context.groups.rejoined(clientId: clientId, cluster: cluster)
            }
            return payload
        }
        if request.apiKey == ApiKey.initProducerId.rawValue {
            // Remember which cluster issued the id, then relay the answer untouched.
            if let response = try? InitProducerIdResponse.decode(payload: payload, version: request.apiVersion),
               response.errorCode == 0, response.producerId >= 0 {
                context.producerIds.recordIssued(response.producerId, by: cluster)
            }
            return payload
        }
        if request.apiKey == ApiKey.apiVersions.rawValue, translatesProducers,
           payload.count > 4, let offered = try? ApiVersionsResponse.decode(Array(payload[4...]), version: request.apiVersion),
           let entry = offered.apiKeys.first(where: { $0.apiKey == ApiKey.initProducerId.rawValue }) {
            // v0-4 are the layouts this proxy encodes.
            initProducerIdVersion = min(entry.maxVersion, 4)
        }
        return try context.rewriter.rewrite(request: request, payload: payload, clearLeaderEpochs: hidesLeaderEpochs) {
            endpoint throws(ProxyStreamError) in
            do throws(BrokerDirectory.Failure) {
                return try context.directory.localPort(cluster: cluster, endpoint: endpoint)
            } catch {
                throw ProxyStreamError(.undecodableResponse, error.description)
            }
        }
    }

}
