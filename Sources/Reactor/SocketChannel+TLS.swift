#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import ProxyTLS

extension SocketChannel {
    public var isTLS: Bool { tls != nil }

    /// Turns TLS on. A client engine on a channel that is connecting: the handshake starts when
    /// the connect finishes. A server engine (an accepted socket): the handshake starts now. Either
    /// way the delegate hears `channelHandshakeCompleted` when it is done and `channelFailed` with
    /// `.tls` if it fails. Call on `queue`.
    public func startTLS(_ engine: TLSEngine) {
        guard !isClosed, tls == nil else { return }
        tls = engine
        tlsScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.tlsScratchSize, alignment: 1)
        if !connecting { beginHandshake() }
    }

    /// Peer certificate subject and protocol, for the log, once the handshake is done.
    public var tlsSummary: String? {
        guard let tls, tls.isHandshakeComplete else { return nil }
        return "\(tls.protocolVersion)\(tls.peerCertificateSubject.map { ", peer \($0)" } ?? "")"
    }

    /// For timeout messages: a TLS handshake still waiting for the peer usually means a plain-TCP port
    /// (a Kafka broker reads a ClientHello as the start of a ~370 MB frame and waits for the rest).
    public var tlsStallHint: String {
        guard let tls, tlsHandshaking else { return "" }
        let peer = tls.context.isClient ? "broker" : "client"
        return " (the TLS handshake got no answer from the \(peer): is it a plain-TCP port? check the port and tls.enabled)"
    }

    func beginHandshake() {
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
        delegate?.channelHandshakeCompleted(self)
        if wantsReading && !isClosed && tls.hasBufferedInput { scheduleReadableKick() }
    }

    /// Read events while the handshake runs: feed what arrived, answer, until done or would-block.
    func handshakeReadable() {
        guard let tls, let scratch = tlsScratch else { return }
        while tlsHandshaking && !isClosed {
            do throws(SyscallError) {
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
                fail(.io(error))
                return
            }
            advanceHandshake()
        }
    }

    /// Fills `buffer` with plaintext until it is full or nothing more is available now. Plaintext
    /// left in the engine after a full buffer is delivered by another read, scheduled here: the
    /// socket may never fire again for it.
    func readTLS(_ tls: TLSEngine, into buffer: UnsafeMutableRawBufferPointer) throws(ChannelError) -> IOResult<Int> {
        if tlsHandshaking { return .wouldBlock }
        guard let scratch = tlsScratch else { return .wouldBlock }
        var filled = 0
        var endOfStream = false
        reading: while filled < buffer.count {
            let result: TLSEngine.ReadResult
            do throws(TLSError) {
                result = try tls.readPlaintext(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            } catch {
                throw .tls(error)
            }
            switch result {
            case .bytes(let n):
                filled += n
            case .closed:
                endOfStream = true
                break reading
            case .needInput:
                let read: IOResult<Int>
                do throws(SyscallError) {
                    read = try Syscall.read(fd, scratch)
                } catch {
                    throw .io(error)
                }
                switch read {
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

    func sendTLS(_ tls: TLSEngine, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isClosed, bytes.count > 0 else { return !isClosed }
        if tlsHandshaking || !tls.isHandshakeComplete {
            tlsBacklog.append(Array(bytes))
            return true
        }
        do throws(TLSError) {
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
        return !isClosed && pending.isBelowHighWatermark
    }

    private func failTLS(_ error: TLSError) {
        tlsHandshaking = false
        fail(.tls(error))
    }

    /// Plaintext is buffered in the engine but the socket may never fire again for it.
    func scheduleReadableKick() {
        guard !tlsKickScheduled else { return }
        tlsKickScheduled = true
        queue.async { [self] in
            tlsKickScheduled = false
            guard !isClosed, !tlsHandshaking, wantsReading, readState == .running else { return }
            readFromSocket()
        }
    }

    /// Best effort: close_notify if the socket takes it now.
    func sendCloseNotify() {
        guard let tls, !tlsHandshaking, tls.isHandshakeComplete, pending.isEmpty, let scratch = tlsScratch else { return }
        tls.shutdown()
        let n = tls.drainCiphertext(into: scratch)
        if n > 0 { _ = try? Syscall.write(fd, UnsafeRawBufferPointer(rebasing: scratch[..<n])) }
    }
}
