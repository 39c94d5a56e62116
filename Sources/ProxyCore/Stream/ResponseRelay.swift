import KafkaProtocol

/// Bytes to send to the client: a range of the chunk being processed (valid only during the
/// call), or a frame the proxy rewrote.
public enum RelayOutput {
    case borrowed(UnsafeRawBufferPointer)
    case owned([UInt8])
}

/// What the response relay found in the broker -> client stream; see `ResponseRelay.next`.
public enum ResponseEvent {
    /// Pass-through bytes for the client, a range of the chunk (one per read where possible);
    /// valid until the next call.
    case forward(UnsafeRawBufferPointer)
    /// The first 8 bytes (size and correlation id, big endian) of a pass-through frame that
    /// began in an earlier chunk: held back until checked, they go to the client now, before
    /// the next `.forward`. Send `withUnsafeBytes(of: prefix.bigEndian)`.
    case forwardPrefix(UInt64)
    /// A response to a client request was matched and popped from the in-flight queue (for
    /// latency); for a pass-through frame its bytes follow as `.forward`; `collected`: `.rewrite` follows.
    case response(InflightRequest, frameBytes: Int, collected: Bool)
    /// A whole frame to rewrite: its payload (size prefix excluded). The caller sends the
    /// rewritten payload with a new size prefix (`KafkaFrame.framed`).
    case rewrite(InflightRequest, [UInt8])
    /// The whole payload answering a request the proxy sent itself; the client never sees it.
    case proxyResponse(InflightRequest, [UInt8])
    /// The head of the in-flight queue is a request the proxy answers itself: nothing of the chunk
    /// was consumed for it. The caller sends that answer and pops it before calling again, or
    /// keeps `chunk[index...]` (the responses after it) until it can.
    case localAnswer(InflightRequest)
}

/// Follows the broker -> client byte stream. Responses arrive in request order, so before a
/// response's first byte the relay already knows (from the head of the in-flight queue) whether
/// it passes through untouched (streamed, zero copy) or must be collected whole and rewritten.
///
/// A pass-through frame goes out once its size and correlation id (its first 8 bytes) have been
/// checked, so a frame that turns out not to be the expected response never reaches the client:
/// an answer to a request that expects none (a broker answering acks=0 Produce, against the
/// protocol) is dropped, anything else closes the connection. The responses before a bad frame
/// still go out: `next` returns them, and throws on the call after.
///
/// Not thread-safe: owned by one connection and used on its queue.
public struct ResponseRelay: Sendable {
    public let maxFrameBytes: Int

    private enum Mode: Sendable {
        /// Between frames.
        case idle
        /// A pass-through frame: its first 8 bytes are being checked (`frameBytes` nil) or it
        /// streams. `owesPrefix`: those 8 bytes began in an earlier chunk and are due from `prefix`.
        case passing(request: InflightRequest?, seen: Int, frameBytes: Int?, owesPrefix: Bool)
        /// Collecting a frame to rewrite or to hand to the proxy (`seen` counts its size prefix too).
        case collecting(request: InflightRequest, seen: Int, frameBytes: Int?)
        /// A collected frame's `.response` went out; its `.rewrite` (of `collected`) is next.
        /// (No payload in the mode itself: a trivial enum costs no retain/release per step.)
        case rewriting(request: InflightRequest)
        /// Dropping the rest of a stray frame.
        case skipping(remaining: Int)
    }

    private var mode: Mode = .idle
    /// Size prefix and correlation id of the current frame, as they pass.
    private var prefix: UInt64 = 0
    private var collected: [UInt8] = []
    /// Chunk bytes before `index` that are checked but not yet returned as `.forward`.
    private var pending = 0
    /// A bad frame, thrown once the responses before it have gone out.
    private var failure: ProxyStreamError?

    public init(maxFrameBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// True when no response is partially relayed.
    public var isAtFrameBoundary: Bool {
        if case .idle = mode { return true }
        return false
    }

    /// The next event from `chunk[index...]` (advancing `index`); nil once the chunk is consumed.
    /// Call it until nil before passing the next chunk.
    /// - Parameters:
    ///   - inflight: its head is the request the next response answers; matched requests are popped.
    ///   - rewrites: whether the response to this request must be collected and rewritten.
    ///   - strays: ids of requests that expect no response; an answer to one is dropped.
    public mutating func next(
        _ chunk: UnsafeRawBufferPointer,
        _ index: inout Int,
        inflight: inout InflightQueue,
        rewrites: (InflightRequest) -> Bool,
        strays: StrayResponses
    ) throws(ProxyStreamError) -> ResponseEvent? {
        // `strays` is passed on, not captured: a capturing closure would retain its ids per call.
        try step(chunk, &index, inflight: &inflight, rewrites: rewrites, strays: strays, isStray: { _ in false })
    }

    /// The callback front end to `next`.
    /// - Parameters:
    ///   - needsRewrite: whether the response to this request must be collected and rewritten.
    ///   - rewrite: turns a whole collected frame (size prefix excluded) into the bytes to send
    ///     (size prefix excluded; the relay writes the new one).
    ///   - isStray: whether a response with this correlation id answers a request that expected
    ///     none (recent acks=0 Produce); such a response is dropped.
    ///   - onResponse: called once per response, when its header has been checked, with the frame's
    ///     payload when the relay collects it whole (nil for a streamed frame).
    ///   - onProxyResponse: the whole payload answering a request the proxy sent itself; the
    ///     client never sees it.
    public mutating func relay(
        _ chunk: UnsafeRawBufferPointer,
        inflight: inout InflightQueue,
        needsRewrite: (InflightRequest) -> Bool,
        rewrite: (InflightRequest, [UInt8]) throws(ProxyStreamError) -> [UInt8],
        isStray: (Int32) -> Bool = { _ in false },
        onResponse: (InflightRequest, Int, [UInt8]?) -> Void,
        onProxyResponse: (InflightRequest, [UInt8]) throws(ProxyStreamError) -> Void = { _, _ in },
        emit: (RelayOutput) -> Void
    ) throws(ProxyStreamError) {
        var index = 0
        // A collected frame's `.response` comes before its payload: reported with it.
        var collected: (InflightRequest, Int)?
        let noStrays = StrayResponses()
        while let event = try step(chunk, &index, inflight: &inflight, rewrites: needsRewrite, strays: noStrays, isStray: isStray) {
            switch event {
            case .forward(let bytes):
                emit(.borrowed(bytes))
            case .forwardPrefix(let prefix):
                withUnsafeBytes(of: prefix.bigEndian) { emit(.owned(Array($0))) }
            case .response(let request, let frameBytes, let isCollected):
                if isCollected {
                    collected = (request, frameBytes)
                } else {
                    onResponse(request, frameBytes, nil)
                }
            case .rewrite(let request, let payload):
                if let (seen, frameBytes) = collected { onResponse(seen, frameBytes, payload) }
                collected = nil
                emit(.owned(KafkaFrame.framed(try rewrite(request, payload))))
            case .proxyResponse(let request, let payload):
                try onProxyResponse(request, payload)
            case .localAnswer(let request):
                throw ProxyStreamError(.unexpectedResponse,
                    "request \(request.correlationId) is answered by the proxy; this front end cannot send that answer")
            }
        }
    }

    private mutating func step(
        _ chunk: UnsafeRawBufferPointer,
        _ index: inout Int,
        inflight: inout InflightQueue,
        rewrites: (InflightRequest) -> Bool,
        strays: borrowing StrayResponses,
        isStray: (Int32) -> Bool
    ) throws(ProxyStreamError) -> ResponseEvent? {
        if let failure { throw failure }
        let count = chunk.count
        while true {
            switch mode {
            case .idle:
                guard index < count else { return flush(chunk, upTo: index) }
                // Pass-through frames keep extending the pending range (one write for all of a
                // read's responses); a collected frame must not be in it.
                let head = inflight.first
                if let head, head.isLocal {
                    if pending > 0 { return flush(chunk, upTo: index) }
                    return .localAnswer(head)
                }
                prefix = 0
                if let head, head.fromProxy || rewrites(head) {
                    if pending > 0 { return flush(chunk, upTo: index) }
                    mode = .collecting(request: head, seen: 0, frameBytes: nil)
                } else {
                    mode = .passing(request: head, seen: 0, frameBytes: nil, owesPrefix: false)
                }

            case .passing(let request, var seen, let frameBytes, let owesPrefix):
                if owesPrefix {
                    mode = seen == frameBytes ? .idle : .passing(request: request, seen: seen, frameBytes: frameBytes, owesPrefix: false)
                    return .forwardPrefix(prefix)
                }
                guard index < count else { return flush(chunk, upTo: index) }
                if let total = frameBytes {
                    let n = min(total - seen, count - index)
                    seen += n
                    index += n
                    pending += n
                    mode = seen == total ? .idle : .passing(request: request, seen: seen, frameBytes: total, owesPrefix: false)
                    continue
                }
                // The first 8 bytes are held back until checked: they join the pending range
                // if the frame starts in this chunk, else they are re-emitted from `prefix`.
                let startedHere = seen == 0
                let frameStart = index
                if startedHere && count - index >= 8 {
                    prefix = UInt64(bigEndian: UnsafeRawBufferPointer(rebasing: chunk[index..<(index + 8)]).loadUnaligned(as: UInt64.self))
                    seen = 8
                    index += 8
                }
                while seen < 8 && index < count {
                    prefix = prefix << 8 | UInt64(chunk[index])
                    seen += 1
                    index += 1
                }
                guard seen == 8 else {
                    mode = .passing(request: request, seen: seen, frameBytes: nil, owesPrefix: false)
                    // Nothing of this frame goes out before it is checked; the frames before it do.
                    return flush(chunk, upTo: frameStart)
                }
                let size = Int32(bitPattern: UInt32(truncatingIfNeeded: prefix >> 32))
                let correlationId = Int32(bitPattern: UInt32(truncatingIfNeeded: prefix))
                let total: Int
                do { total = try checkedFrameBytes(size: size) } catch {
                    return try fail(error, chunk, upTo: frameStart)
                }
                guard let request, correlationId == request.correlationId else {
                    guard strays.contains(correlationId) || isStray(correlationId) else {
                        let error = request.map {
                            ProxyStreamError(.correlationMismatch, "response correlation id \(correlationId), expected \($0.correlationId)")
                        } ?? ProxyStreamError(.unexpectedResponse,
                                              "broker sent a response (correlation id \(correlationId)) to no outstanding request")
                        return try fail(error, chunk, upTo: frameStart)
                    }
                    mode = total > 8 ? .skipping(remaining: total - 8) : .idle
                    if let out = flush(chunk, upTo: frameStart) { return out }
                    continue
                }
                inflight.popFirst()
                if startedHere { pending += 8 }
                if startedHere && total == 8 {
                    mode = .idle
                } else {
                    mode = .passing(request: request, seen: 8, frameBytes: total, owesPrefix: !startedHere)
                }
                return .response(request, frameBytes: total, collected: false)

            case .skipping(let remaining):
                guard index < count else { return flush(chunk, upTo: index) }
                let n = min(remaining, count - index)
                index += n
                mode = remaining == n ? .idle : .skipping(remaining: remaining - n)

            case .collecting(let request, var seen, var frameBytes):
                guard index < count else { return flush(chunk, upTo: index) }
                if frameBytes == nil {
                    while seen < 4 && index < count {
                        prefix = prefix << 8 | UInt64(chunk[index])
                        seen += 1
                        index += 1
                    }
                    guard seen == 4 else {
                        mode = .collecting(request: request, seen: seen, frameBytes: nil)
                        continue
                    }
                    let total: Int
                    do { total = try checkedFrameBytes(size: Int32(bitPattern: UInt32(truncatingIfNeeded: prefix))) } catch {
                        return try fail(error, chunk, upTo: index)
                    }
                    frameBytes = total
                    collected = []
                    collected.reserveCapacity(total - 4)
                }
                let total = frameBytes!
                let n = min(total - seen, count - index)
                collected.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[index..<(index + n)]))
                index += n
                seen += n
                guard seen == total else {
                    mode = .collecting(request: request, seen: seen, frameBytes: total)
                    continue
                }
                mode = .idle
                // checkedFrameBytes guarantees 4 payload bytes.
                let correlationId = Int32(bitPattern: UInt32(collected[0]) << 24 | UInt32(collected[1]) << 16
                    | UInt32(collected[2]) << 8 | UInt32(collected[3]))
                guard correlationId == request.correlationId else {
                    if strays.contains(correlationId) || isStray(correlationId) { continue }
                    return try fail(ProxyStreamError(.correlationMismatch,
                        "response correlation id \(correlationId), expected \(request.correlationId)"), chunk, upTo: index)
                }
                inflight.popFirst()
                if request.fromProxy { return .proxyResponse(request, takeCollected()) }
                mode = .rewriting(request: request)
                return .response(request, frameBytes: total, collected: true)

            case .rewriting(let request):
                mode = .idle
                return .rewrite(request, takeCollected())
            }
        }
    }

    /// The payload is handed over, not copied; the next collected frame gets its own array.
    private mutating func takeCollected() -> [UInt8] {
        let payload = collected
        collected = []
        return payload
    }

    /// The pending range, which ends at `end`.
    private mutating func flush(_ chunk: UnsafeRawBufferPointer, upTo end: Int) -> ResponseEvent? {
        guard pending > 0 else { return nil }
        let range = UnsafeRawBufferPointer(rebasing: chunk[(end - pending)..<end])
        pending = 0
        return .forward(range)
    }

    /// Remembers `error`; the responses checked before it go out first.
    private mutating func fail(_ error: ProxyStreamError, _ chunk: UnsafeRawBufferPointer,
                               upTo end: Int) throws(ProxyStreamError) -> ResponseEvent? {
        failure = error
        if let out = flush(chunk, upTo: end) { return out }
        throw error
    }

    @inline(__always)
    private func checkedFrameBytes(size: Int32) throws(ProxyStreamError) -> Int {
        guard size >= 4, Int(size) <= maxFrameBytes else { throw Self.sizeError(size, limit: maxFrameBytes) }
        return 4 + Int(size)
    }

    /// Out of line: the messages are the bulk of the code, and the fast path never builds them.
    @inline(never)
    private static func sizeError(_ size: Int32, limit: Int) -> ProxyStreamError {
        if size < 4 {
            return ProxyStreamError(.invalidFrameSize, "response size \(size) is smaller than a response header")
        }
        return ProxyStreamError(.frameTooLarge, "response of \(size) bytes exceeds limits.maxResponseBytes (\(limit))")
    }
}
