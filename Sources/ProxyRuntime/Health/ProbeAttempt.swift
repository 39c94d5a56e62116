import Dispatch
import KafkaProtocol
import ProxyCore
import ProxySASL
import ProxyTLS
import Reactor

struct ProbeError: Error, CustomStringConvertible {
    var description: String
}

/// What a successful probe learned.
struct ProbeAnswer: Sendable {
    var brokers: [BrokerEndpoint]
    /// The broker's ApiVersions ranges (nil only when a SASL login ran without them).
    var apiVersions: ApiVersionRanges?
}

/// One health check of one broker: the connection a client would get (UpstreamDialer: TCP, TLS;
/// LoginDriver: SASL), then ApiVersions (or the login's own) and Metadata without topics, framed
/// by the same `ResponseRelay` as client traffic. Confined to `queue`.
final class ProbeAttempt: @unchecked Sendable, SocketChannelDelegate {
    private enum Phase { case connecting, login, apiVersions, metadata, done }

    private let target: UpstreamDialer.Target
    private let cluster: ProxyConfig.Cluster
    private let tls: TLSMaterials?
    private let queue: DispatchQueue
    private let timeoutSeconds: Int
    private let completion: (Result<ProbeAnswer, ProbeError>) -> Void
    private var phase = Phase.connecting
    private var channel: SocketChannel?
    private var timer: (any DispatchSourceTimer)?
    private var login: LoginDriver?
    private var apiVersions: ApiVersionRanges?
    private var responses = ResponseRelay(maxFrameBytes: 16 << 20)
    private var inflight = InflightQueue(capacity: 2)
    private var nextCorrelationId: Int32 = 0x6b70_7278
    private static let clientId = "kafka-proxy-probe"

    init(target: UpstreamDialer.Target, cluster: ProxyConfig.Cluster, tls: TLSMaterials?, queue: DispatchQueue,
         timeoutSeconds: Int, completion: @escaping (Result<ProbeAnswer, ProbeError>) -> Void) {
        self.target = target
        self.cluster = cluster
        self.tls = tls
        self.queue = queue
        self.timeoutSeconds = timeoutSeconds
        self.completion = completion
    }

    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [self] in
            let sasl = login.map { " (SASL \($0.mechanism.rawValue) login: \($0.waitingDescription))" } ?? ""
            fail("no answer within \(timeoutSeconds)s\(sasl)\(channel?.tlsStallHint ?? "")")
        }
        timer.schedule(deadline: .now() + .seconds(timeoutSeconds))
        timer.activate()
        self.timer = timer
        do throws(UpstreamDialer.DialError) {
            channel = try UpstreamDialer.open(target, cluster: cluster, tls: tls, queue: queue, loop: nil, delegate: self)
        } catch {
            fail(error.description)
        }
    }

    func cancel() { fail("cancelled") }

    private func fail(_ description: String) { finish(.failure(ProbeError(description: description))) }

    private func finish(_ result: Result<ProbeAnswer, ProbeError>) {
        guard phase != .done else { return }
        phase = .done
        login?.cancel()
        login = nil
        timer?.cancel()
        timer?.setEventHandler(handler: nil)
        channel?.close()
        channel = nil
        completion(result)
    }

    // MARK: SocketChannelDelegate

    func channelConnected(_ channel: SocketChannel) {
        if !channel.isTLS { ready(channel) }
    }

    func channelHandshakeCompleted(_ channel: SocketChannel) { ready(channel) }

    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) {
        var index = 0
        do throws(ProxyStreamError) {
            while phase != .done,
                  let event = try responses.next(bytes, &index, inflight: &inflight, rewrites: { _ in false },
                                                 strays: StrayResponses()) {
                if case .proxyResponse(let request, let payload) = event { handle(request, payload, channel) }
            }
        } catch {
            fail("bad response: \(error.detail)")
        }
    }

    func channelEOF(_ channel: SocketChannel) {
        fail(phase == .login ? "broker closed the connection during the SASL login"
                             : "broker closed the connection before answering")
    }

    func channelFailed(_ channel: SocketChannel, _ error: ChannelError) { fail(error.description) }

    // MARK: the exchange

    private func ready(_ channel: SocketChannel) {
        guard phase == .connecting else { return }
        channel.resumeReading()
        // SASL clusters: the probe logs in too, so bad credentials show on /readyz without client traffic.
        guard let credentials = cluster.sasl else {
            phase = .apiVersions
            // v0 (request header v1): every broker answers it.
            send(ApiKey.apiVersions, version: 0, body: [], on: channel)
            return
        }
        phase = .login
        let login = LoginDriver(credentials: credentials, serverHost: hostOf(target.name), brokerVersions: nil,
                                clientId: Self.clientId, lane: cluster.name, queue: queue) { [weak self] step in
            guard let self, phase == .login, let channel = self.channel else { return }
            switch step {
            case .send(let request):
                inflight.append(InflightRequest(correlationId: request.correlationId, apiKey: request.apiKey,
                                                apiVersion: request.apiVersion, startNanos: 0, fromProxy: true))
                channel.send(request.frame)
            case .authenticated:
                // The login's own ApiVersions (v3) answer.
                apiVersions = self.login?.brokerVersions.map(ApiVersionRanges.init)
                requestBrokers(channel)
            case .failed(let error):
                fail(error.description)
            }
        }
        self.login = login
        login.start()
    }

    private func handle(_ request: InflightRequest, _ payload: [UInt8], _ channel: SocketChannel) {
        switch phase {
        case .login:
            login?.receive(payload)
        case .apiVersions:
            // Correlation id (checked by the relay), then error_code.
            guard payload.count >= 6 else { return fail("ApiVersions answer of \(payload.count) bytes") }
            let errorCode = Int16(bitPattern: UInt16(payload[4]) << 8 | UInt16(payload[5]))
            guard errorCode == 0 else { return fail("ApiVersions answered error code \(errorCode)") }
            var reader = ByteReader(payload, from: 4)
            do {
                apiVersions = ApiVersionRanges(try ApiVersionsResponse.decode(from: &reader, version: 0))
            } catch {
                return fail("undecodable ApiVersions v0 answer: \(error)")
            }
            requestBrokers(channel)
        case .metadata:
            // The cluster answered already; brokers are a bonus, so a Metadata problem is no failure.
            var reader = ByteReader(payload)
            let brokers = (try? ResponseHeader.decode(from: &reader, headerVersion: 0))
                .flatMap { _ in try? MetadataResponse.decode(from: &reader, version: 1) }?
                .brokers.map { BrokerEndpoint(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) } ?? []
            finish(.success(ProbeAnswer(brokers: brokers, apiVersions: apiVersions)))
        case .connecting, .done:
            break
        }
    }

    /// Metadata v1 with an empty topic list: the brokers and nothing else.
    private func requestBrokers(_ channel: SocketChannel) {
        phase = .metadata
        login = nil
        send(ApiKey.metadata, version: 1, body: [0, 0, 0, 0], on: channel)
    }

    private func send(_ api: ApiKey, version: Int16, body: [UInt8], on channel: SocketChannel) {
        let correlationId = nextCorrelationId
        nextCorrelationId &+= 1
        inflight.append(InflightRequest(correlationId: correlationId, apiKey: api.rawValue, apiVersion: version,
                                        startNanos: 0, fromProxy: true))
        let header = RequestHeader(apiKey: api.rawValue, apiVersion: version, correlationId: correlationId,
                                   clientId: Self.clientId)
        channel.send(KafkaFrame.request(header: header, body: body))
    }
}
