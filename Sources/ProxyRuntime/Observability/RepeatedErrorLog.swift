import Dispatch
import Logging
import ProxyCore

/// Keeps a storm of identical errors (one client retrying against a cluster that rejects it) to
/// one line and a count: per cluster and reason, the first occurrence is logged at its level,
/// repeats within `windowSeconds` go to debug, and a summary with their count follows at the end of
/// every window in which there were any. Metrics are not touched here: callers count every one.
///
/// A log site asks for the level to write at: `logger.log(level: errors.level(.error, cluster:
/// c, reason: r), ...)`; swift-log then skips building the message of a suppressed line.
final class RepeatedErrorLog: @unchecked Sendable {
    struct Key: Hashable, Sendable {
        var cluster: String
        var reason: String
        var level: Logger.Level
    }

    /// How long repeats are held back before their count is logged.
    static let defaultWindowSeconds = 10

    private let logger: Logger
    private let windowSeconds: Int
    /// Confined to `queue`; callers wait for it (`sync`): errors are rare and the answer is needed.
    private let queue = DispatchQueue(label: "kafka-proxy.repeated-errors")
    nonisolated(unsafe) private var limiter: RepeatLimiter<Key>
    nonisolated(unsafe) private var timer: (any DispatchSourceTimer)?
    nonisolated(unsafe) private var armedForNanos: UInt64?

    init(logger: Logger, windowSeconds: Int = RepeatedErrorLog.defaultWindowSeconds) {
        self.logger = logger
        self.windowSeconds = windowSeconds
        limiter = RepeatLimiter(windowNanos: UInt64(windowSeconds) * 1_000_000_000)
    }

    /// The level to log this occurrence at: `level` for the first of its kind, `.debug` for a repeat.
    func level(_ level: Logger.Level, cluster: String, reason: String) -> Logger.Level {
        let key = Key(cluster: cluster, reason: reason, level: level)
        let now = DispatchTime.now().uptimeNanoseconds
        let outcome = queue.sync {
            let outcome = limiter.occurred(key, nowNanos: now)
            rearm()
            return outcome
        }
        if let summary = outcome.summary { write(summary) }
        return outcome.decision == .write ? level : .debug
    }

    /// On `queue`: the timer fires at the limiter's next deadline.
    private func rearm() {
        guard let next = limiter.nextDeadlineNanos, armedForNanos.map({ next < $0 }) ?? true else { return }
        armedForNanos = next
        if timer == nil {
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [weak self] in self?.fire() }
            timer.activate()
            self.timer = timer
        }
        timer?.schedule(deadline: DispatchTime(uptimeNanoseconds: next), leeway: .milliseconds(200))
    }

    /// On `queue`.
    private func fire() {
        let summaries = limiter.expire(nowNanos: DispatchTime.now().uptimeNanoseconds)
        armedForNanos = nil
        rearm()
        for summary in summaries { write(summary) }
    }

    private func write(_ summary: RepeatLimiter<Key>.Summary) {
        let seconds = (summary.nanos + 500_000_000) / 1_000_000_000
        var logger = logger
        logger[metadataKey: "cluster"] = "\(summary.key.cluster)"
        logger.log(level: summary.key.level,
                   "cluster \(summary.key.cluster): \(summary.key.reason): \(summary.suppressed) more time(s) in the last \(seconds)s (each repeat is logged at debug level; the metrics count every one)")
    }
}
