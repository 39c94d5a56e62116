import Dispatch
import KafkaProtocol
import ProxyCore
import ProxyTLS
import Reactor
import Synchronization

/// The outcome of the newest probe of a cluster.
struct ProbeResult: Sendable {
    var cluster: String = ""
    var ok: Bool
    /// The cluster's brokers (Metadata without topics), so their ports are known before any client asks.
    var brokers: [BrokerEndpoint] = []
    /// The ranges the cluster answered in ApiVersions (nil when the probe failed).
    var apiVersions: ApiVersionRanges?
    var atNanos: UInt64
    var broker: String
    var detail: String
}

/// Probes one cluster every `intervalSeconds`: one `ProbeAttempt` per bootstrap address until one
/// answers. Results feed /readyz and the failover controller. Confined to `queue`,
/// except `latest`.
final class ClusterProbe: @unchecked Sendable {
    private let queue = DispatchQueue(label: "kafka-proxy.probe")
    private var timeoutSeconds = 5
    private let onResult: @Sendable (ProbeResult) -> Void
    private var intervalSeconds = 0
    private var timer: (any DispatchSourceTimer)?
    private var cluster: ProxyConfig.Cluster?
    private var attempt: ProbeAttempt?
    private var generation = 0
    private let latestResult = Mutex<ProbeResult?>(nil)
    /// TLS clusters are probed over TLS (the same material and verification as connections).
    private let tls: TLSMaterials?

    init(tls: TLSMaterials? = nil, onResult: @escaping @Sendable (ProbeResult) -> Void) {
        self.tls = tls
        self.onResult = onResult
    }

    var latest: ProbeResult? { latestResult.withLock { $0 } }

    /// Starts probing, or re-targets a running probe (new bootstrap servers or interval). A new
    /// timeout applies from the next attempt on.
    func start(cluster: ProxyConfig.Cluster, intervalSeconds: Int, timeoutSeconds: Int) {
        queue.async { [self] in
            self.timeoutSeconds = timeoutSeconds
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
        UpstreamDialer.resolve(cluster.bootstrapServers, on: queue) { [self] targets, errors in
            guard generation == self.generation else { return }
            tryNext(targets[...], errors: errors, generation: generation)
        }
    }

    private func tryNext(_ targets: ArraySlice<UpstreamDialer.Target>, errors: [String], generation: Int) {
        guard let cluster, let target = targets.first else {
            record(ProbeResult(ok: false, atNanos: DispatchTime.now().uptimeNanoseconds, broker: "",
                               detail: errors.joined(separator: "; ")))
            return
        }
        let sasl = cluster.sasl?.credentials
        let attempt = ProbeAttempt(target: target, cluster: cluster, tls: tls, queue: queue,
                                   timeoutSeconds: timeoutSeconds) { [self] result in
            self.attempt = nil
            guard generation == self.generation else { return }
            switch result {
            case .success(let answer):
                record(ProbeResult(ok: true, brokers: answer.brokers, apiVersions: answer.apiVersions, atNanos: DispatchTime.now().uptimeNanoseconds,
                                   broker: target.name,
                                   detail: sasl.map { "ApiVersions answered, SASL \($0.mechanism.rawValue) login succeeded" } ?? "ApiVersions answered"))
            case .failure(let error):
                tryNext(targets.dropFirst(), errors: errors + ["\(target.name): \(error)"], generation: generation)
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
