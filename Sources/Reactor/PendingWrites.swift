#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Output a socket did not take yet, oldest first (swift-nio's PendingStreamWritesState, without
/// promises): what `send` could not write now, handed to writev in batches as the socket drains.
///
/// Holds copies: callers' bytes may point into a loop's read buffer, and a writev needs addresses
/// that stay put, which Swift arrays promise only inside a closure. Noncopyable, so exactly one
/// owner frees them.
public struct PendingWrites: ~Copyable {
    /// Buffers per writev. IOV_MAX is 1024, but a few dozen chunks already fill a socket buffer.
    public static let maxBatch = 64

    /// Above this much queued output the producer side should stop (`isBelowHighWatermark`).
    public let highWatermark: Int
    /// Unwritten bytes in all buffers.
    public private(set) var totalBytes = 0

    private var buffers: [UnsafeMutableRawBufferPointer] = []
    /// Buffers before `head` were written and freed; compacted now and then, not per write.
    private var head = 0
    /// How much of the first buffer was written already.
    private var firstOffset = 0
    private var iovecs: UnsafeMutablePointer<iovec>?

    public init(highWatermark: Int) {
        self.highWatermark = highWatermark
    }

    deinit {
        for i in head..<buffers.count { buffers[i].deallocate() }
        iovecs?.deallocate()
    }

    public var isEmpty: Bool { totalBytes == 0 }
    /// Buffers still holding unwritten bytes.
    public var count: Int { buffers.count - head }
    /// False once `totalBytes` reached `highWatermark`: time to stop reading the other side.
    public var isBelowHighWatermark: Bool { totalBytes < highWatermark }

    /// Queues a copy of `bytes` (nothing for an empty buffer).
    public mutating func append(copying bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        copy.copyMemory(from: bytes)
        buffers.append(copy)
        totalBytes += bytes.count
    }

    /// Calls `body` with up to `maxBatch` iovecs over the unwritten bytes, in order (the first one
    /// starts after what was written of its buffer). Empty when nothing is queued.
    public mutating func withIOVecs<R, E: Error>(_ body: (UnsafeBufferPointer<iovec>) throws(E) -> R) throws(E) -> R {
        let iov = iovecs ?? .allocate(capacity: Self.maxBatch)
        iovecs = iov
        let batch = min(count, Self.maxBatch)
        for i in 0..<batch {
            let buffer = buffers[head + i]
            let skip = i == 0 ? firstOffset : 0
            iov[i] = iovec(iov_base: buffer.baseAddress! + skip, iov_len: buffer.count - skip)
        }
        return try body(UnsafeBufferPointer(start: iov, count: batch))
    }

    /// `written` bytes went out: frees the buffers written completely and remembers how far into
    /// a partly written one the next write starts.
    public mutating func consume(_ written: Int) {
        precondition(written >= 0 && written <= totalBytes, "consumed \(written) of \(totalBytes) queued bytes")
        totalBytes -= written
        var remaining = written
        while remaining > 0 {
            let available = buffers[head].count - firstOffset
            if remaining < available {
                firstOffset += remaining
                break
            }
            remaining -= available
            buffers[head].deallocate()
            head += 1
            firstOffset = 0
        }
        if head == buffers.count {
            buffers.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= buffers.count {
            buffers.removeFirst(head)
            head = 0
        }
    }

    /// Drops everything queued (the channel closed).
    public mutating func removeAll() {
        for i in head..<buffers.count { buffers[i].deallocate() }
        buffers.removeAll()
        head = 0
        firstOffset = 0
        totalBytes = 0
    }
}
