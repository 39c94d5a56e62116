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
    public var failover: Failover

    public init(
        listener: Listener,
        admin: Admin = Admin(),
        activeCluster: String,
        clusters: [Cluster],
        limits: Limits = Limits(),
        logging: Logging = Logging(),
        failover: Failover = Failover()
    ) {
        self.listener = listener
        self.admin = admin
        self.activeCluster = activeCluster
        self.clusters = clusters
        self.limits = limits
        self.logging = logging
        self.failover = failover
    }

    /// Clusters in failover preference: `failover.order` first, then any cluster it leaves out, in file order.
    public var clusterPreference: [String] {
        failover.order + clusters.map(\.name).filter { !failover.order.contains($0) }
    }

    public func cluster(named name: String) -> Cluster? {
        clusters.first { $0.name == name }
    }

    /// The cluster named by `activeCluster`. The loader guarantees it exists; a hand-built config
    /// that breaks this is a programming error.
    /// Some cluster maps topic names: a connection may be moved onto it, so every connection
    /// negotiates only what the mapping can handle.
    public var mapsTopicNames: Bool { clusters.contains { $0.topicPrefix != nil } }

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
        /// TLS on the bootstrap and every broker listener; nil: plain TCP.
        public var tls: ListenerTLS?

        public static let defaultHost = "127.0.0.1"
        public static let defaultBootstrapPort: UInt16 = 9092
        public static let defaultBrokerPorts: ClosedRange<UInt16> = 9100...9163

        public init(
            host: String = Listener.defaultHost,
            advertisedHost: String? = nil,
            bootstrapPort: UInt16 = Listener.defaultBootstrapPort,
            brokerPorts: ClosedRange<UInt16> = Listener.defaultBrokerPorts,
            tls: ListenerTLS? = nil
        ) {
            self.host = host
            self.advertisedHost = advertisedHost ?? host
            self.bootstrapPort = bootstrapPort
            self.brokerPorts = brokerPorts
            self.tls = tls
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
        /// nil (no `tls:` key): plain TCP.
        public var tls: ClusterTLS?
        /// nil (no `sasl:` key): no SASL login upstream.
        public var sasl: SASL?
        /// A client's topic T is the topic `topicPrefix + T` on this cluster (mirror topics of
        /// Cluster Linking or MirrorMaker 2). nil: names pass unchanged. Never empty.
        public var topicPrefix: String?

        public init(name: String, bootstrapServers: [HostPort], tls: ClusterTLS? = nil, sasl: SASL? = nil,
                    topicPrefix: String? = nil) {
            self.name = name
            self.bootstrapServers = bootstrapServers
            self.tls = tls
            self.sasl = sasl
            self.topicPrefix = topicPrefix
        }

        /// The TLS settings when TLS is on for this cluster.
        public var enabledTLS: ClusterTLS? { tls?.enabled == true ? tls : nil }

        /// The config keys (as spelt in the file) whose values differ from `other`'s.
        public func changedKeys(from other: Cluster) -> [String] {
            var keys: [String] = []
            if bootstrapServers != other.bootstrapServers { keys.append("bootstrapServers") }
            if tls != other.tls { keys.append("tls") }
            if sasl != other.sasl { keys.append("sasl") }
            if topicPrefix != other.topicPrefix { keys.append("topicPrefix") }
            return keys
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
        /// One line per request and per response (also on at level trace).
        public var `protocol`: Bool

        public init(level: LogLevel = .info, format: LogFormat = .text, protocol: Bool = false) {
            self.level = level
            self.format = format
            self.protocol = `protocol`
        }

        /// Whether requests and responses are traced: `protocol: true`, or everything at level trace.
        public var tracesProtocol: Bool { `protocol` || level == .trace }
    }
}

extension ProxyConfig {
    public enum FailoverMode: String, CaseIterable, Equatable, Sendable {
        /// Only edits of `activeCluster` switch clusters.
        case manual
        /// Health checks may switch too.
        case automatic
    }

    public enum FailbackMode: String, CaseIterable, Equatable, Sendable {
        case manual, automatic
    }

    /// What a switch does to the client connections of the old cluster.
    public enum SwitchBehaviour: String, CaseIterable, Equatable, Sendable {
        /// Keep each client connection: wait for its responses in flight, then connect the same route
        /// on the new cluster underneath it.
        case move
        /// Deliver the responses in flight, then close: clients reconnect (and librdkafka re-bootstraps).
        case reconnect
    }

    public struct Failover: Equatable, Sendable {
        public var mode: FailoverMode = .manual
        /// Preference for automatic mode; empty means file order.
        public var order: [String] = []
        public var healthCheckIntervalSeconds = 2
        /// A probe (connect, TLS, SASL login, ApiVersions) not finished this long counts as failed.
        public var probeTimeoutSeconds = 5
        /// The active cluster failing probes this long -> switch to the next healthy one.
        public var unhealthyAfterSeconds = 10
        public var failback: FailbackMode = .manual
        /// The preferred cluster healthy this long -> switch back (automatic failback only).
        public var failbackAfterSeconds = 300
        /// Bound on draining existing connections when the active cluster changes.
        public var drainTimeoutSeconds = 10
        public var onSwitch: SwitchBehaviour = .move

        public init() {}
    }
}
