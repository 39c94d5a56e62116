#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Prometheus
import ProxyCore
@testable import ProxyRuntime

/// A real `ProxyServer` (its listeners, loops and epoll poller) on free ports of 127.0.0.1, with a
/// config written to a temp file the way an operator would, and its own metrics registry.
final class ProxyUnderTest {
    struct Settings {
        var bootstrapServers: [String]
        var limits: [String: Int] = [:]
        var drainTimeoutSeconds = 10
        var advertisedHost = "localhost"
    }

    let server: ProxyServer
    let registry = PrometheusCollectorRegistry()
    let bootstrapPort: UInt16
    let brokerPorts: ClosedRange<UInt16>
    let adminPort: UInt16
    let configPath: String
    let logs = LogCapture()
    private(set) var settings: Settings
    private var stopped = false

    init(_ settings: Settings) throws {
        // Writes to a closed client socket must fail with EPIPE, not kill the test process
        // (the kafka-proxy executable does the same at start).
        signal(SIGPIPE, SIG_IGN)
        self.settings = settings
        bootstrapPort = try freePort()
        adminPort = try freePort()
        brokerPorts = try freePortRange(count: 4)
        configPath = NSTemporaryDirectory() + "char-proxy-\(getpid())-\(bootstrapPort).yaml"
        try Self.yaml(settings, bootstrapPort: bootstrapPort, brokerPorts: brokerPorts, adminPort: adminPort)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let config: ProxyConfig
        do {
            config = try ConfigLoader.load(path: configPath)
        } catch {
            throw HarnessError("test config rejected: \(error)")
        }
        let capture = logs
        let logger = capture.logger(label: "char-proxy", level: .debug)
        do {
            server = try ProxyServer(config: config, logger: logger, registry: registry, loops: 2)
            try server.start()
        } catch {
            throw HarnessError("proxy did not start: \(error)")
        }
    }

    convenience init(bootstrapServers: [String], limits: [String: Int] = [:], drainTimeoutSeconds: Int = 10) throws {
        try self.init(Settings(bootstrapServers: bootstrapServers, limits: limits, drainTimeoutSeconds: drainTimeoutSeconds))
    }

    static func yaml(_ s: Settings, bootstrapPort: UInt16, brokerPorts: ClosedRange<UInt16>, adminPort: UInt16) -> String {
        var text = """
        listener:
          host: 127.0.0.1
          advertisedHost: \(s.advertisedHost)
          bootstrapPort: \(bootstrapPort)
          brokerPorts: "\(brokerPorts.lowerBound)-\(brokerPorts.upperBound)"
        admin:
          listen: 127.0.0.1:\(adminPort)
        clusters:
          primary:
            bootstrapServers: [\(s.bootstrapServers.map { "\"\($0)\"" }.joined(separator: ", "))]
        failover:
          healthCheckIntervalSeconds: 86400
          drainTimeoutSeconds: \(s.drainTimeoutSeconds)
        logging:
          level: debug

        """
        if !s.limits.isEmpty {
            text += "limits:\n" + s.limits.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)\n" }.joined()
        }
        return text
    }

    /// Rewrites the config file with `change` applied and asks the server to reload it.
    func reload(_ change: (inout Settings) -> Void) throws {
        change(&settings)
        try Self.yaml(settings, bootstrapPort: bootstrapPort, brokerPorts: brokerPorts, adminPort: adminPort)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        server.reload(path: configPath, trigger: "test")
    }

    func connect(receiveBuffer: Int? = nil) throws -> RawClient {
        try RawClient(port: bootstrapPort, receiveBuffer: receiveBuffer)
    }

    /// `shutdown(drainTimeoutSeconds:)`; returns when its completion ran (or nil after `wait` seconds).
    @discardableResult
    func shutdown(drainTimeoutSeconds: Int, wait: TimeInterval = 15) -> TimeInterval? {
        guard !stopped else { return 0 }
        stopped = true
        let start = Date()
        let done = DispatchSemaphore(value: 0)
        server.shutdown(drainTimeoutSeconds: drainTimeoutSeconds) { done.signal() }
        let finished = done.wait(timeout: .now() + wait) == .success
        unlink(configPath)
        return finished ? Date().timeIntervalSince(start) : nil
    }

    // MARK: metrics

    var metricsText: String { server.context.metrics.emitToString() }

    /// The value of the sample `name{labels}` (labels as written, e.g. `reason="idle_timeout"`), 0 when absent.
    func metric(_ name: String, _ labels: String = "") -> Double {
        let key = labels.isEmpty ? name : "\(name){\(labels)}"
        for line in metricsText.split(separator: "\n") where line.hasPrefix(key + " ") {
            return Double(line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)) ?? .nan
        }
        return 0
    }

    func errors(_ reason: String) -> Double { metric("kafka_proxy_errors_total", "reason=\"\(reason)\"") }
}

/// A port nothing listens on right now (bound, read, released).
func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { Glibc.close(fd) }
    var address = sockaddr_in.loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind: errno \(errno)") }
    return boundPort(fd)
}

/// `count` consecutive free ports below the ephemeral range (so no outgoing connection takes one meanwhile).
func freePortRange(count: Int) throws -> ClosedRange<UInt16> {
    for _ in 0..<200 {
        let base = UInt16.random(in: 20000...(32000 - UInt16(count)))
        let range = base...(base + UInt16(count - 1))
        if range.allSatisfy(isFree) { return range }
    }
    throw HarnessError("no \(count) consecutive free ports")
}

private func isFree(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { Glibc.close(fd) }
    var address = sockaddr_in.loopback(port: port)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
