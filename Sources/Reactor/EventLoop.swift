#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims
import Dispatch
import Synchronization

/// One serial Dispatch queue per core. Every connection gets its own serial queue that targets
/// one of these, so libdispatch runs at most `cores` handler threads however many connections
/// there are (a queue per connection without a target spawns a thread per blocked queue).
///
/// Handlers of all connections of a loop run one at a time, which is what makes the loop's
/// read buffer safe to share: it is only used inside a handler and nothing keeps a pointer
/// into it after the handler returns.
public final class EventLoop: @unchecked Sendable {
    public let queue: DispatchQueue
    public let index: Int
    /// Scratch buffer for socket reads on this loop; confined to `queue`.
    public let readBuffer: UnsafeMutableRawBufferPointer

    /// Socket poller: the read side of this loop's channels is one level-triggered
    /// epoll set, watched by a single Dispatch read source on its descriptor. A Dispatch read
    /// source per socket costs, per event, an ioctl(FIONREAD), two epoll_ctl (Dispatch disarms and
    /// re-arms the source around each handler), an eventfd poke of its manager thread and a
    /// worker wake-up; here one Dispatch event covers every socket that is ready. -1 when epoll
    /// is unavailable: channels then fall back to a read source each.
    private let pollFD: Int32
    private var pollSource: (any DispatchSourceRead)?
    /// Channels whose reading is on, by slot; confined to `queue` (connection queues target it).
    /// A token is its slot in the low 32 bits and a serial number above them: an event fetched
    /// before its channel stopped (or before the slot went to another) finds nothing. A slot
    /// table instead of a dictionary: no hashing for each ready socket.
    private var polled: [(token: UInt64, channel: SocketChannel?)] = []
    private var freePollSlots: [Int] = []
    private var nextPollSerial: UInt64 = 0
    private let readyTokens: UnsafeMutablePointer<UInt64>
    private static let pollBatch: Int32 = 64
    private static let pollRounds = 16

    /// Connection deadlines (connect, idle, drain) behind one timer; confined to `queue`. A
    /// `DispatchSourceTimer` per connection was part of every idle connection's memory.
    private var deadlines = DeadlineQueue<any LoopTimerTarget>()
    private var deadlineTimer: (any DispatchSourceTimer)?
    /// What `deadlineTimer` is set for (`.max`: not set). A deadline moved later leaves it as it
    /// is: the timer fires early, finds nothing due and is set again, which is cheaper than
    /// setting it anew on every move (each `schedule` is a round trip through Dispatch's manager).
    private var armedDeadline = UInt64.max

    public init(index: Int, readBufferSize: Int) {
        self.index = index
        self.queue = DispatchQueue(label: "kafka-proxy.loop.\(index)")
        self.readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
        readyTokens = .allocate(capacity: Int(Self.pollBatch))
        pollFD = CProxyShims_epoll_create()
        if pollFD >= 0 {
            let source = DispatchSource.makeReadSource(fileDescriptor: pollFD, queue: queue)
            source.setEventHandler { [unowned self] in drainPoller() }
            source.activate()
            pollSource = source
        }
    }

    deinit {
        deadlineTimer?.cancel()
        pollSource?.cancel()
        if pollFD >= 0 { Glibc.close(pollFD) }
        readyTokens.deallocate()
        readBuffer.deallocate()
    }

    /// True when channels of this loop can use the shared poller.
    public var canPoll: Bool { pollFD >= 0 }

    /// Starts read events for `channel` (on a queue targeting `queue`). Returns its token, 0 on failure.
    func startPolling(_ channel: SocketChannel) -> UInt64 {
        nextPollSerial &+= 1
        let slot = freePollSlots.last ?? polled.count
        let token = (nextPollSerial & 0xFFFF_FFFF) << 32 | UInt64(slot)
        guard CProxyShims_epoll_add_readable(pollFD, channel.fd, token) == 0 else { return 0 }
        if slot == polled.count {
            polled.append((token, channel))
        } else {
            freePollSlots.removeLast()
            polled[slot] = (token, channel)
        }
        return token
    }

    func stopPolling(_ channel: SocketChannel, token: UInt64) {
        _ = CProxyShims_epoll_remove(pollFD, channel.fd)
        let slot = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard slot < polled.count, polled[slot].token == token else { return }
        polled[slot] = (0, nil)
        freePollSlots.append(slot)
    }

    private func polledChannel(_ token: UInt64) -> SocketChannel? {
        let slot = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard slot < polled.count, polled[slot].token == token else { return nil }
        return polled[slot].channel
    }

    /// The epoll set is readable: run the read handler of every ready channel, in batches.
    ///
    /// After a batch the set is polled again before returning: while relaying, the other side's
    /// answer often arrives during the batch, and finding it here costs one non-blocking
    /// epoll_wait where going back to Dispatch costs its whole wake-up (two epoll_ctl, a futex
    /// hand-off between its manager and a worker thread, an eventfd poke). Bounded, so the
    /// connection queues' own work (timers, writes, closes) is not starved.
    private func drainPoller() {
        for _ in 0..<Self.pollRounds {
            let n = CProxyShims_epoll_poll(pollFD, readyTokens, Self.pollBatch)
            guard n > 0 else { return }
            for i in 0..<Int(n) {
                // A handler earlier in the batch may have closed or paused this one.
                polledChannel(readyTokens[i])?.pollReadable()
            }
        }
        // Still busy: the set stays readable, so Dispatch calls again after queued work has run.
    }

    /// A serial queue for one connection, confined to this loop.
    public func makeConnectionQueue(label: String) -> DispatchQueue {
        DispatchQueue(label: label, target: queue)
    }

    // MARK: deadlines

    /// A deadline slot for `target`, not scheduled yet; it references `target` until `removeTimer`.
    /// Call on `queue` or a queue targeting it, like everything below.
    public func addTimer(for target: any LoopTimerTarget) -> LoopTimer {
        LoopTimer(slot: deadlines.add(target))
    }

    /// `loopTimerFired` runs on `queue` at `deadlineNanos` (`DispatchTime` uptime) or up to the
    /// leeway later; replaces the slot's earlier deadline.
    public func schedule(_ timer: LoopTimer, deadlineNanos: UInt64) {
        deadlines.schedule(timer.slot, at: deadlineNanos)
        armDeadlineTimer()
    }

    /// No more deadlines for this slot and no more references to its target.
    public func removeTimer(_ timer: LoopTimer) {
        deadlines.remove(timer.slot)
    }

    /// Deadlines scheduled on this loop, for tests.
    public var scheduledDeadlines: Int { deadlines.count }

    private func armDeadlineTimer() {
        guard let next = deadlines.nextDeadline, next < armedDeadline else { return }
        let timer: any DispatchSourceTimer
        if let deadlineTimer {
            timer = deadlineTimer
        } else {
            timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [weak self] in self?.deadlinesPassed() }
            timer.activate()
            deadlineTimer = timer
        }
        armedDeadline = next
        // The leeway lets Dispatch coalesce wake-ups: these are timeouts of seconds.
        timer.schedule(deadline: DispatchTime(uptimeNanoseconds: next), leeway: .milliseconds(50))
    }

    private func deadlinesPassed() {
        armedDeadline = .max
        let now = DispatchTime.now().uptimeNanoseconds
        // A target may schedule, or remove, deadlines (its own or others') from its handler.
        while let target = deadlines.popDue(now: now) {
            target.loopTimerFired()
        }
        armDeadlineTimer()
    }
}

/// Receives the deadlines of `EventLoop.schedule`.
public protocol LoopTimerTarget: AnyObject {
    /// On the loop's queue, which excludes every connection queue targeting it.
    func loopTimerFired()
}

/// A deadline slot of one loop (`EventLoop.addTimer`).
public struct LoopTimer: Sendable, Equatable {
    let slot: Int
}

public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let next = Atomic<Int>(0)

    public init(count: Int, readBufferSize: Int = 256 * 1024) {
        loops = (0..<max(1, count)).map { EventLoop(index: $0, readBufferSize: readBufferSize) }
    }

    /// Round-robin: connections are long-lived, so even placement is what matters.
    public func nextLoop() -> EventLoop {
        let n = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[n % loops.count]
    }
}
