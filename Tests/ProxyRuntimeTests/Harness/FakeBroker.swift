#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import KafkaProtocol

/// One request frame as the fake broker framed it (by its 4-byte size).
struct BrokerRequest: Sendable {
    /// The whole frame, size prefix included, exactly as it arrived.
    let frame: [UInt8]
    let apiKey: Int16
    let apiVersion: Int16
    let correlationId: Int32
    let clientId: String?
}

/// What the broker does about one request.
enum BrokerAction: Sendable {
    case respond([UInt8])
    /// Closes the connection (FIN) after whatever was queued before it.
    case close
}

/// A Kafka broker stand-in on 127.0.0.1: accepts, frames requests by their size, and answers by a
/// per-test script. Plain blocking sockets and threads: it must not share any code with the proxy.
///
/// The proxy's own health probe (client id `kafka-proxy-probe`) also connects here; those
/// connections are answered (ApiVersions v0, Metadata v1 with `probeBrokers`) and kept out of
/// `connections`, so tests only see connections made for their clients.
final class FakeBroker: @unchecked Sendable {
    typealias Script = @Sendable (BrokerConnection, BrokerRequest) -> [BrokerAction]

    let port: UInt16
    private let listenFD: Int32
    private let lock = NSLock()
    private var all: [BrokerConnection] = []
    private var stopped = false
    private var readGateOpen = true
    private var probeAnswers = 0
    private let script: Script
    /// Brokers named in the Metadata answer to the proxy's probe (default: this broker, node 1).
    var probeBrokers: [MetadataResponse.Broker]

    init(script: @escaping Script = FakeBroker.echoNothing) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            Glibc.close(fd)
            throw HarnessError("bind/listen: errno \(errno)")
        }
        listenFD = fd
        port = boundPort(fd)
        probeBrokers = []
        probeBrokers = [MetadataResponse.Broker(nodeId: 1, host: "127.0.0.1", port: Int32(port))]
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "fake-broker-accept-\(port)"
        thread.start()
    }

    static let echoNothing: Script = { _, _ in [] }

    /// Connections made for clients, oldest first: those whose first request is not the probe's.
    /// A connection that has sent nothing yet is not here: it may still turn out to be a probe.
    var connections: [BrokerConnection] {
        lock.withLock { all.filter { $0.kind == .client } }
    }

    /// Every connection not known to be the probe's, including those that sent nothing (yet).
    var nonProbeConnections: [BrokerConnection] {
        lock.withLock { all.filter { $0.kind != .probe } }
    }

    /// True once every connection not known to be the probe's is closed by the proxy (and there is one).
    var allClientUpstreamsClosed: Bool {
        let candidates = nonProbeConnections
        return !candidates.isEmpty && candidates.allSatisfy(\.peerHasClosed)
    }

    /// Metadata answers given to the proxy's probe.
    var probesAnswered: Int { lock.withLock { probeAnswers } }

    /// Every request of every client connection, in arrival order per connection.
    var requests: [BrokerRequest] { connections.flatMap(\.requests) }

    /// While closed, new and existing connections stop reading (their kernel buffers fill up).
    func closeReadGate() { lock.withLock { readGateOpen = false } }
    func openReadGate() { lock.withLock { readGateOpen = true } }
    var isReadGateOpen: Bool { lock.withLock { readGateOpen } }

    func stop() {
        let connections = lock.withLock { () -> [BrokerConnection] in
            stopped = true
            return all
        }
        shutdown(listenFD, Int32(SHUT_RDWR))
        for connection in connections { connection.abort() }
    }

    var isStopped: Bool { lock.withLock { stopped } }

    private func acceptLoop() {
        defer { Glibc.close(listenFD) }
        while !isStopped {
            var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = BrokerConnection(fd: fd, broker: self)
            let accepted = lock.withLock { () -> Bool in
                guard !stopped else { return false }
                all.append(connection)
                return true
            }
            guard accepted else {
                Glibc.close(fd)
                return
            }
            let thread = Thread { [self] in readLoop(connection) }
            thread.name = "fake-broker-conn"
            thread.start()
        }
    }

    private func readLoop(_ connection: BrokerConnection) {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var pending: [UInt8] = []
        defer { connection.readerFinished() }
        while true {
            if !isReadGateOpen {
                if connection.isClosedByBroker { return }
                usleep(2000)
                continue
            }
            var pfd = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 50)
            if ready == 0 {
                if isStopped || connection.isClosedByBroker { return }
                continue
            }
            let n = buffer.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                connection.peerClosed(reset: n < 0)
                return
            }
            connection.received(buffer[..<n])
            pending += buffer[..<n]
            while pending.count >= 4 {
                let size = Int(Int32(bigEndianBytes: pending))
                guard size >= 0 else {
                    // Not a frame the proxy should ever forward; record it and stop framing.
                    connection.sawInvalidFrame()
                    pending.removeAll()
                    break
                }
                guard pending.count >= 4 + size else { break }
                let frame = Array(pending[..<(4 + size)])
                pending.removeFirst(4 + size)
                let request = BrokerRequest(parsing: frame)
                connection.record(request)
                let actions = connection.isProbe ? probeAnswer(request) : script(connection, request)
                for action in actions {
                    switch action {
                    case .respond(let bytes): connection.send(bytes)
                    case .close: connection.close()
                    }
                }
            }
        }
    }

    private func probeAnswer(_ request: BrokerRequest) -> [BrokerAction] {
        switch request.apiKey {
        case ApiKey.apiVersions.rawValue:
            return [.respond(Frames.apiVersionsResponse(correlationId: request.correlationId, version: request.apiVersion))]
        case ApiKey.metadata.rawValue:
            lock.withLock { probeAnswers += 1 }
            return [.respond(Frames.metadataResponse(correlationId: request.correlationId, version: request.apiVersion,
                                                     brokers: probeBrokers))]
        default:
            return [.close]
        }
    }
}

/// One connection the proxy made to the fake broker.
final class BrokerConnection: @unchecked Sendable {
    let fd: Int32
    /// The fake broker's listening port.
    let brokerPort: UInt16
    private weak var broker: FakeBroker?
    private let lock = NSLock()
    private var frames: [BrokerRequest] = []
    private var rawBytes = 0
    private var probe: Bool?
    private var eof = false
    private var reset = false
    private var closedByBroker = false
    private var invalidFrame = false
    private var fdClosed = false
    private var sent = 0
    /// Writes are blocking and ordered; a full socket blocks only this queue (and `bytesSent` stops growing).
    private let writer: DispatchQueue

    init(fd: Int32, broker: FakeBroker) {
        self.fd = fd
        self.broker = broker
        brokerPort = broker.port
        writer = DispatchQueue(label: "fake-broker-writer-\(fd)")
    }

    enum Kind { case probe, client }
    /// Known from the first request: the proxy's probe names its client id. nil until then.
    var kind: Kind? { lock.withLock { probe.map { $0 ? .probe : .client } } }
    var isProbe: Bool { kind == .probe }
    var requests: [BrokerRequest] { lock.withLock { frames } }
    /// Every byte the proxy wrote to this connection, frames or not.
    var bytesReceived: Int { lock.withLock { rawBytes } }
    /// The proxy closed its side (FIN or RST).
    var peerHasClosed: Bool { lock.withLock { eof } }
    var peerReset: Bool { lock.withLock { reset } }
    var isClosedByBroker: Bool { lock.withLock { closedByBroker } }
    var receivedInvalidFrame: Bool { lock.withLock { invalidFrame } }
    /// Bytes the kernel took from `send` so far.
    var bytesSent: Int { lock.withLock { sent } }

    fileprivate func received(_ bytes: ArraySlice<UInt8>) { lock.withLock { rawBytes += bytes.count } }

    fileprivate func record(_ request: BrokerRequest) {
        lock.withLock {
            if probe == nil { probe = request.clientId == "kafka-proxy-probe" }
            frames.append(request)
        }
    }

    fileprivate func sawInvalidFrame() { lock.withLock { invalidFrame = true } }

    fileprivate func peerClosed(reset: Bool) {
        lock.withLock {
            eof = true
            self.reset = reset
        }
    }

    fileprivate func readerFinished() {
        // Unblocks a writer stuck on a full socket, then closes the fd where no other thread uses it.
        abort()
        writer.sync {}
        lock.withLock {
            fdClosed = true
            Glibc.close(fd)
        }
    }

    /// FIN (and the end of reading) at once, whatever is still queued.
    func abort() {
        lock.withLock {
            closedByBroker = true
            if !fdClosed { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Queues `bytes` for writing, after everything queued before.
    func send(_ bytes: [UInt8]) {
        writer.async { [self] in
            var offset = 0
            while offset < bytes.count {
                if isClosedByBroker { return }
                let chunk = min(64 * 1024, bytes.count - offset)
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, chunk, Int32(MSG_NOSIGNAL)) }
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    return
                }
                offset += n
                lock.withLock { sent += n }
            }
        }
    }

    /// FIN to the proxy once the queued writes are out; the reader then stops.
    func close() {
        writer.async { [self] in abort() }
    }
}

extension BrokerRequest {
    init(parsing frame: [UInt8]) {
        self.frame = frame
        let parsed = try? RequestHeader.parse(Array(frame[4...]))
        if let header = parsed?.header {
            apiKey = header.apiKey
            apiVersion = header.apiVersion
            correlationId = header.correlationId
            clientId = header.clientId
        } else {
            apiKey = frame.count >= 6 ? Int16(bigEndianBytes: Array(frame[4...5])) : -1
            apiVersion = -1
            correlationId = frame.count >= 12 ? Int32(bigEndianBytes: Array(frame[8...11])) : -1
            clientId = nil
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Int32 {
    init(bigEndianBytes b: [UInt8]) {
        self = Int32(bitPattern: UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3]))
    }
}

extension Int16 {
    init(bigEndianBytes b: [UInt8]) {
        self = Int16(bitPattern: UInt16(b[0]) << 8 | UInt16(b[1]))
    }
}

extension sockaddr_in {
    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

func boundPort(_ fd: Int32) -> UInt16 {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// Polls `condition` until it holds or `timeout` passes.
@discardableResult
func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(5000)
    }
    return condition()
}
