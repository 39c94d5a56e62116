/// Which occurrences of a repeated log line are written: the first of a key in full, then nothing
/// for `windowNanos` but a count, then one summary per window while the repeats go on. A key whose
/// window passed without a repeat is forgotten, so its next occurrence is written in full again.
///
/// One client retrying against a cluster that rejects its login would otherwise write a line per
/// attempt (over a hundred in a few seconds), burying everything else. Pure: the caller passes
/// the clock and writes the lines; not thread-safe.
public struct RepeatLimiter<Key: Hashable & Sendable>: Sendable {
    public let windowNanos: UInt64
    private var windows: [Key: Window] = [:]

    private struct Window: Sendable {
        var startNanos: UInt64
        var suppressed: Int
    }

    /// Occurrences of `key` not written during one window.
    public struct Summary: Equatable, Sendable {
        public var key: Key
        public var suppressed: Int
        /// Length of the window they were counted in.
        public var nanos: UInt64
    }

    public enum Decision: Equatable, Sendable {
        /// Write the line.
        case write
        /// Count it, write nothing (the next summary reports it).
        case suppress
    }

    public init(windowNanos: UInt64) {
        precondition(windowNanos > 0, "a repeat window must have a length")
        self.windowNanos = windowNanos
    }

    /// An occurrence of `key` at `nowNanos` (monotonic). `summary`: a window of this key that had
    /// ended unreported (the caller's timer is late); write it before anything else.
    public mutating func occurred(_ key: Key, nowNanos: UInt64) -> (decision: Decision, summary: Summary?) {
        guard var window = windows[key] else {
            windows[key] = Window(startNanos: nowNanos, suppressed: 0)
            return (.write, nil)
        }
        var summary: Summary?
        if nowNanos &- window.startNanos >= windowNanos {
            if window.suppressed == 0 {
                windows[key] = Window(startNanos: nowNanos, suppressed: 0)
                return (.write, nil)
            }
            summary = Summary(key: key, suppressed: window.suppressed, nanos: nowNanos &- window.startNanos)
            window = Window(startNanos: nowNanos, suppressed: 0)
        }
        window.suppressed += 1
        windows[key] = window
        return (.suppress, summary)
    }

    /// Ends every window that is over at `nowNanos`: a summary for each that counted repeats (a new
    /// window starts for it, as the repeats may go on), and forgets those that did not.
    public mutating func expire(nowNanos: UInt64) -> [Summary] {
        var summaries: [Summary] = []
        for (key, window) in windows where nowNanos &- window.startNanos >= windowNanos {
            if window.suppressed > 0 {
                summaries.append(Summary(key: key, suppressed: window.suppressed, nanos: nowNanos &- window.startNanos))
                windows[key] = Window(startNanos: nowNanos, suppressed: 0)
            } else {
                windows[key] = nil
            }
        }
        return summaries
    }

    /// When the earliest open window ends; nil when none is open (nothing to wake up for).
    public var nextDeadlineNanos: UInt64? {
        windows.values.map { $0.startNanos &+ windowNanos }.min()
    }

    /// Keys with an open window.
    public var count: Int { windows.count }
}
