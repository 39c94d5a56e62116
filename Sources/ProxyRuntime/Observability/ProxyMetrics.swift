import KafkaProtocol
import Prometheus
import ProxyCore
import Synchronization

/// The proxy's Prometheus metrics. Collectors are created once (the registry takes a lock to
/// create them); hot paths go through `LoopMetrics`, a per-loop cache that needs no lock.
/// Request latency is kept outside the registry, in a shard per loop and API merged when scraped
/// (`emit`): the registry's histogram takes a lock and compares 128-bit durations with every
/// bucket on each response, most of a relayed request's metrics cost.
final class ProxyMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    let connectionsActive: Gauge
    let connectionsTotal: Counter
    let connectionsRejected: Counter
    let bytesFromClients: Counter
    let bytesFromBrokers: Counter
    let upstreamConnectFailures: Counter
    private let errorCounters = Locked<[String: Counter]>([:])
    private let saslCounters = Locked<[String: Counter]>([:])
    private let latencyShards = Locked<[(apiKey: Int16, shard: LatencyShard)]>([])

    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        connectionsActive = registry.makeGauge(descriptor: Self.name("connections_active", "",
            "Client connections currently open"), labels: [])
        connectionsTotal = registry.makeCounter(descriptor: Self.name("connections", "total",
            "Client connections accepted"), labels: [])
        connectionsRejected = registry.makeCounter(descriptor: Self.name("connections_rejected", "total",
            "Client connections refused because limits.maxConnections was reached"), labels: [])
        bytesFromClients = registry.makeCounter(descriptor: Self.name("bytes", "total",
            "Bytes relayed, by direction"), labels: [("direction", "client_to_broker")])
        bytesFromBrokers = registry.makeCounter(descriptor: Self.name("bytes", "total",
            "Bytes relayed, by direction"), labels: [("direction", "broker_to_client")])
        upstreamConnectFailures = registry.makeCounter(descriptor: Self.name("upstream_connect_failures", "total",
            "Failed connections to upstream brokers"), labels: [])
        registry.makeGauge(descriptor: Self.name("build_info", "", "1, labelled with the version and git commit of the binary"),
                           labels: [("version", BuildInfo.version), ("commit", BuildInfo.commit)]).set(Int64(1))
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "kafka_proxy", metricName: metric, unitName: unit, helpText: help)
    }

    /// Connections closed because of an error, by reason. Cold path: takes a lock.
    func recordError(_ reason: String) {
        let counter = errorCounters.withLock { counters in
            if let counter = counters[reason] { return counter }
            let counter = registry.makeCounter(descriptor: Self.name("errors", "total",
                "Connections closed because of an error, by reason"), labels: [("reason", reason)])
            counters[reason] = counter
            return counter
        }
        counter.increment()
    }

    /// Failed SASL logins to upstream brokers (`kafka_proxy_sasl_authentication_failures_total`), and
    /// successful ones (`kafka_proxy_sasl_authentications_total{kind=initial|reauthentication}`). Cold path.
    func recordSASLFailure(cluster: String, mechanism: String, reason: String) {
        saslCounter(key: "f|\(cluster)|\(mechanism)|\(reason)") {
            registry.makeCounter(descriptor: Self.name("sasl_authentication_failures", "total",
                "Failed SASL logins to upstream brokers, by cluster, mechanism and reason"),
                labels: [("cluster", cluster), ("mechanism", mechanism), ("reason", reason)])
        }.increment()
    }

    func recordSASLSuccess(cluster: String, mechanism: String, reauthentication: Bool) {
        let kind = reauthentication ? "reauthentication" : "initial"
        saslCounter(key: "s|\(cluster)|\(mechanism)|\(kind)") {
            registry.makeCounter(descriptor: Self.name("sasl_authentications", "total",
                "Successful SASL logins to upstream brokers, by cluster, mechanism and kind"),
                labels: [("cluster", cluster), ("mechanism", mechanism), ("kind", kind)])
        }.increment()
    }

    private func saslCounter(key: String, make: () -> Counter) -> Counter {
        saslCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = make()
            counters[key] = counter
            return counter
        }
    }

    func makeRequestCounter(apiKey: Int16, apiVersion: Int16) -> Counter {
        registry.makeCounter(descriptor: Self.name("requests", "total", "Requests relayed, by API and version"),
                             labels: [("api", Self.apiName(apiKey)), ("version", String(apiVersion))])
    }

    /// A new shard of `kafka_proxy_request_duration_seconds{api}` for one loop. Cold path.
    func makeLatencyShard(apiKey: Int16) -> LatencyShard {
        let shard = LatencyShard(bounds: Self.latencyBucketNanos)
        latencyShards.withLock { $0.append((apiKey, shard)) }
        return shard
    }

    static let latencyBucketNanos: [Int64] = latencyBuckets.map { duration in
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
    /// Rendered by `emit`, not by the registry.
    static var latencyHistogram: MetricNameDescriptor {
        ProxyMetrics.name("request_duration", "seconds", "Time from a request's header to its response's header, by API")
    }
    private static let latencyName = latencyHistogram.name
    private static let latencyHelp = latencyHistogram.helpText ?? ""
    private static let latencyBounds = latencyBuckets.map(\.bucketRepresentation)

    /// The Prometheus text of every metric: the registry's, then the request latency histograms
    /// (the shards of each API summed over the loops).
    func emit(into buffer: inout [UInt8]) {
        registry.emit(into: &buffer)
        let shards = latencyShards.withLock { $0 }
        guard !shards.isEmpty else { return }
        var byAPI: [String: LatencyShard.Counts] = [:]
        for (apiKey, shard) in shards {
            let counts = shard.counts
            byAPI[Self.apiName(apiKey), default: LatencyShard.Counts(buckets: counts.buckets.count)].add(counts)
        }
        var text = "# HELP \(Self.latencyName) \(Self.latencyHelp)\n# TYPE \(Self.latencyName) histogram\n"
        for (api, counts) in byAPI.sorted(by: { $0.key < $1.key }) {
            let labels = "api=\"\(api)\""
            var cumulative = 0
            for (i, bound) in Self.latencyBounds.enumerated() {
                cumulative += counts.buckets[i]
                text += "\(Self.latencyName)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "\(Self.latencyName)_bucket{\(labels),le=\"+Inf\"} \(counts.count)\n"
            text += "\(Self.latencyName)_sum{\(labels)} \(Duration.nanoseconds(counts.sumNanos).bucketRepresentation)\n"
            text += "\(Self.latencyName)_count{\(labels)} \(counts.count)\n"
        }
        buffer.append(contentsOf: text.utf8)
    }

    func emitToString() -> String {
        var buffer: [UInt8] = []
        emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    static func apiName(_ apiKey: Int16) -> String {
        ApiCatalog.descriptor(apiKey)?.name ?? "Unknown\(apiKey)"
    }
}

/// Per-loop caches of request collectors: confined to one loop's queue, so lookups take no lock.
/// The collector used last is kept apart: a connection mostly repeats one request (Produce,
/// Fetch), so most lookups skip hashing.
final class LoopMetrics: @unchecked Sendable {
    private let metrics: ProxyMetrics
    private var requestCounters: [Int32: Counter] = [:]
    private var latency: [Int16: LatencyShard] = [:]
    private var lastRequest: (key: Int32, counter: Counter)?
    private var lastLatency: (apiKey: Int16, shard: LatencyShard)?

    init(metrics: ProxyMetrics) { self.metrics = metrics }

    func countRequest(apiKey: Int16, apiVersion: Int16) {
        let key = Int32(apiKey) << 16 | Int32(UInt16(bitPattern: apiVersion))
        if let lastRequest, lastRequest.key == key {
            lastRequest.counter.increment()
            return
        }
        let counter: Counter
        if let cached = requestCounters[key] {
            counter = cached
        } else {
            counter = metrics.makeRequestCounter(apiKey: apiKey, apiVersion: apiVersion)
            requestCounters[key] = counter
        }
        lastRequest = (key, counter)
        counter.increment()
    }

    func recordLatency(apiKey: Int16, nanoseconds: UInt64) {
        if let lastLatency, lastLatency.apiKey == apiKey {
            lastLatency.shard.record(nanoseconds: Int64(clamping: nanoseconds))
            return
        }
        let shard: LatencyShard
        if let cached = latency[apiKey] {
            shard = cached
        } else {
            shard = metrics.makeLatencyShard(apiKey: apiKey)
            latency[apiKey] = shard
        }
        lastLatency = (apiKey, shard)
        shard.record(nanoseconds: Int64(clamping: nanoseconds))
    }
}

/// One loop's latency histogram of one API. Only that loop records into it, so its lock is taken
/// by a scrape at most: uncontended, a pair of atomic operations.
final class LatencyShard: Sendable {
    struct Counts {
        /// Per bucket, not cumulative; the last one counts what is above every bound.
        var buckets: [Int]
        var sumNanos: Int64 = 0
        var count = 0

        init(buckets: Int) { self.buckets = Array(repeating: 0, count: buckets) }

        mutating func add(_ other: Counts) {
            for i in buckets.indices { buckets[i] += other.buckets[i] }
            sumNanos &+= other.sumNanos
            count += other.count
        }
    }

    private let bounds: [Int64]
    private let state: Locked<Counts>

    init(bounds: [Int64]) {
        self.bounds = bounds
        state = Locked(Counts(buckets: bounds.count + 1))
    }

    func record(nanoseconds: Int64) {
        var index = 0
        while index < bounds.count, nanoseconds > bounds[index] { index += 1 }
        state.withLock { counts in
            counts.buckets[index] += 1
            counts.sumNanos &+= nanoseconds
            counts.count += 1
        }
    }

    var counts: Counts { state.withLock { $0 } }
}
