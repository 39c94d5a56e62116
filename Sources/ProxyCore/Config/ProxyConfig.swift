/// The validated proxy configuration. Built by `ConfigLoader`; every value here has already been
/// checked, so consumers never re-validate (ports are in range, the active cluster exists, ...).
public struct ProxyConfig: Equatable, Sendable {
    public var listener: Listener
    public var admin: Admin
    /// Name of the cluster traffic goes to; always one of `clusters`.
    public var activeCluster: String
    /// In file order, so "the first cluster" (the default active one) is well defined.
    public var clusters: [Cluster]
    public var limits: Limits
    public var logging: Logging

    public init(
        listener: Listener,
        admin: Admin = Admin(),
        activeCluster: String,
        clusters: [Cluster],
        limits: Limits = Limits(),
        logging: Logging = Logging()
    ) {
        self.listener = listener
        self.admin = admin
        self.activeCluster = activeCluster
        self.clusters = clusters
        self.limits = limits
        self.logging = logging
    }

    public func cluster(named name: String) -> Cluster? {
        clusters.first { $0.name == name }
    }

    /// The cluster named by `activeCluster`. The loader guarantees it exists; a hand-built config
    /// that breaks this is a programming error.
    public var active: Cluster {
        guard let cluster = cluster(named: activeCluster) else {
            preconditionFailure("activeCluster '\(activeCluster)' is not one of the configured clusters")
        }
        return cluster
    }
}

extension ProxyConfig {
    public struct Listener: Equatable, Sendable {
        /// Bind address of the bootstrap and every broker listener.
        public var host: String
        /// Host written into rewritten Metadata/FindCoordinator/... responses; never a wildcard.
        public var advertisedHost: String
        public var bootstrapPort: UInt16
        /// One listener per upstream broker is allocated from this range; never contains `bootstrapPort`.
        public var brokerPorts: ClosedRange<UInt16>

        public static let defaultHost = "127.0.0.1"
        public static let defaultBootstrapPort: UInt16 = 9092
        public static let defaultBrokerPorts: ClosedRange<UInt16> = 9100...9163

        public init(
            host: String = Listener.defaultHost,
            advertisedHost: String? = nil,
            bootstrapPort: UInt16 = Listener.defaultBootstrapPort,
            brokerPorts: ClosedRange<UInt16> = Listener.defaultBrokerPorts
        ) {
            self.host = host
            self.advertisedHost = advertisedHost ?? host
            self.bootstrapPort = bootstrapPort
            self.brokerPorts = brokerPorts
        }
    }

    public struct Admin: Equatable, Sendable {
        /// HTTP endpoint for /metrics, /healthz, /readyz, /status.
        public var listen: HostPort

        public static let defaultListen = HostPort(host: "127.0.0.1", port: 9080)

        public init(listen: HostPort = Admin.defaultListen) {
            self.listen = listen
        }
    }

    public struct Cluster: Equatable, Sendable {
        public var name: String
        /// Never empty.
        public var bootstrapServers: [HostPort]

        public init(name: String, bootstrapServers: [HostPort]) {
            self.name = name
            self.bootstrapServers = bootstrapServers
        }
    }

    public struct Limits: Equatable, Sendable {
        public var maxRequestBytes: Int
        public var maxResponseBytes: Int
        public var maxConnections: Int
        public var idleTimeoutSeconds: Int

        public init(
            maxRequestBytes: Int = 104_857_600,
            maxResponseBytes: Int = 268_435_456,
            maxConnections: Int = 10_000,
            idleTimeoutSeconds: Int = 600
        ) {
            self.maxRequestBytes = maxRequestBytes
            self.maxResponseBytes = maxResponseBytes
            self.maxConnections = maxConnections
            self.idleTimeoutSeconds = idleTimeoutSeconds
        }
    }

    public enum LogLevel: String, CaseIterable, Equatable, Sendable {
        case trace, debug, info, warning, error
    }

    public enum LogFormat: String, CaseIterable, Equatable, Sendable {
        case text, json
    }

    public struct Logging: Equatable, Sendable {
        public var level: LogLevel
        public var format: LogFormat

        public init(level: LogLevel = .info, format: LogFormat = .text) {
            self.level = level
            self.format = format
        }
    }
}
