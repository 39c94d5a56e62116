#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import ProxyTLS

/// Receives a channel's events, on the channel's queue.
protocol SocketChannelDelegate: AnyObject {
    func channelReadable(_ channel: SocketChannel)
    /// All queued output was written (after `send` returned false, or after connect finished).
    /// With TLS on a connecting channel, "connect finished" means "the TLS handshake finished":
    /// the first `channelWritable` is the moment the channel is ready for requests.
    func channelWritable(_ channel: SocketChannel)
    /// A syscall failed, or (with `error.tls` set) the TLS layer did: its text says why.
    func channelFailed(_ channel: SocketChannel, _ error: SyscallError)
}

/// A non-blocking socket with one read source and one write source, both created once.
///
/// Confined to `queue`. Dispatch rules it keeps: the write source runs only while output is
/// queued (or a connect is pending); suspended or never-activated sources are resumed before
/// `cancel()` (releasing a suspended or inactive source crashes libdispatch); the fd is closed
/// in the last cancel handler, never while a source may still watch it.
///
/// TLS (optional, `startTLS`): the channel owns the handshake. While it runs, the read source
/// belongs to the channel (the delegate's `resumeReading`/`pauseReading` are remembered and
/// applied when it finishes); afterwards `read(into:)` returns plaintext and `send` encrypts.
final class SocketChannel: @unchecked Sendable {
    private enum SourceState { case inactive, running, suspended }

    let fd: Int32
    let queue: DispatchQueue
    weak var delegate: (any SocketChannelDelegate)?

    /// nil when the channel's loop polls its read side (see `EventLoop.startPolling`).
    private let readSource: (any DispatchSourceRead)?
    private let writeSource: any DispatchSourceWrite
    private let poller: EventLoop?
    private var pollToken: UInt64 = 0
    private var readState = SourceState.inactive
    private var writeState = SourceState.inactive
    private(set) var isClosed = false
    private var connecting = false

    // TLS state (see the TLS extension below); `tls` is nil for plain channels.
    fileprivate var tls: TLSEngine?
    /// Raw reads and drained ciphertext go through this, allocated only for TLS channels.
    fileprivate var tlsScratch: UnsafeMutableRawBufferPointer?
    fileprivate static let tlsScratchSize = 32 * 1024
    /// The handshake owns the read source while this is true.
    fileprivate var tlsHandshaking = false
    /// What the delegate asked for (resume/pause), applied once a handshake finishes.
    fileprivate var wantsReading = false
    /// Plaintext sent before the handshake finished.
    fileprivate var tlsBacklog: [[UInt8]] = []
    fileprivate var tlsKickScheduled = false

    /// Output the socket did not take yet, in buffers this channel owns (their addresses must
    /// stay put while a writev uses them, which Swift arrays do not promise outside a closure).
    private var pending: [UnsafeMutableRawBufferPointer] = []
    private var pendingOffset = 0
    private(set) var pendingBytes = 0
    /// Above this much queued output the producer side should stop reading.
    let highWatermark: Int

    /// `loop`: the loop whose queue `queue` targets; its poller then delivers read events (one
    /// Dispatch event for all ready sockets of the loop instead of a read source per socket).
    init(fd: Int32, queue: DispatchQueue, loop: EventLoop? = nil, highWatermark: Int = 1 << 20) {
        self.fd = fd
        self.queue = queue
        self.highWatermark = highWatermark
        poller = loop?.canPoll == true ? loop : nil
        readSource = poller == nil ? DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue) : nil
        writeSource = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)

        let cancels = CancelCounter(remaining: readSource == nil ? 1 : 2)
        let closeOnLastCancel: @Sendable () -> Void = {
            if cancels.decrement() { Glibc.close(fd) }
        }
        readSource?.setCancelHandler(handler: closeOnLastCancel)
        writeSource.setCancelHandler(handler: closeOnLastCancel)
        // Strong captures: the cycle keeps the channel alive while its sources may fire and is
        // broken in close(), which every owner calls.
        readSource?.setEventHandler { [self] in pollReadable() }
        writeSource.setEventHandler { [self] in handleWritable() }
    }

    /// Read event, from the read source or the loop's poller (on the loop's queue, which
    /// excludes every queue targeting it).
    func pollReadable() {
        guard !isClosed else { return }
        if tlsHandshaking {
            handshakeReadable()
            return
        }
        delegate?.channelReadable(self)
    }

    deinit {
        for buffer in pending { buffer.deallocate() }
        tlsScratch?.deallocate()
    }

    // MARK: reading

    /// Starts or resumes read events.
    func resumeReading() {
        guard !isClosed else { return }
        wantsReading = true
        if tlsHandshaking { return }
        resumeReadSource()
        if tls?.hasBufferedInput == true { scheduleReadableKick() }
    }

    private func resumeReadSource() {
        if readState == .running { return }
        if let poller {
            pollToken = poller.startPolling(self)
            if pollToken == 0 {
                let error = errno
                queue.async { [self] in fail(SyscallError(call: "epoll_ctl", errno: error)) }
            }
        } else if let readSource {
            switch readState {
            case .inactive: readSource.activate()
            case .suspended: readSource.resume()
            case .running: return
            }
        }
        readState = .running
    }

    private func suspendReadSource() {
        guard readState == .running else { return }
        if let poller {
            if pollToken != 0 { poller.stopPolling(self, token: pollToken) }
            pollToken = 0
        } else {
            readSource?.suspend()
        }
        readState = .suspended
    }

    /// Backpressure: stop read events until `resumeReading()`.
    func pauseReading() {
        wantsReading = false
        guard !isClosed, !tlsHandshaking, readState == .running else { return }
        suspendReadSource()
    }

    var isReading: Bool { readState == .running }

    /// Reads what the socket has into `buffer`: `.done(0)` is end of stream. Callers loop until
    /// `.wouldBlock` or a short read.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        guard let tls else { return try Syscall.read(fd, buffer) }
        return try readTLS(tls, into: buffer)
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
        guard let tls else { return sendRaw(bytes) }
        return sendTLS(tls, bytes)
    }

    /// Bytes as they go on the wire (ciphertext when TLS is on).
    private func sendRaw(_ bytes: UnsafeRawBufferPointer) -> Bool {
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
            if tls != nil {
                if pending.isEmpty { suspendWriteSource() }
                beginHandshake()
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
        sendCloseNotify()
        isClosed = true
        for buffer in pending { buffer.deallocate() }
        pending.removeAll()
        pendingBytes = 0
        if poller != nil {
            suspendReadSource()
        }
        var sources: [(any DispatchSourceProtocol, SourceState)] = [(writeSource, writeState)]
        if let readSource { sources.append((readSource, readState)) }
        for (source, state) in sources {
            switch state {
            case .inactive: source.activate()
            case .suspended: source.resume()
            case .running: break
            }
            source.cancel()
        }
        readState = .running
        writeState = .running
        readSource?.setEventHandler(handler: nil)
        writeSource.setEventHandler(handler: nil)
        delegate = nil
    }
}

// MARK: TLS

extension SocketChannel {
    var isTLS: Bool { tls != nil }

    /// Turns TLS on. A client engine on a channel that is connecting: the handshake starts when
    /// the connect finishes and `channelWritable` is delivered when it is done. A server engine
    /// (an accepted socket): the handshake starts now; the delegate hears nothing when it is done
    /// (its reads simply start returning plaintext) and `channelFailed` if it fails. Call on `queue`.
    func startTLS(_ engine: TLSEngine) {
        guard !isClosed, tls == nil else { return }
        tls = engine
        tlsScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.tlsScratchSize, alignment: 1)
        if !connecting { beginHandshake() }
    }

    /// Peer certificate subject and protocol, for the log, once the handshake is done.
    var tlsSummary: String? {
        guard let tls, tls.isHandshakeComplete else { return nil }
        return "\(tls.protocolVersion)\(tls.peerCertificateSubject.map { ", peer \($0)" } ?? "")"
    }

    /// For timeout messages: a TLS handshake still waiting for the peer usually means a plain-TCP port
    /// (a Kafka broker reads a ClientHello as the start of a ~370 MB frame and waits for the rest).
    var tlsStallHint: String {
        guard tls != nil, tlsHandshaking else { return "" }
        let peer = tls!.context.isClient ? "broker" : "client"
        return " (the TLS handshake got no answer from the \(peer): is it a plain-TCP port? check the port and tls.enabled)"
    }

    fileprivate func beginHandshake() {
        tlsHandshaking = true
        advanceHandshake()
        guard !isClosed, tlsHandshaking else { return }
        resumeReadSource()
    }

    private func advanceHandshake() {
        guard let tls, !isClosed else { return }
        let done: Bool
        do {
            done = try tls.handshake()
        } catch {
            _ = flushTLS(tls)
            failTLS(error)
            return
        }
        _ = flushTLS(tls)
        guard done, !isClosed else { return }
        tlsHandshaking = false
        // Hand the read source back in the state the delegate asked for.
        if !wantsReading && readState == .running {
            suspendReadSource()
        }
        let backlog = tlsBacklog
        tlsBacklog = []
        for bytes in backlog { _ = send(bytes) }
        if isClosed { return }
        if tls.context.isClient { delegate?.channelWritable(self) }
        if wantsReading && tls.hasBufferedInput { scheduleReadableKick() }
    }

    /// Read events while the handshake runs: feed what arrived, answer, until done or would-block.
    fileprivate func handshakeReadable() {
        guard let tls, let scratch = tlsScratch else { return }
        while tlsHandshaking && !isClosed {
            do {
                switch try Syscall.read(fd, scratch) {
                case .wouldBlock:
                    return
                case .done(0):
                    failTLS(tls.transportClosed() ?? TLSError(.closedDuringHandshake, "the peer closed the connection"))
                    return
                case .done(let n):
                    tls.feed(UnsafeRawBufferPointer(rebasing: scratch[..<n]))
                }
            } catch {
                delegate?.channelFailed(self, error)
                return
            }
            advanceHandshake()
        }
    }

    /// Fills `buffer` with plaintext until it is full or nothing more is available now. Plaintext
    /// left in the engine after a full buffer is announced with another `channelReadable`.
    fileprivate func readTLS(_ tls: TLSEngine, into buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        if tlsHandshaking { return .wouldBlock }
        guard let scratch = tlsScratch else { return .wouldBlock }
        var filled = 0
        var endOfStream = false
        reading: while filled < buffer.count {
            let result: TLSEngine.ReadResult
            do {
                result = try tls.readPlaintext(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            } catch {
                throw SyscallError(tls: error)
            }
            switch result {
            case .bytes(let n):
                filled += n
            case .closed:
                endOfStream = true
                break reading
            case .needInput:
                switch try Syscall.read(fd, scratch) {
                case .wouldBlock:
                    break reading
                case .done(0):
                    endOfStream = true
                    break reading
                case .done(let n):
                    tls.feed(UnsafeRawBufferPointer(rebasing: scratch[..<n]))
                }
            }
        }
        // Reading may have produced output (TLS 1.3 key updates, alerts).
        if tls.pendingCiphertext > 0 { _ = flushTLS(tls) }
        if filled > 0 {
            if filled == buffer.count && tls.hasBufferedInput { scheduleReadableKick() }
            return .done(filled)
        }
        return endOfStream ? .done(0) : .wouldBlock
    }

    fileprivate func sendTLS(_ tls: TLSEngine, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isClosed, bytes.count > 0 else { return !isClosed }
        if tlsHandshaking || !tls.isHandshakeComplete {
            tlsBacklog.append(Array(bytes))
            return true
        }
        do {
            try tls.writePlaintext(bytes)
        } catch {
            failTLS(error)
            return false
        }
        return flushTLS(tls)
    }

    /// Moves the engine's ciphertext to the socket (or the pending queue).
    private func flushTLS(_ tls: TLSEngine) -> Bool {
        guard let scratch = tlsScratch else { return false }
        while !isClosed && tls.pendingCiphertext > 0 {
            let n = tls.drainCiphertext(into: scratch)
            if n == 0 { break }
            _ = sendRaw(UnsafeRawBufferPointer(rebasing: scratch[..<n]))
        }
        return !isClosed && pendingBytes < highWatermark
    }

    private func failTLS(_ error: TLSError) {
        tlsHandshaking = false
        delegate?.channelFailed(self, SyscallError(tls: error))
    }

    /// Plaintext is buffered in the engine but the socket may never fire again for it.
    private func scheduleReadableKick() {
        guard !tlsKickScheduled else { return }
        tlsKickScheduled = true
        queue.async { [self] in
            tlsKickScheduled = false
            guard !isClosed, !tlsHandshaking, wantsReading, readState == .running else { return }
            delegate?.channelReadable(self)
        }
    }

    /// Best effort: close_notify if the socket takes it now.
    fileprivate func sendCloseNotify() {
        guard let tls, !tlsHandshaking, tls.isHandshakeComplete, pending.isEmpty, let scratch = tlsScratch else { return }
        tls.shutdown()
        let n = tls.drainCiphertext(into: scratch)
        if n > 0 { _ = try? Syscall.write(fd, UnsafeRawBufferPointer(rebasing: scratch[..<n])) }
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
