import Dispatch
import Synchronization

/// One serial Dispatch queue per core. Every connection gets its own serial queue that targets
/// one of these, so libdispatch runs at most `cores` handler threads however many connections
/// there are (a queue per connection without a target spawns a thread per blocked queue).
///
/// Handlers of all connections of a loop run one at a time, which is what makes the loop's
/// read buffer safe to share: it is only used inside a handler and nothing keeps a pointer
/// into it after the handler returns.
final class EventLoop: @unchecked Sendable {
    let queue: DispatchQueue
    let index: Int
    /// Scratch buffer for socket reads on this loop; confined to `queue`.
    let readBuffer: UnsafeMutableRawBufferPointer

    init(index: Int, readBufferSize: Int) {
        self.index = index
        self.queue = DispatchQueue(label: "kafka-proxy.loop.\(index)")
        self.readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
    }

    deinit { readBuffer.deallocate() }

    /// A serial queue for one connection, confined to this loop.
    func makeConnectionQueue(label: String) -> DispatchQueue {
        DispatchQueue(label: label, target: queue)
    }
}

final class EventLoopGroup: Sendable {
    let loops: [EventLoop]
    private let next = Atomic<Int>(0)

    init(count: Int, readBufferSize: Int = 256 * 1024) {
        loops = (0..<max(1, count)).map { EventLoop(index: $0, readBufferSize: readBufferSize) }
    }

    /// Round-robin: connections are long-lived, so even placement is what matters.
    func nextLoop() -> EventLoop {
        let n = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[n % loops.count]
    }
}
