import Dispatch
import Logging
import ProxyCore
import Synchronization

/// Keeps a storm of identical errors (one client retrying against a cluster that rejects it) to
/// one line and a count: per cluster and reason, the first occurrence is logged at its level,
/// repeats within `windowSeconds` go to debug, and a summary with their count follows at the end of
/// every window in which there were any. Metrics are not touched here: callers count every one.
///
/// A log site asks for the level to write at: `logger.log(level: errors.level(.error, cluster:
/// c, reason: r), ...)`; swift-log then skips building the message of a suppressed line.
final class RepeatedErrorLog: Sendable {
    struct Key: Hashable, Sendable {
        var cluster: String
        var reason: String
        var level: Logger.Level
    }

    /// How long repeats are held back before their count is logged.
    static let defaultWindowSeconds = 10

    private let logger: Logger
    private let windowSeconds: Int
    private let state: Mutex<State>
    private let queue = DispatchQueue(label: "kafka-proxy.repeated-errors")

    private struct State: ~Copyable {
        var limiter: RepeatLimiter<Key>
        var timer: (any DispatchSourceTimer)?
        var armedForNanos: UInt64?
    }

    init(logger: Logger, windowSeconds: Int = RepeatedErrorLog.defaultWindowSeconds) {
        self.logger = logger
        self.windowSeconds = windowSeconds
        state = Mutex(State(limiter: RepeatLimiter(windowNanos: UInt64(windowSeconds) * 1_000_000_000)))
    }

    /// The level to log this occurrence at: `level` for the first of its kind, `.debug` for a repeat.
    func level(_ level: Logger.Level, cluster: String, reason: String) -> Logger.Level {
        let key = Key(cluster: cluster, reason: reason, level: level)
        let now = DispatchTime.now().uptimeNanoseconds
        let (outcome, deadline) = state.withLock { state in
            let outcome = state.limiter.occurred(key, nowNanos: now)
            return (outcome, arm(&state))
        }
        if let summary = outcome.summary { write(summary) }
        if let deadline { schedule(at: deadline) }
        return outcome.decision == .write ? level : .debug
    }

    /// Called with the lock held: the deadline to (re)arm the timer for, when it changed.
    private func arm(_ state: inout State) -> UInt64? {
        guard let next = state.limiter.nextDeadlineNanos, state.armedForNanos.map({ next < $0 }) ?? true else { return nil }
        state.armedForNanos = next
        return next
    }

    private func schedule(at deadline: UInt64) {
        queue.async { [self] in
            let timer: any DispatchSourceTimer = state.withLock { state in
                if let timer = state.timer { return timer }
                let timer = DispatchSource.makeTimerSource(queue: queue)
                timer.setEventHandler { [weak self] in self?.fire() }
                timer.activate()
                state.timer = timer
                return timer
            }
            timer.schedule(deadline: DispatchTime(uptimeNanoseconds: deadline), leeway: .milliseconds(200))
        }
    }

    private func fire() {
        let now = DispatchTime.now().uptimeNanoseconds
        let (summaries, next) = state.withLock { state -> ([RepeatLimiter<Key>.Summary], UInt64?) in
            let summaries = state.limiter.expire(nowNanos: now)
            state.armedForNanos = state.limiter.nextDeadlineNanos
            return (summaries, state.armedForNanos)
        }
        for summary in summaries { write(summary) }
        if let next {
            state.withLock { $0.timer }?.schedule(deadline: DispatchTime(uptimeNanoseconds: next), leeway: .milliseconds(200))
        }
    }

    private func write(_ summary: RepeatLimiter<Key>.Summary) {
        let seconds = (summary.nanos + 500_000_000) / 1_000_000_000
        var logger = logger
        logger[metadataKey: "cluster"] = "\(summary.key.cluster)"
        logger.log(level: summary.key.level,
                   "cluster \(summary.key.cluster): \(summary.key.reason): \(summary.suppressed) more time(s) in the last \(seconds)s (each repeat is logged at debug level; the metrics count every one)")
    }
}
