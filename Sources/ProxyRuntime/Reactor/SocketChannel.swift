#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch

/// Receives a channel's events, on the channel's queue.
protocol SocketChannelDelegate: AnyObject {
    func channelReadable(_ channel: SocketChannel)
    /// All queued output was written (after `send` returned false, or after connect finished).
    func channelWritable(_ channel: SocketChannel)
    func channelFailed(_ channel: SocketChannel, _ error: SyscallError)
}

/// A non-blocking socket with one read source and one write source, both created once.
///
/// Confined to `queue`. Dispatch rules it keeps: the write source runs only while output is
/// queued (or a connect is pending); suspended or never-activated sources are resumed before
/// `cancel()` (releasing a suspended or inactive source crashes libdispatch); the fd is closed
/// in the last cancel handler, never while a source may still watch it.
final class SocketChannel: @unchecked Sendable {
    private enum SourceState { case inactive, running, suspended }

    let fd: Int32
    let queue: DispatchQueue
    weak var delegate: (any SocketChannelDelegate)?

    private let readSource: any DispatchSourceRead
    private let writeSource: any DispatchSourceWrite
    private var readState = SourceState.inactive
    private var writeState = SourceState.inactive
    private(set) var isClosed = false
    private var connecting = false

    /// Output the socket did not take yet, in buffers this channel owns (their addresses must
    /// stay put while a writev uses them, which Swift arrays do not promise outside a closure).
    private var pending: [UnsafeMutableRawBufferPointer] = []
    private var pendingOffset = 0
    private(set) var pendingBytes = 0
    /// Above this much queued output the producer side should stop reading.
    let highWatermark: Int

    init(fd: Int32, queue: DispatchQueue, highWatermark: Int = 1 << 20) {
        self.fd = fd
        self.queue = queue
        self.highWatermark = highWatermark
        readSource = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        writeSource = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)

        let cancels = CancelCounter(remaining: 2)
        let closeOnLastCancel: @Sendable () -> Void = {
            if cancels.decrement() { Glibc.close(fd) }
        }
        readSource.setCancelHandler(handler: closeOnLastCancel)
        writeSource.setCancelHandler(handler: closeOnLastCancel)
        // Strong captures: the cycle keeps the channel alive while its sources may fire and is
        // broken in close(), which every owner calls.
        readSource.setEventHandler { [self] in
            guard !isClosed else { return }
            delegate?.channelReadable(self)
        }
        writeSource.setEventHandler { [self] in handleWritable() }
    }

    deinit {
        for buffer in pending { buffer.deallocate() }
    }

    // MARK: reading

    /// Starts or resumes read events.
    func resumeReading() {
        guard !isClosed else { return }
        switch readState {
        case .inactive: readSource.activate()
        case .suspended: readSource.resume()
        case .running: return
        }
        readState = .running
    }

    /// Backpressure: stop read events until `resumeReading()`.
    func pauseReading() {
        guard !isClosed, readState == .running else { return }
        readSource.suspend()
        readState = .suspended
    }

    var isReading: Bool { readState == .running }

    /// Reads what the socket has into `buffer`: `.done(0)` is end of stream. Callers loop until
    /// `.wouldBlock` or a short read.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        try Syscall.read(fd, buffer)
    }

    // MARK: connecting

    /// Waits for a non-blocking connect to finish; the delegate hears `channelWritable` or `channelFailed`.
    func awaitConnect() {
        connecting = true
        resumeWriteSource()
    }

    // MARK: writing

    /// Writes now what the socket takes and queues the rest (copied: `bytes` may point into a
    /// loop's read buffer). Returns false when the queue is above the high watermark.
    @discardableResult
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isClosed, bytes.count > 0 else { return !isClosed }
        var offset = 0
        if pending.isEmpty && !connecting {
            do {
                switch try Syscall.write(fd, bytes) {
                case .done(let n): offset = n
                case .wouldBlock: break
                }
            } catch {
                fail(error)
                return false
            }
            if offset == bytes.count { return true }
        }
        enqueueCopy(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        resumeWriteSource()
        return pendingBytes < highWatermark
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send($0) }
    }

    private func enqueueCopy(_ bytes: UnsafeRawBufferPointer) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        copy.copyMemory(from: bytes)
        pending.append(copy)
        pendingBytes += bytes.count
    }

    var hasPendingOutput: Bool { !pending.isEmpty }

    private func resumeWriteSource() {
        switch writeState {
        case .inactive: writeSource.activate()
        case .suspended: writeSource.resume()
        case .running: return
        }
        writeState = .running
    }

    private func suspendWriteSource() {
        guard writeState == .running else { return }
        writeSource.suspend()
        writeState = .suspended
    }

    private func handleWritable() {
        guard !isClosed else { return }
        if connecting {
            connecting = false
            let error = Syscall.socketError(fd)
            if error != 0 {
                suspendWriteSource()
                delegate?.channelFailed(self, SyscallError(call: "connect", errno: error))
                return
            }
            if pending.isEmpty {
                suspendWriteSource()
                delegate?.channelWritable(self)
                return
            }
        }
        do {
            try flushPending()
        } catch {
            fail(error)
            return
        }
        if pending.isEmpty {
            suspendWriteSource()
            delegate?.channelWritable(self)
        }
    }

    /// writev of up to 64 queued chunks until the socket would block.
    private func flushPending() throws(SyscallError) {
        while !pending.isEmpty {
            let batch = min(pending.count, 64)
            var written = 0
            var blocked = false
            try withIOVecs(batch) { iov, count throws(SyscallError) in
                switch try Syscall.writev(fd, iov, count) {
                case .done(let n): written = n
                case .wouldBlock: blocked = true
                }
            }
            if blocked { return }
            consume(written)
        }
    }

    private func withIOVecs(
        _ batch: Int, _ body: (UnsafePointer<iovec>, Int32) throws(SyscallError) -> Void
    ) throws(SyscallError) {
        let iov = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        defer { iov.deallocate() }
        for i in 0..<batch {
            let skip = i == 0 ? pendingOffset : 0
            iov[i] = iovec(iov_base: pending[i].baseAddress! + skip, iov_len: pending[i].count - skip)
        }
        try body(iov, Int32(batch))
    }

    private func consume(_ written: Int) {
        var remaining = written
        pendingBytes -= written
        while remaining > 0, let first = pending.first {
            let available = first.count - pendingOffset
            if remaining >= available {
                remaining -= available
                pending.removeFirst().deallocate()
                pendingOffset = 0
            } else {
                pendingOffset += remaining
                remaining = 0
            }
        }
    }

    private func fail(_ error: SyscallError) {
        delegate?.channelFailed(self, error)
    }

    // MARK: closing

    /// Idempotent. Queued output is dropped; callers that want it delivered wait for `channelWritable`.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        for buffer in pending { buffer.deallocate() }
        pending.removeAll()
        pendingBytes = 0
        for (source, state) in [(readSource as any DispatchSourceProtocol, readState),
                                (writeSource as any DispatchSourceProtocol, writeState)] {
            switch state {
            case .inactive: source.activate()
            case .suspended: source.resume()
            case .running: break
            }
            source.cancel()
        }
        readState = .running
        writeState = .running
        readSource.setEventHandler(handler: nil)
        writeSource.setEventHandler(handler: nil)
        delegate = nil
    }
}

/// Counts the two cancel handlers of a channel; both run on the channel's serial queue.
private final class CancelCounter: @unchecked Sendable {
    private var remaining: Int
    init(remaining: Int) { self.remaining = remaining }
    func decrement() -> Bool {
        remaining -= 1
        return remaining == 0
    }
}
