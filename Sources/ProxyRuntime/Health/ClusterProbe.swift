#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims
import Dispatch
import Logging
import ProxyCore
import Synchronization

/// The outcome of the newest probe of a cluster.
struct ProbeResult: Sendable {
    var ok: Bool
    var atNanos: UInt64
    var broker: String
    var detail: String
}

/// Probes a cluster every few seconds: connect to a bootstrap server, send ApiVersions v0, wait
/// for its answer. Its result is what /readyz reports. Confined to `queue`, except `latest`.
final class ClusterProbe: @unchecked Sendable {
    private let queue = DispatchQueue(label: "kafka-proxy.probe")
    private let logger: Logger
    private let intervalSeconds: Int
    private let timeoutSeconds: Int
    private var timer: (any DispatchSourceTimer)?
    private var cluster: ProxyConfig.Cluster?
    private var attempt: ProbeAttempt?
    private var generation = 0
    private let latestResult = Mutex<ProbeResult?>(nil)

    init(logger: Logger, intervalSeconds: Int = 5, timeoutSeconds: Int = 5) {
        self.logger = logger
        self.intervalSeconds = intervalSeconds
        self.timeoutSeconds = timeoutSeconds
    }

    var latest: ProbeResult? { latestResult.withLock { $0 } }

    func start(cluster: ProxyConfig.Cluster) {
        queue.async { [self] in
            self.cluster = cluster
            generation += 1
            latestResult.withLock { $0 = nil }
            if timer == nil {
                let timer = DispatchSource.makeTimerSource(queue: queue)
                timer.setEventHandler { [weak self] in self?.probeNow() }
                timer.schedule(deadline: .now(), repeating: .seconds(intervalSeconds), leeway: .milliseconds(200))
                timer.activate()
                self.timer = timer
            } else {
                probeNow()
            }
        }
    }

    func stop() {
        queue.async { [self] in
            timer?.cancel()
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
                tryNext(candidates[...], errors: errors, generation: generation, cluster: cluster.name)
            }
        }
    }

    private func tryNext(_ candidates: ArraySlice<(String, SocketAddress)>, errors: [String], generation: Int,
                         cluster: String) {
        guard let (name, address) = candidates.first else {
            record(ProbeResult(ok: false, atNanos: DispatchTime.now().uptimeNanoseconds, broker: "",
                               detail: errors.joined(separator: "; ")), cluster: cluster)
            return
        }
        let attempt = ProbeAttempt(address: address, queue: queue, timeoutSeconds: timeoutSeconds) { [self] result in
            self.attempt = nil
            guard generation == self.generation else { return }
            switch result {
            case .success:
                record(ProbeResult(ok: true, atNanos: DispatchTime.now().uptimeNanoseconds, broker: name,
                                   detail: "ApiVersions answered"), cluster: cluster)
            case .failure(let error):
                tryNext(candidates.dropFirst(), errors: errors + ["\(name): \(error)"], generation: generation,
                        cluster: cluster)
            }
        }
        self.attempt = attempt
        attempt.start()
    }

    private func record(_ result: ProbeResult, cluster: String) {
        let previous = latestResult.withLock { latest in
            defer { latest = result }
            return latest
        }
        if result.ok && previous?.ok != true {
            logger.info("cluster \(cluster) is reachable (\(result.broker))")
        } else if !result.ok && previous?.ok != false {
            logger.warning("cluster \(cluster) is unreachable: \(result.detail)")
        }
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
    private let completion: (Result<Void, ProbeError>) -> Void
    private var channel: SocketChannel?
    private var timer: (any DispatchSourceTimer)?
    private var received: [UInt8] = []
    private var done = false
    private var sent = false
    private static let correlationId: Int32 = 0x6b70_7278

    init(address: SocketAddress, queue: DispatchQueue, timeoutSeconds: Int,
         completion: @escaping (Result<Void, ProbeError>) -> Void) {
        self.address = address
        self.queue = queue
        self.timeoutSeconds = timeoutSeconds
        self.completion = completion
    }

    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [self] in finish(.failure(ProbeError(description: "no answer within \(timeoutSeconds)s"))) }
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
        channel.awaitConnect()
    }

    func cancel() {
        finish(.failure(ProbeError(description: "cancelled")))
    }

    private func finish(_ result: Result<Void, ProbeError>) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer?.setEventHandler(handler: nil)
        channel?.close()
        channel = nil
        completion(result)
    }

    func channelReadable(_ channel: SocketChannel) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let result = buffer.withUnsafeMutableBytes { raw in Result { () throws(SyscallError) in try channel.read(into: raw) } }
        switch result {
        case .failure(let error):
            finish(.failure(ProbeError(description: error.description)))
        case .success(.wouldBlock):
            return
        case .success(.done(0)):
            finish(.failure(ProbeError(description: "broker closed the connection before answering ApiVersions")))
        case .success(.done(let n)):
            received += buffer[..<n]
            guard received.count >= 10 else { return }
            let correlationId = Int32(bitPattern: UInt32(received[4]) << 24 | UInt32(received[5]) << 16
                | UInt32(received[6]) << 8 | UInt32(received[7]))
            let errorCode = Int16(bitPattern: UInt16(received[8]) << 8 | UInt16(received[9]))
            if correlationId != Self.correlationId {
                finish(.failure(ProbeError(description: "ApiVersions answer has correlation id \(correlationId)")))
            } else if errorCode != 0 {
                finish(.failure(ProbeError(description: "ApiVersions answered error code \(errorCode)")))
            } else {
                finish(.success(()))
            }
        }
    }

    func channelWritable(_ channel: SocketChannel) {
        guard !sent, !done else { return }
        sent = true
        channel.send(Self.apiVersionsRequest)
        channel.resumeReading()
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
