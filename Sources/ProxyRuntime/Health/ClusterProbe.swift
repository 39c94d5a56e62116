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
    /// When the result arrived.
    var atNanos: UInt64
    /// When the attempt behind it began: a cluster that stops answering has not answered since then.
    var startedNanos: UInt64
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
    /// A tick came while an attempt was running (a timeout as long as the interval): probe again as
    /// soon as it ends, or a failing cluster is seen only every other interval.
    private var tickMissed = false
    private var generation = 0
    private let latestResult = Locked<ProbeResult?>(nil)
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
        guard let cluster else { return }
        guard attempt == nil else {
            tickMissed = true
            return
        }
        tickMissed = false
        let generation = self.generation
        let started = DispatchTime.now().uptimeNanoseconds
        UpstreamDialer.resolve(cluster.bootstrapServers, on: queue) { [self] targets, errors in
            guard generation == self.generation else { return }
            tryNext(targets[...], errors: errors, generation: generation, started: started)
        }
    }

    private func tryNext(_ targets: ArraySlice<UpstreamDialer.Target>, errors: [String], generation: Int,
                         started: UInt64) {
        guard let cluster, let target = targets.first else {
            record(ProbeResult(ok: false, atNanos: DispatchTime.now().uptimeNanoseconds, startedNanos: started,
                               broker: "", detail: errors.joined(separator: "; ")))
            if tickMissed { probeNow() }
            return
        }
        let sasl = cluster.sasl
        let attempt = ProbeAttempt(target: target, cluster: cluster, tls: tls, queue: queue,
                                   timeoutSeconds: timeoutSeconds) { [self] result in
            self.attempt = nil
            guard generation == self.generation else { return }
            switch result {
            case .success(let answer):
                record(ProbeResult(ok: true, brokers: answer.brokers, apiVersions: answer.apiVersions,
                                   atNanos: DispatchTime.now().uptimeNanoseconds, startedNanos: started,
                                   broker: target.name,
                                   detail: sasl.map { "ApiVersions answered, SASL \($0.mechanism.rawValue) login succeeded" } ?? "ApiVersions answered"))
            case .failure(let error):
                tryNext(targets.dropFirst(), errors: errors + ["\(target.name): \(error)"], generation: generation,
                        started: started)
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
