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

/// Which upstream a client connection is for.
enum Route: Sendable, CustomStringConvertible {
    case bootstrap
    case broker(nodeId: Int32)

    var description: String {
        switch self {
        case .bootstrap: "bootstrap"
        case .broker(let nodeId): "broker \(nodeId)"
        }
    }
}

/// One client connection and its upstream broker connection, relayed frame by frame.
///
/// Both sockets, the timer and all state are confined to `queue` (a serial queue targeting the
/// loop's queue), so nothing here takes a lock. The request path: client readable -> read into
/// the loop buffer -> `RequestObserver` notes the frame -> the same bytes go to the broker.
/// The response path: broker readable -> `ResponseRelay` streams or rewrites -> client.
final class ProxySession: @unchecked Sendable, SocketChannelDelegate {
    enum Phase { case connecting, relaying, draining, closed }

    let id: UInt64
    let route: Route
    let clientAddress: SocketAddress
    private let loop: EventLoop
    let queue: DispatchQueue
    private let context: ProxyContext
    private let loopMetrics: LoopMetrics
    private var logger: Logger

    private let client: SocketChannel
    private var upstream: SocketChannel?
    private var upstreamName = ""
    private var targets: [SocketAddress] = []
    private var targetNames: [String] = []

    private var phase = Phase.connecting
    private var requests: RequestObserver
    private var relay: ResponseRelay
    private var inflight = InflightQueue()

    private let timer: any DispatchSourceTimer
    private var lastActivity: UInt64
    private let idleTimeoutNanos: UInt64
    private var drainDeadline: UInt64 = 0

    init(id: UInt64, fd: Int32, clientAddress: SocketAddress, route: Route, loop: EventLoop,
         loopMetrics: LoopMetrics, context: ProxyContext, limits: ProxyConfig.Limits) {
        self.id = id
        self.route = route
        self.clientAddress = clientAddress
        self.loop = loop
        self.loopMetrics = loopMetrics
        self.context = context
        queue = loop.makeConnectionQueue(label: "kafka-proxy.conn.\(id)")
        client = SocketChannel(fd: fd, queue: queue)
        requests = RequestObserver(maxFrameBytes: limits.maxRequestBytes)
        relay = ResponseRelay(maxFrameBytes: limits.maxResponseBytes)
        idleTimeoutNanos = UInt64(limits.idleTimeoutSeconds) * 1_000_000_000
        lastActivity = DispatchTime.now().uptimeNanoseconds
        timer = DispatchSource.makeTimerSource(queue: queue)
        logger = context.logger
        logger[metadataKey: "conn"] = "\(id)"
        logger[metadataKey: "client"] = "\(clientAddress)"
        logger[metadataKey: "route"] = "\(route)"
        Syscall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    // MARK: lifecycle

    func start(upstreams: [ProxyConfig.HostPort]) {
        client.delegate = self
        timer.setEventHandler { [self] in timerFired() }
        timer.schedule(deadline: .now() + .seconds(context.connectTimeoutSeconds), leeway: .milliseconds(100))
        timer.activate()
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
        let channel = SocketChannel(fd: fd, queue: queue)
        channel.delegate = self
        upstream = channel
        channel.awaitConnect()
    }

    private func upstreamConnected() {
        phase = .relaying
        logger[metadataKey: "upstream"] = "\(upstreamName)"
        logger.debug("relaying")
        touch()
        rearmIdleTimer()
        client.resumeReading()
        upstream?.resumeReading()
    }

    private func close(reason: String?, level: Logger.Level, _ message: @autoclosure () -> String) {
        guard phase != .closed else { return }
        phase = .closed
        if let reason { context.metrics.recordError(reason) }
        logger.log(level: level, "\(message())")
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
        case .connecting:
            context.metrics.upstreamConnectFailures.increment()
            close(reason: "upstream_connect_timeout", level: .warning,
                  "connecting to \(route) (\(upstreamName)) timed out after \(context.connectTimeoutSeconds)s")
        case .relaying:
            if now >= lastActivity + idleTimeoutNanos {
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

    func channelReadable(_ channel: SocketChannel) {
        if channel === client {
            clientReadable()
        } else if channel === upstream {
            upstreamReadable()
        }
    }

    func channelWritable(_ channel: SocketChannel) {
        if channel === upstream {
            if phase == .connecting {
                upstreamConnected()
            } else if phase == .relaying {
                client.resumeReading()
            }
        } else if channel === client {
            if phase == .draining {
                closeIfDrained()
            } else {
                upstream?.resumeReading()
            }
        }
    }

    func channelFailed(_ channel: SocketChannel, _ error: SyscallError) {
        if channel === upstream && phase == .connecting {
            channel.close()
            upstream = nil
            connectNext(lastError: "\(upstreamName): \(error)")
            return
        }
        let side = channel === client ? "client" : "broker"
        if error.isDisconnect {
            close(reason: nil, level: .debug, "\(side) disconnected: \(error)")
        } else {
            close(reason: "\(side)_io_error", level: .warning, "\(side) socket error: \(error)")
        }
    }

    // MARK: request path

    private func clientReadable() {
        guard let upstream, phase == .relaying else { return }
        let buffer = loop.readBuffer
        touch()
        // A few reads per event, then yield the loop to other connections.
        for _ in 0..<8 {
            let n: Int
            do {
                switch try client.read(into: buffer) {
                case .done(let count): n = count
                case .wouldBlock: return
                }
            } catch {
                channelFailed(client, error)
                return
            }
            if n == 0 {
                close(reason: nil, level: .debug, "client closed the connection")
                return
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
            do {
                try requests.observe(chunk) { request in requestSeen(request) }
            } catch {
                close(reason: error.reason.rawValue, level: .warning, "closing client connection: \(error.detail)")
                return
            }
            context.metrics.bytesFromClients.increment(by: Int64(n))
            if !upstream.send(chunk) {
                if !upstream.isClosed { client.pauseReading() }
                return
            }
            // A short read means the socket is drained; skip the read that would return EAGAIN.
            if n < buffer.count { return }
        }
    }

    private func requestSeen(_ request: ObservedRequest) {
        loopMetrics.countRequest(apiKey: request.apiKey, apiVersion: request.apiVersion)
        if request.expectsResponse {
            inflight.append(InflightRequest(correlationId: request.correlationId, apiKey: request.apiKey,
                                            apiVersion: request.apiVersion,
                                            startNanos: DispatchTime.now().uptimeNanoseconds))
        }
    }

    // MARK: response path

    private func upstreamReadable() {
        guard let upstream, phase == .relaying || phase == .draining else { return }
        let buffer = loop.readBuffer
        touch()
        for _ in 0..<8 {
            let n: Int
            do {
                switch try upstream.read(into: buffer) {
                case .done(let count): n = count
                case .wouldBlock: return
                }
            } catch {
                channelFailed(upstream, error)
                return
            }
            if n == 0 {
                let outstanding = inflight.count
                close(reason: outstanding > 0 ? "broker_closed" : nil, level: outstanding > 0 ? .warning : .debug,
                      "broker \(upstreamName) closed the connection with \(outstanding) responses outstanding")
                return
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
            var clientKeepsUp = true
            do {
                try relay.relay(
                    chunk, inflight: &inflight,
                    needsRewrite: { ResponseRewriter.needsRewrite(apiKey: $0.apiKey, apiVersion: $0.apiVersion) },
                    rewrite: { request, payload throws(ProxyStreamError) in try rewrite(request, payload) },
                    onResponse: { request, _ in
                        loopMetrics.recordLatency(apiKey: request.apiKey,
                            nanoseconds: DispatchTime.now().uptimeNanoseconds &- request.startNanos)
                    },
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
            if phase == .draining { closeIfDrained() }
            if client.isClosed || phase == .closed { return }
            if !clientKeepsUp {
                upstream.pauseReading()
                return
            }
            if n < buffer.count { return }
        }
    }

    private func rewrite(_ request: InflightRequest, _ payload: [UInt8]) throws(ProxyStreamError) -> [UInt8] {
        try context.rewriter.rewrite(request: request, payload: payload) { endpoint throws(ProxyStreamError) in
            do throws(BrokerDirectory.Failure) {
                return try context.directory.localPort(for: endpoint)
            } catch {
                throw ProxyStreamError(.undecodableResponse, error.description)
            }
        }
    }
}
