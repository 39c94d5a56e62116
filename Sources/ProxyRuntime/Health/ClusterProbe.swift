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
import Synchronization

/// The outcome of the newest probe of a cluster.
struct ProbeResult: Sendable {
    var cluster: String = ""
    var ok: Bool
    /// The cluster's brokers (Metadata without topics), so their ports are known before any client asks.
    var brokers: [BrokerEndpoint] = []
    var atNanos: UInt64
    var broker: String
    var detail: String
}

/// Probes one cluster every `intervalSeconds`: connect to a bootstrap server, send ApiVersions v0,
/// wait for its answer. Results feed /readyz and the failover controller. Confined to `queue`,
/// except `latest`.
final class ClusterProbe: @unchecked Sendable {
    private let queue = DispatchQueue(label: "kafka-proxy.probe")
    private let timeoutSeconds: Int
    private let onResult: @Sendable (ProbeResult) -> Void
    private var intervalSeconds = 0
    private var timer: (any DispatchSourceTimer)?
    private var cluster: ProxyConfig.Cluster?
    private var attempt: ProbeAttempt?
    private var generation = 0
    private let latestResult = Mutex<ProbeResult?>(nil)
    /// TLS clusters are probed over TLS (the same material and verification as connections).
    private let tls: TLSMaterials?

    init(timeoutSeconds: Int = 5, tls: TLSMaterials? = nil, onResult: @escaping @Sendable (ProbeResult) -> Void) {
        self.timeoutSeconds = timeoutSeconds
        self.tls = tls
        self.onResult = onResult
    }

    var latest: ProbeResult? { latestResult.withLock { $0 } }

    /// Starts probing, or re-targets a running probe (new bootstrap servers or interval).
    func start(cluster: ProxyConfig.Cluster, intervalSeconds: Int) {
        queue.async { [self] in
            if self.cluster == cluster && self.intervalSeconds == intervalSeconds && timer != nil { return }
            let retarget = self.cluster != cluster
            self.cluster = cluster
            self.intervalSeconds = intervalSeconds
            if retarget {
                generation += 1
                attempt?.cancel()
                attempt = nil
            }
            if timer == nil {
                let timer = DispatchSource.makeTimerSource(queue: queue)
                timer.setEventHandler { [weak self] in self?.probeNow() }
                timer.activate()
                self.timer = timer
            }
            timer?.schedule(deadline: .now(), repeating: .seconds(intervalSeconds), leeway: .milliseconds(100))
        }
    }

    func stop() {
        queue.async { [self] in
            timer?.cancel()
            timer?.setEventHandler(handler: nil)
            timer = nil
            attempt?.cancel()
            attempt = nil
        }
    }

    private func probeNow() {
        guard let cluster, attempt == nil else { return }
        let generation = self.generation
        let servers = cluster.bootstrapServers
        DispatchQueue.global().async { [self] in
            var candidates: [(String, SocketAddress)] = []
            var errors: [String] = []
            for server in servers {
                do throws(ResolveError) {
                    for address in try SocketAddress.resolve(host: server.host, port: server.port) {
                        candidates.append((server.description, address))
                    }
                } catch {
                    errors.append(error.description)
                }
            }
            queue.async { [self, candidates, errors] in
                guard generation == self.generation else { return }
                tryNext(candidates[...], errors: errors, generation: generation)
            }
        }
    }

    private func tryNext(_ candidates: ArraySlice<(String, SocketAddress)>, errors: [String], generation: Int) {
        guard let (name, address) = candidates.first else {
            record(ProbeResult(ok: false, atNanos: DispatchTime.now().uptimeNanoseconds, broker: "",
                               detail: errors.joined(separator: "; ")))
            return
        }
        var engine: TLSEngine?
        if let tls, let cluster {
            do throws(TLSError) {
                engine = try tls.clientEngine(cluster: cluster, host: hostOf(name))
            } catch {
                tryNext(candidates.dropFirst(), errors: errors + ["\(name): TLS: \(error.message)"], generation: generation)
                return
            }
        }
        // SASL clusters: the probe logs in too, so bad credentials show on /readyz without client traffic.
        let sasl = cluster?.sasl?.credentials
        let attempt = ProbeAttempt(address: address, queue: queue, timeoutSeconds: timeoutSeconds, tls: engine,
                                   sasl: sasl, serverHost: hostOf(name), lane: cluster?.name ?? "") { [self] result in
            self.attempt = nil
            guard generation == self.generation else { return }
            switch result {
            case .success(let brokers):
                record(ProbeResult(ok: true, brokers: brokers, atNanos: DispatchTime.now().uptimeNanoseconds, broker: name,
                                   detail: sasl.map { "ApiVersions answered, SASL \($0.mechanism.rawValue) login succeeded" } ?? "ApiVersions answered"))
            case .failure(let error):
                tryNext(candidates.dropFirst(), errors: errors + ["\(name): \(error)"], generation: generation)
            }
        }
        self.attempt = attempt
        attempt.start()
    }

    private func record(_ result: ProbeResult) {
        var result = result
        result.cluster = cluster?.name ?? ""
        latestResult.withLock { [result] in $0 = result }
        onResult(result)
    }
}

struct ProbeError: Error, CustomStringConvertible {
    var description: String
}

/// One ApiVersions round trip. Confined to `queue`.
private final class ProbeAttempt: @unchecked Sendable, SocketChannelDelegate {
    private let address: SocketAddress
    private let queue: DispatchQueue
    private let timeoutSeconds: Int
    private let completion: (Result<[BrokerEndpoint], ProbeError>) -> Void
    private enum Phase { case login, metadata }
    private var phase = Phase.login
    private var channel: SocketChannel?
    private let tls: TLSEngine?
    private var timer: (any DispatchSourceTimer)?
    private var received: [UInt8] = []
    private var done = false
    private var sent = false
    private static let correlationId: Int32 = 0x6b70_7278
    /// SASL clusters: a login (ApiVersions v3, SaslHandshake, SaslAuthenticate) instead of ApiVersions v0.
    private let saslCredentials: SASLCredentials?
    private let serverHost: String
    private let lane: String
    /// The login's steps run off `queue` (they may wait for a KDC); results come back on it.
    private var login: LoginDriver?

    init(address: SocketAddress, queue: DispatchQueue, timeoutSeconds: Int, tls: TLSEngine? = nil,
         sasl: SASLCredentials? = nil, serverHost: String = "", lane: String = "",
         completion: @escaping (Result<[BrokerEndpoint], ProbeError>) -> Void) {
        self.saslCredentials = sasl
        self.serverHost = serverHost
        self.lane = lane
        self.address = address
        self.tls = tls
        self.queue = queue
        self.timeoutSeconds = timeoutSeconds
        self.completion = completion
    }

    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [self] in
            let sasl = login.map { " (SASL \($0.mechanism.rawValue) login: \($0.waitingDescription))" } ?? ""
            finish(.failure(ProbeError(description: "no answer within \(timeoutSeconds)s\(sasl)\(self.channel?.tlsStallHint ?? "")")))
        }
        timer.schedule(deadline: .now() + .seconds(timeoutSeconds))
        timer.activate()
        self.timer = timer
        let fd = CProxyShims_socket_nonblocking(address.family, CProxyShims_SOCK_STREAM, 0)
        guard fd >= 0 else {
            finish(.failure(ProbeError(description: SyscallError(call: "socket", errno: errno).description)))
            return
        }
        if address.withSockAddr({ Glibc.connect(fd, $0, $1) }) != 0 && errno != EINPROGRESS {
            let error = SyscallError(call: "connect", errno: errno)
            Glibc.close(fd)
            finish(.failure(ProbeError(description: error.description)))
            return
        }
        let channel = SocketChannel(fd: fd, queue: queue)
        channel.delegate = self
        self.channel = channel
        if let tls { channel.startTLS(tls) }  // channelWritable then comes after the handshake
        channel.awaitConnect()
    }

    func cancel() {
        finish(.failure(ProbeError(description: "cancelled")))
    }

    private func finish(_ result: Result<[BrokerEndpoint], ProbeError>) {
        guard !done else { return }
        done = true
        login?.cancel()
        login = nil
        timer?.cancel()
        timer?.setEventHandler(handler: nil)
        channel?.close()
        channel = nil
        completion(result)
    }

    func channelReadable(_ channel: SocketChannel) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while !done {
            let result = buffer.withUnsafeMutableBytes { raw in Result { () throws(SyscallError) in try channel.read(into: raw) } }
            switch result {
            case .failure(let error):
                finish(.failure(ProbeError(description: error.description)))
                return
            case .success(.wouldBlock):
                return
            case .success(.done(0)):
                finish(.failure(ProbeError(description: login != nil
                    ? "broker closed the connection during the SASL login"
                    : "broker closed the connection before answering")))
                return
            case .success(.done(let n)):
                received += buffer[..<n]
            }
            while !done, received.count >= 4 {
                let size = Int(Int32(bitPattern: UInt32(received[0]) << 24 | UInt32(received[1]) << 16
                    | UInt32(received[2]) << 8 | UInt32(received[3])))
                guard size >= 4, size <= 16 << 20 else {
                    finish(.failure(ProbeError(description: "invalid response size \(size)")))
                    return
                }
                guard received.count >= 4 + size else { break }
                let payload = Array(received[4..<(4 + size)])
                received.removeFirst(4 + size)
                handle(payload, channel)
            }
        }
    }

    private func handle(_ payload: [UInt8], _ channel: SocketChannel) {
        switch phase {
        case .login where login != nil:
            login?.receive(payload)
        case .login:
            guard payload.count >= 6 else {
                finish(.failure(ProbeError(description: "ApiVersions answer of \(payload.count) bytes")))
                return
            }
            let correlationId = Int32(bitPattern: UInt32(payload[0]) << 24 | UInt32(payload[1]) << 16
                | UInt32(payload[2]) << 8 | UInt32(payload[3]))
            let errorCode = Int16(bitPattern: UInt16(payload[4]) << 8 | UInt16(payload[5]))
            if correlationId != Self.correlationId {
                finish(.failure(ProbeError(description: "ApiVersions answer has correlation id \(correlationId)")))
            } else if errorCode != 0 {
                finish(.failure(ProbeError(description: "ApiVersions answered error code \(errorCode)")))
            } else {
                requestBrokers(channel)
            }
        case .metadata:
            // The cluster answered already; brokers are a bonus, so a Metadata problem is no failure.
            var reader = ByteReader(payload)
            let brokers = (try? ResponseHeader.decode(from: &reader, headerVersion: 0))
                .flatMap { _ in try? MetadataResponse.decode(from: &reader, version: 1) }?
                .brokers.map { BrokerEndpoint(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) } ?? []
            finish(.success(brokers))
        }
    }

    /// Metadata v1 with an empty topic list: the brokers and nothing else.
    private func requestBrokers(_ channel: SocketChannel) {
        phase = .metadata
        login = nil
        let header = RequestHeader(apiKey: ApiKey.metadata.rawValue, apiVersion: 1,
                                   correlationId: Self.correlationId &+ 1, clientId: "kafka-proxy-probe")
        channel.send(KafkaFrame.request(header: header, body: [0, 0, 0, 0]))
    }

    func channelWritable(_ channel: SocketChannel) {
        guard !sent, !done else { return }
        sent = true
        if let saslCredentials {
            let login = LoginDriver(credentials: saslCredentials, serverHost: serverHost, brokerVersions: nil,
                                    clientId: "kafka-proxy-probe", lane: lane, queue: queue) { [weak self] step in
                guard let self, !self.done, let channel = self.channel else { return }
                self.saslAdvance(step, channel)
            }
            self.login = login
            channel.resumeReading()
            login.start()
            return
        }
        channel.send(Self.apiVersionsRequest)
        channel.resumeReading()
    }

    private func saslAdvance(_ step: SaslAuthenticator.Step, _ channel: SocketChannel) {
        switch step {
        case .send(let request): channel.send(request.frame)
        case .authenticated: requestBrokers(channel)
        case .failed(let error): finish(.failure(ProbeError(description: error.description)))
        }
    }

    func channelFailed(_ channel: SocketChannel, _ error: SyscallError) {
        finish(.failure(ProbeError(description: error.description)))
    }

    /// ApiVersions v0 (request header v1, client id "kafka-proxy-probe"): every broker answers it.
    private static let apiVersionsRequest: [UInt8] = {
        let clientId = Array("kafka-proxy-probe".utf8)
        var body: [UInt8] = [0, 18, 0, 0]
        withUnsafeBytes(of: correlationId.bigEndian) { body += $0 }
        body += [UInt8(clientId.count >> 8), UInt8(clientId.count & 0xff)] + clientId
        var frame: [UInt8] = []
        withUnsafeBytes(of: Int32(body.count).bigEndian) { frame += $0 }
        return frame + body
    }()
}
