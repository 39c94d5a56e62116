import KafkaProtocol

/// What the request relay found in the client -> broker stream; see `RequestRelay.next`.
public enum RequestEvent {
    /// Streaming: a request's header (and, for Produce, its acks) was read.
    case request(ObservedRequest)
    /// Streaming: bytes to pass on unchanged; valid until the next call. The frames of one read
    /// come as one range (one write per read), after their `.request` events.
    case forward(UnsafeRawBufferPointer)
    /// Framing: one whole frame, size prefix included; valid until the next call. Borrowed from
    /// the chunk when it lies whole in it (no copy), else from the relay's buffer.
    case frame(ObservedRequest, UnsafeRawBufferPointer)
}

/// Frames the client -> broker byte stream. One type for every request path, so they all
/// validate alike:
/// - `.streaming` (the fast path): requests pass byte for byte as they arrive; the relay only
///   looks at each header and copies nothing but a header that straddles two reads.
/// - `.framing` (SASL, producer id translation): whole frames, so the caller can answer, hold
///   or rewrite each one. A frame that lies whole in a read is lent from it; only a frame split
///   across reads is assembled in the relay's buffer.
///
/// Pull style: `next` returns one event at a time, so an owner can react to each (and switch
/// mode, or hold a frame) without a callback that captures it.
///
/// After a thrown error the stream is unusable: the connection must close.
/// Not thread-safe: owned by one connection and used on its queue.
public struct RequestRelay: Sendable {
    public enum Mode: Sendable, Equatable {
        case streaming
        case framing
    }

    public let maxFrameBytes: Int
    /// Takes effect at the next frame boundary: a frame is relayed whole in the mode it began in.
    public var mode: Mode

    private enum Progress: Sendable {
        /// The next unread byte starts a frame.
        case boundary
        /// Streaming: the header was reported, `remaining` more bytes of the frame pass as they come.
        case body(remaining: Int, frameBytes: Int)
        /// The unread bytes of `queue` (all of them) are the start of the current frame, which
        /// began in `mode`: framing waits for the whole frame, streaming for its header.
        /// `forwarded`: streaming only, the bytes went out with their read (a header straddling
        /// reads), so `queue` holds a copy for parsing; else they are still to be sent.
        case partial(Mode, forwarded: Bool)
    }

    private enum LastFrame: Sendable {
        case chunk(Int)
        case queue(Int)
    }

    private var progress = Progress.boundary
    /// Bytes kept between calls: held frames and the start of an unfinished frame.
    private var queue = ByteQueue()
    /// Bytes scanned but not yet returned as `.forward`: the `pending` bytes before the chunk's
    /// index, or (`pendingInQueue`) before the queue's read index.
    private var pending = 0
    private var pendingInQueue = false
    /// Set by a `.frame` event, for `holdLastFrame`.
    private var lastFrame: LastFrame?
    /// Framing, a partial frame: its header once it could be read. (Kept out of `progress`, whose
    /// size every step of the fast path pays for.)
    private var partialRequest: ObservedRequest?

    /// A request header can hold two int16-length strings (client id, transactional id).
    static let headerLimit = 4 + 8 + 2 * (2 + Int(Int16.max)) + 64

    public init(maxFrameBytes: Int, mode: Mode = .streaming) {
        self.maxFrameBytes = maxFrameBytes
        self.mode = mode
    }

    /// True between frames with nothing held: the client has sent no partial request.
    public var isAtFrameBoundary: Bool {
        if case .boundary = progress { return queue.isEmpty }
        return false
    }

    /// Bytes of the unfinished frame seen so far, for the log line of a connection closed
    /// mid-request (0 at a frame boundary, even with held frames: see `bufferedBytes`).
    public var bytesIntoFrame: Int {
        switch progress {
        case .boundary: 0
        case .body(let remaining, let frameBytes): frameBytes - remaining
        case .partial: queue.count
        }
    }

    /// Bytes kept inside the relay: held frames and a partial frame (or a straddling header's copy).
    public var bufferedBytes: Int { queue.count }

    /// The next event from the queue's bytes, then `chunk[index...]` (advancing `index`); nil
    /// once the chunk is consumed and no whole kept frame is left. Call it until nil before
    /// passing the next chunk.
    public mutating func next(_ chunk: UnsafeRawBufferPointer, _ index: inout Int) throws(ProxyStreamError) -> RequestEvent? {
        lastFrame = nil
        // The fast path (streaming, nothing kept), in a small function: the general one below
        // costs a large stack frame per call, paid per request.
        if queue.isEmpty && !pendingInQueue {
            while true {
                switch progress {
                case .body(let remaining, let frameBytes):
                    guard index < chunk.count else { return flushChunk(chunk, upTo: index) }
                    let n = min(remaining, chunk.count - index)
                    index += n
                    pending += n
                    progress = n == remaining ? .boundary : .body(remaining: remaining - n, frameBytes: frameBytes)
                    continue
                case .boundary where mode == .streaming:
                    guard index < chunk.count else { return flushChunk(chunk, upTo: index) }
                    let available = UnsafeRawBufferPointer(rebasing: chunk[index...])
                    guard let request = try Self.parseFrameStart(available, limit: maxFrameBytes) else { break }
                    let taken = min(request.frameBytes, available.count)
                    index += taken
                    pending += taken
                    progress = taken == request.frameBytes
                        ? .boundary : .body(remaining: request.frameBytes - taken, frameBytes: request.frameBytes)
                    return .request(request)
                default:
                    break
                }
                break
            }
        }
        return try nextInGeneral(chunk, &index)
    }

    @inline(never)
    private mutating func nextInGeneral(_ chunk: UnsafeRawBufferPointer, _ index: inout Int) throws(ProxyStreamError) -> RequestEvent? {
        if queue.readIndex > 0 && !(pendingInQueue && pending > 0) { queue.compactIfWorthwhile() }
        while true {
            switch progress {
            case .body(let remaining, let frameBytes):
                // A body never continues inside the queue: its start was consumed whole from it.
                if pendingInQueue && pending > 0 { return flushQueue() }
                guard index < chunk.count else { return flushChunk(chunk, upTo: index) }
                let n = min(remaining, chunk.count - index)
                index += n
                addPending(n, inQueue: false)
                progress = n == remaining ? .boundary : .body(remaining: remaining - n, frameBytes: frameBytes)

            case .boundary:
                let fromQueue = !queue.isEmpty
                if !fromQueue && index == chunk.count {
                    return pendingInQueue ? flushQueue() : flushChunk(chunk, upTo: index)
                }
                switch mode {
                case .framing:
                    if pending > 0 { return pendingInQueue ? flushQueue() : flushChunk(chunk, upTo: index) }
                    if fromQueue {
                        let available = queue.unread
                        let request = try Self.parseFrameStart(available, limit: maxFrameBytes)
                        if let request, request.frameBytes <= available.count {
                            let start = queue.readIndex
                            queue.consume(request.frameBytes)
                            lastFrame = .queue(request.frameBytes)
                            return .frame(request, queue.bytes(start..<(start + request.frameBytes)))
                        }
                        partialRequest = request
                        progress = .partial(.framing, forwarded: false)
                    } else {
                        let available = UnsafeRawBufferPointer(rebasing: chunk[index...])
                        let request = try Self.parseFrameStart(available, limit: maxFrameBytes)
                        if let request, request.frameBytes <= available.count {
                            index += request.frameBytes
                            lastFrame = .chunk(request.frameBytes)
                            return .frame(request, UnsafeRawBufferPointer(rebasing: available[..<request.frameBytes]))
                        }
                        // Incomplete, so it all belongs to this frame (a header never reaches past its frame).
                        queue.append(available)
                        index = chunk.count
                        partialRequest = request
                        progress = .partial(.framing, forwarded: false)
                    }

                case .streaming:
                    if fromQueue {
                        let available = queue.unread
                        guard let request = try Self.parseFrameStart(available, limit: maxFrameBytes) else {
                            // Kept bytes ending inside a header: they wait, unsent, for the rest of it.
                            progress = .partial(.streaming, forwarded: false)
                            continue
                        }
                        let taken = min(request.frameBytes, available.count)
                        queue.consume(taken)
                        addPending(taken, inQueue: true)
                        progress = taken == request.frameBytes
                            ? .boundary : .body(remaining: request.frameBytes - taken, frameBytes: request.frameBytes)
                        return .request(request)
                    }
                    if pendingInQueue && pending > 0 { return flushQueue() }
                    let available = UnsafeRawBufferPointer(rebasing: chunk[index...])
                    guard let request = try Self.parseFrameStart(available, limit: maxFrameBytes) else {
                        // The header straddles reads: these bytes pass now, a copy is kept to parse it.
                        queue.append(available)
                        index = chunk.count
                        addPending(available.count, inQueue: false)
                        progress = .partial(.streaming, forwarded: true)
                        continue
                    }
                    let taken = min(request.frameBytes, available.count)
                    index += taken
                    addPending(taken, inQueue: false)
                    progress = taken == request.frameBytes
                        ? .boundary : .body(remaining: request.frameBytes - taken, frameBytes: request.frameBytes)
                    return .request(request)
                }

            case .partial(let frameMode, let forwarded):
                var request = partialRequest
                // The queue grows below: nothing lent from it may be outstanding.
                if pendingInQueue && pending > 0 { return flushQueue() }
                guard index < chunk.count else { return flushChunk(chunk, upTo: index) }
                let have = queue.count
                let want: Int
                if have < 4 {
                    want = 4 - have
                } else {
                    let frameBytes: Int
                    if let request { frameBytes = request.frameBytes } else {
                        frameBytes = try Self.frameBytes(prefix: queue.unread, limit: maxFrameBytes)
                    }
                    want = (frameMode == .framing ? frameBytes : min(frameBytes, Self.headerLimit)) - have
                }
                // A header can outgrow the limit inside a single read (want < 0): refused below.
                let n = max(0, min(want, chunk.count - index))
                queue.append(UnsafeRawBufferPointer(rebasing: chunk[index..<(index + n)]))
                index += n
                if forwarded { addPending(n, inQueue: false) }
                if request == nil { request = try Self.parseFrameStart(queue.unread, limit: maxFrameBytes) }

                if frameMode == .framing {
                    guard let request, queue.count == request.frameBytes else {
                        partialRequest = request
                        continue
                    }
                    partialRequest = nil
                    progress = .boundary
                    let start = queue.readIndex
                    queue.consume(request.frameBytes)
                    lastFrame = .queue(request.frameBytes)
                    return .frame(request, queue.bytes(start..<(start + request.frameBytes)))
                }
                guard let request else {
                    if queue.count >= 4 {
                        let frameBytes = try Self.frameBytes(prefix: queue.unread, limit: maxFrameBytes)
                        if queue.count >= min(frameBytes, Self.headerLimit) {
                            throw ProxyStreamError(.malformedRequest, "request header does not fit in its \(frameBytes)-byte frame")
                        }
                    }
                    continue
                }
                let seen = queue.count
                if forwarded {
                    queue.removeAll()
                } else {
                    // Kept bytes completed from this read: they go out from the queue, then the read's rest.
                    queue.consume(seen)
                    addPending(seen, inQueue: true)
                }
                progress = seen == request.frameBytes
                    ? .boundary : .body(remaining: request.frameBytes - seen, frameBytes: request.frameBytes)
                return .request(request)
            }
        }
    }

    /// Puts the frame of the last `.frame` event back, with the unread rest of `chunk` (from
    /// `index`) after it, and sets `index` to the chunk's end: nothing is lost or reordered, and
    /// later `next` calls (with the next chunk, or an empty one) return the kept frames first.
    /// Costs one copy of the kept bytes. Only valid right after `next` returned `.frame`, with
    /// the same chunk and index.
    public mutating func holdLastFrame(_ chunk: UnsafeRawBufferPointer, _ index: inout Int) {
        guard let last = lastFrame else { preconditionFailure("holdLastFrame must follow a .frame event") }
        lastFrame = nil
        switch last {
        case .queue(let frameBytes):
            queue.unconsume(frameBytes)
            queue.append(UnsafeRawBufferPointer(rebasing: chunk[index...]))
        case .chunk(let frameBytes):
            precondition(queue.isEmpty && index >= frameBytes)
            queue.append(UnsafeRawBufferPointer(rebasing: chunk[(index - frameBytes)...]))
        }
        index = chunk.count
    }

    // MARK: pass-through ranges

    private mutating func addPending(_ n: Int, inQueue: Bool) {
        if pending == 0 { pendingInQueue = inQueue }
        pending += n
    }

    private mutating func flushChunk(_ chunk: UnsafeRawBufferPointer, upTo end: Int) -> RequestEvent? {
        guard pending > 0 else { return nil }
        let range = UnsafeRawBufferPointer(rebasing: chunk[(end - pending)..<end])
        pending = 0
        return .forward(range)
    }

    private mutating func flushQueue() -> RequestEvent? {
        guard pending > 0 else { return nil }
        let end = queue.readIndex
        let range = queue.bytes((end - pending)..<end)
        pending = 0
        pendingInQueue = false
        return .forward(range)
    }

    // MARK: header parsing

    /// `prefix` holds at least 4 bytes.
    @inline(__always)
    static func frameBytes(prefix: UnsafeRawBufferPointer, limit: Int) throws(ProxyStreamError) -> Int {
        precondition(prefix.count >= 4)
        let size = Int32(bitPattern: UInt32(bigEndian: prefix.loadUnaligned(as: UInt32.self)))
        // apiKey + apiVersion + correlationId is the smallest request there is.
        guard size >= 8, Int(size) <= limit else { throw sizeError(size, limit: limit) }
        return 4 + Int(size)
    }

    /// Out of line: the messages are the bulk of the code, and the fast path never builds them.
    @inline(never)
    private static func sizeError(_ size: Int32, limit: Int) -> ProxyStreamError {
        if size < 8 {
            return ProxyStreamError(.invalidFrameSize, "request size \(size) is smaller than a request header")
        }
        return ProxyStreamError(.frameTooLarge, "request of \(size) bytes exceeds limits.maxRequestBytes (\(limit))")
    }

    /// nil when the bytes so far end before the header (and, for Produce, the acks field) does.
    /// Static, so a call does not copy the relay as `self`.
    private static func parseFrameStart(_ bytes: UnsafeRawBufferPointer, limit: Int) throws(ProxyStreamError) -> ObservedRequest? {
        guard bytes.count >= 4 else { return nil }
        let frameBytes = try Self.frameBytes(prefix: bytes, limit: limit)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[4..<min(bytes.count, frameBytes)])
        do {
            return try Self.peekFrame(payload, frameBytes: frameBytes)
        } catch let error as ProxyStreamError {
            throw error
        } catch let error as KafkaProtocolError {
            if error.code == .unknownApiKey {
                throw ProxyStreamError(.unknownApiKey, error.description)
            }
            throw ProxyStreamError(.malformedRequest, error.description)
        } catch {
            throw ProxyStreamError(.malformedRequest, "\(error)")
        }
    }

    private static func peekFrame(_ payload: UnsafeRawBufferPointer, frameBytes: Int) throws -> ObservedRequest? {
        guard let peek = try RequestHeader.peek(payload, frameLength: frameBytes - 4) else { return nil }
        if EndpointRewriting.carriesEndpoints(apiKey: peek.apiKey, apiVersion: peek.apiVersion),
           let max = EndpointRewriting.maxDecodedVersion[peek.apiKey], peek.apiVersion > max {
            throw ProxyStreamError(.unsupportedVersion,
                "\(ApiKey(rawValue: peek.apiKey)) v\(peek.apiVersion) is newer than this proxy decodes (max v\(max))")
        }
        var expectsResponse = true
        if peek.apiKey == ApiKey.produce.rawValue {
            let body = UnsafeRawBufferPointer(rebasing: payload[peek.headerLength...])
            guard let acks = try ProduceRequest.peekAcks(body, version: peek.apiVersion) else {
                if payload.count >= frameBytes - 4 {
                    throw ProxyStreamError(.malformedRequest, "produce request ends before acks")
                }
                return nil
            }
            expectsResponse = acks != 0
        }
        return ObservedRequest(apiKey: peek.apiKey, apiVersion: peek.apiVersion, correlationId: peek.correlationId,
                               frameBytes: frameBytes, headerLength: peek.headerLength, expectsResponse: expectsResponse)
    }
}
