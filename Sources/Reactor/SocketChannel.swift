#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import ProxyTLS

/// A non-blocking socket with one read source and one write source, both created once.
///
/// Confined to `queue`. Dispatch rules it keeps: the write source runs only while output is
/// queued (or a connect is pending); suspended or never-activated sources are resumed before
/// `cancel()` (releasing a suspended or inactive source crashes libdispatch); the fd is closed
/// in the last cancel handler, never while a source may still watch it.
///
/// Reading (swift-nio's `BaseStreamSocketChannel.readFromSocket`): on a read event the channel
/// reads up to `maxReadsPerEvent` times and hands each chunk to `channelRead`; a short read means
/// the socket is drained (on the loop's poller), and pausing or closing inside `channelRead` stops
/// the loop.
///
/// TLS (optional, `startTLS`, SocketChannel+TLS.swift): the channel owns the handshake. While it
/// runs, the read source belongs to the channel (`resumeReading`/`pauseReading` are remembered and
/// applied when it finishes); afterwards `channelRead` gets plaintext and `send` encrypts.
public final class SocketChannel: @unchecked Sendable {
    enum SourceState { case inactive, running, suspended }

    /// Reads per read event before the loop's other connections get their turn.
    public static let maxReadsPerEvent = 8
    /// Read buffer of a channel without a loop (probes, admin requests: small exchanges).
    public static let defaultOwnReadBufferSize = 16 * 1024

    public let fd: Int32
    public let queue: DispatchQueue
    public weak var delegate: (any SocketChannelDelegate)?

    /// nil when the channel's loop polls its read side (see `EventLoop.startPolling`).
    private let readSource: (any DispatchSourceRead)?
    private let writeSource: any DispatchSourceWrite
    private let poller: EventLoop?
    private var pollToken: UInt64 = 0
    var readState = SourceState.inactive
    private var writeState = SourceState.inactive
    public private(set) var isClosed = false
    var connecting = false
    /// EOF was delivered: reading stays off (a level-triggered socket at EOF is always readable).
    private var inputClosed = false
    /// Keeps the loop, and with it the read buffer, alive as long as the channel.
    private let loop: EventLoop?
    /// The loop's shared buffer, or `ownReadBuffer`.
    let readBuffer: UnsafeMutableRawBufferPointer
    private let ownReadBuffer: UnsafeMutableRawBufferPointer?

    // TLS state (SocketChannel+TLS.swift); `tls` is nil for plain channels.
    var tls: TLSEngine?
    /// Raw reads and drained ciphertext go through this, allocated only for TLS channels.
    var tlsScratch: UnsafeMutableRawBufferPointer?
    static let tlsScratchSize = 32 * 1024
    /// The handshake owns the read source while this is true.
    var tlsHandshaking = false
    /// What the delegate asked for (resume/pause), applied once a handshake finishes.
    var wantsReading = false
    /// Plaintext sent before the handshake finished.
    var tlsBacklog: [[UInt8]] = []
    var tlsKickScheduled = false

    var pending: PendingWrites

    /// `loop`: the loop whose queue `queue` targets. Its read buffer is used for reads, and its
    /// poller delivers read events (one Dispatch event for all ready sockets of the loop instead
    /// of a read source per socket). Without a loop the channel allocates a read buffer of
    /// `readBufferSize` bytes for itself.
    public init(fd: Int32, queue: DispatchQueue, loop: EventLoop? = nil, highWatermark: Int = 1 << 20,
                readBufferSize: Int = SocketChannel.defaultOwnReadBufferSize) {
        self.fd = fd
        self.queue = queue
        pending = PendingWrites(highWatermark: highWatermark)
        self.loop = loop
        if let loop {
            readBuffer = loop.readBuffer
            ownReadBuffer = nil
        } else {
            ownReadBuffer = .allocate(byteCount: max(1, readBufferSize), alignment: 16)
            readBuffer = ownReadBuffer!
        }
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

    deinit {
        ownReadBuffer?.deallocate()
        tlsScratch?.deallocate()
    }

    // MARK: reading

    /// Read event, from the read source or the loop's poller (on the loop's queue, which
    /// excludes every queue targeting it).
    func pollReadable() {
        guard !isClosed else { return }
        if tlsHandshaking {
            handshakeReadable()
            return
        }
        readFromSocket()
    }

    /// The read loop: up to `maxReadsPerEvent` reads, each delivered before the next.
    func readFromSocket() {
        let buffer = readBuffer
        for _ in 0..<Self.maxReadsPerEvent {
            let n: Int
            do throws(ChannelError) {
                switch try readOnce(into: buffer) {
                case .done(let count): n = count
                case .wouldBlock: return
                }
            } catch {
                fail(error)
                return
            }
            if n == 0 {
                inputClosed = true
                wantsReading = false
                suspendReadSource()
                delegate?.channelEOF(self)
                return
            }
            delegate?.channelRead(self, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            // Paused or closed by the delegate: the rest waits in the socket (or the TLS engine).
            if isClosed || !wantsReading || readState != .running { return }
            // A short read means the socket is drained; skip the read that would return EAGAIN. Not
            // with a Dispatch read source: it does not fire again for an EOF that arrived together
            // with the last bytes, so only a read that returns EAGAIN or 0 proves there is nothing left.
            if n < buffer.count && poller != nil { return }
        }
    }

    private func readOnce(into buffer: UnsafeMutableRawBufferPointer) throws(ChannelError) -> IOResult<Int> {
        if let tls { return try readTLS(tls, into: buffer) }
        do {
            return try Syscall.read(fd, buffer)
        } catch {
            throw .io(error)
        }
    }

    /// Starts or resumes read events (`channelRead`, `channelEOF`).
    public func resumeReading() {
        guard !isClosed, !inputClosed else { return }
        wantsReading = true
        if tlsHandshaking { return }
        resumeReadSource()
        if tls?.hasBufferedInput == true { scheduleReadableKick() }
    }

    /// Backpressure: stop read events until `resumeReading()`.
    public func pauseReading() {
        wantsReading = false
        guard !isClosed, !tlsHandshaking, readState == .running else { return }
        suspendReadSource()
    }

    public var isReading: Bool { readState == .running }

    func resumeReadSource() {
        if readState == .running { return }
        if let poller {
            pollToken = poller.startPolling(self)
            if pollToken == 0 {
                let error = errno
                queue.async { [self] in fail(.io(SyscallError(call: "epoll_ctl", errno: error))) }
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

    func suspendReadSource() {
        guard readState == .running else { return }
        if let poller {
            if pollToken != 0 { poller.stopPolling(self, token: pollToken) }
            pollToken = 0
        } else {
            readSource?.suspend()
        }
        readState = .suspended
    }

    // MARK: connecting

    /// Waits for a non-blocking connect to finish: the delegate hears `channelConnected` (then,
    /// with TLS, `channelHandshakeCompleted`) or `channelFailed` with `.connect`.
    public func awaitConnect() {
        connecting = true
        resumeWriteSource()
    }

    // MARK: writing

    /// Writes now what the socket takes and queues the rest (copied: `bytes` may point into a
    /// loop's read buffer). Returns false when the queue is above the high watermark (then
    /// `channelDrained` follows once it is written) or the channel is closed.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let tls else { return sendRaw(bytes) }
        return sendTLS(tls, bytes)
    }

    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send($0) }
    }

    public var hasPendingOutput: Bool { !pending.isEmpty }
    /// Bytes queued for the socket (ciphertext with TLS).
    public var pendingBytes: Int { pending.totalBytes }
    public var highWatermark: Int { pending.highWatermark }

    /// Bytes as they go on the wire (ciphertext when TLS is on).
    func sendRaw(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isClosed, bytes.count > 0 else { return !isClosed }
        var offset = 0
        if pending.isEmpty && !connecting {
            do {
                switch try Syscall.write(fd, bytes) {
                case .done(let n): offset = n
                case .wouldBlock: break
                }
            } catch {
                fail(.io(error))
                return false
            }
            if offset == bytes.count { return true }
        }
        pending.append(copying: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        resumeWriteSource()
        return pending.isBelowHighWatermark
    }

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
                fail(.connect(SyscallError(call: "connect", errno: error)))
                return
            }
            // Output queued while connecting goes out below; the delegate's own sends come after it.
            let queuedWhileConnecting = !pending.isEmpty
            if !queuedWhileConnecting { suspendWriteSource() }
            delegate?.channelConnected(self)
            guard !isClosed else { return }
            if let tls, !tlsHandshaking, !tls.isHandshakeComplete { beginHandshake() }
            if !queuedWhileConnecting || isClosed { return }
        }
        do throws(SyscallError) {
            try flushPending()
        } catch {
            fail(.io(error))
            return
        }
        if pending.isEmpty {
            suspendWriteSource()
            // Handshake records are the channel's own output: the delegate hears the handshake's end instead.
            if !tlsHandshaking { delegate?.channelDrained(self) }
        }
    }

    /// writev of up to `PendingWrites.maxBatch` queued buffers until the socket would block.
    private func flushPending() throws(SyscallError) {
        while !pending.isEmpty {
            let result = try pending.withIOVecs { iov throws(SyscallError) in
                try Syscall.writev(fd, iov.baseAddress!, Int32(iov.count))
            }
            switch result {
            case .done(let n): pending.consume(n)
            case .wouldBlock: return
            }
        }
    }

    func fail(_ error: ChannelError) {
        delegate?.channelFailed(self, error)
    }

    // MARK: closing

    /// Idempotent. Queued output is dropped; callers that want it delivered wait for `channelDrained`.
    public func close() {
        guard !isClosed else { return }
        sendCloseNotify()
        isClosed = true
        pending.removeAll()
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

/// Counts the cancel handlers of a channel; they run on the channel's serial queue.
private final class CancelCounter: @unchecked Sendable {
    private var remaining: Int
    init(remaining: Int) { self.remaining = remaining }
    func decrement() -> Bool {
        remaining -= 1
        return remaining == 0
    }
}
