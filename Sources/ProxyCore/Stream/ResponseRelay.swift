/// Bytes to send to the client: a range of the chunk being processed (valid only during the
/// call), or a frame the proxy rewrote.
public enum RelayOutput {
    case borrowed(UnsafeRawBufferPointer)
    case owned([UInt8])
}

/// Follows the broker -> client byte stream. Responses arrive in request order, so before a
/// response's first byte the relay already knows (from the head of the in-flight queue) whether
/// it passes through untouched (streamed, zero copy) or must be collected whole and rewritten.
///
/// A pass-through frame goes out once its size and correlation id (its first 8 bytes) have been
/// checked, so a frame that turns out not to be the expected response never reaches the client:
/// an answer to a request that expects none (a broker answering acks=0 Produce, against the
/// protocol) is dropped, anything else closes the connection.
///
/// Not thread-safe: owned by one connection and used on its queue.
public struct ResponseRelay: Sendable {
    public let maxFrameBytes: Int

    private enum Mode: Sendable {
        /// Between frames.
        case idle
        /// A pass-through frame: its first 8 bytes are being checked (`frameBytes` nil) or it streams.
        case passing(request: InflightRequest?, seen: Int, frameBytes: Int?)
        /// Collecting a frame to rewrite or to hand to the proxy.
        case collecting(request: InflightRequest, frameBytes: Int?)
        /// Dropping the rest of a stray frame.
        case skipping(remaining: Int)
    }

    private var mode: Mode = .idle
    /// Size prefix and correlation id of the current pass-through frame, as they pass.
    private var prefix: UInt64 = 0
    private var collected: [UInt8] = []

    public init(maxFrameBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// True when no response is partially relayed.
    public var isAtFrameBoundary: Bool {
        if case .idle = mode { return true }
        return false
    }

    /// - Parameters:
    ///   - needsRewrite: whether the response to this request must be collected and rewritten.
    ///   - rewrite: turns a whole collected frame (size prefix excluded) into the bytes to send
    ///     (size prefix excluded; the relay writes the new one).
    ///   - isStray: whether a response with this correlation id answers a request that expected
    ///     none (recent acks=0 Produce); such a response is dropped.
    ///   - onResponse: called once per response, when its header has been checked, with the frame's
    ///     size; and with its payload when the relay holds the whole response anyway (one to
    ///     rewrite), nil for one passed through.
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
        let count = chunk.count
        // Start of the borrowed range not yet emitted; consecutive pass-through frames go out as one range.
        var passStart = 0

        func flushPassed(upTo end: Int) {
            if end > passStart { emit(.borrowed(UnsafeRawBufferPointer(rebasing: chunk[passStart..<end]))) }
            passStart = end
        }

        while index < count {
            switch mode {
            case .idle:
                // Pass-through frames keep extending the pending range (one write for all of a
                // read's responses); a collected frame must not be in it.
                let head = inflight.first
                if let head, head.fromProxy || needsRewrite(head) {
                    flushPassed(upTo: index)
                    collected.removeAll(keepingCapacity: true)
                    mode = .collecting(request: head, frameBytes: nil)
                } else {
                    prefix = 0
                    mode = .passing(request: head, seen: 0, frameBytes: nil)
                }

            case .passing(let request, var seen, var frameBytes):
                if let total = frameBytes {
                    let n = min(total - seen, count - index)
                    seen += n
                    index += n
                } else {
                    // The first 8 bytes are held back until checked: `passStart` stays at the frame
                    // start if it is in this chunk, else they are re-emitted from `prefix`.
                    let startedHere = seen == 0
                    let frameStart = index
                    while seen < 8 && index < count {
                        prefix = prefix << 8 | UInt64(chunk[index])
                        seen += 1
                        index += 1
                    }
                    guard seen == 8 else {
                        mode = .passing(request: request, seen: seen, frameBytes: nil)
                        // Nothing of this frame is emitted before it is checked; the frames before it are.
                        flushPassed(upTo: frameStart)
                        passStart = index
                        continue
                    }
                    let size = Int32(bitPattern: UInt32(truncatingIfNeeded: prefix >> 32))
                    let correlationId = Int32(bitPattern: UInt32(truncatingIfNeeded: prefix))
                    // Responses before a bad frame still reach the client before the connection closes.
                    let total: Int
                    do { total = try checkedFrameBytes(size: size) } catch {
                        flushPassed(upTo: frameStart)
                        throw error
                    }
                    guard let request, correlationId == request.correlationId else {
                        guard isStray(correlationId) else {
                            flushPassed(upTo: frameStart)
                            if let request {
                                throw ProxyStreamError(.correlationMismatch,
                                    "response correlation id \(correlationId), expected \(request.correlationId)")
                            }
                            throw ProxyStreamError(.unexpectedResponse,
                                "broker sent a response (correlation id \(correlationId)) to no outstanding request")
                        }
                        flushPassed(upTo: frameStart)
                        passStart = index
                        mode = total > 8 ? .skipping(remaining: total - 8) : .idle
                        continue
                    }
                    inflight.popFirst()
                    if !startedHere {
                        // The frame began in an earlier chunk, so nothing of this chunk precedes it.
                        withUnsafeBytes(of: prefix.bigEndian) { emit(.owned(Array($0))) }
                        passStart = index
                    }
                    frameBytes = total
                    onResponse(request, total, nil)
                }
                if let total = frameBytes, seen == total {
                    mode = .idle
                } else {
                    mode = .passing(request: request, seen: seen, frameBytes: frameBytes)
                }

            case .skipping(let remaining):
                let n = min(remaining, count - index)
                index += n
                passStart = index
                mode = remaining - n == 0 ? .idle : .skipping(remaining: remaining - n)

            case .collecting(let request, var frameBytes):
                if frameBytes == nil {
                    let n = min(4 - collected.count, count - index)
                    collected.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[index..<(index + n)]))
                    index += n
                    passStart = index
                    guard collected.count == 4 else { continue }
                    let size = Int32(bitPattern: UInt32(collected[0]) << 24 | UInt32(collected[1]) << 16
                        | UInt32(collected[2]) << 8 | UInt32(collected[3]))
                    let total = try checkedFrameBytes(size: size)
                    frameBytes = total
                    collected.reserveCapacity(total)
                }
                let total = frameBytes!
                let n = min(total - collected.count, count - index)
                collected.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[index..<(index + n)]))
                index += n
                passStart = index
                guard collected.count == total else {
                    mode = .collecting(request: request, frameBytes: frameBytes)
                    continue
                }
                mode = .idle
                let payload = Array(collected[4...])
                collected.removeAll(keepingCapacity: collected.capacity <= 1 << 16)
                guard payload.count >= 4 else {
                    throw ProxyStreamError(.undecodableResponse, "response has no correlation id")
                }
                let correlationId = Int32(bitPattern: UInt32(payload[0]) << 24 | UInt32(payload[1]) << 16
                    | UInt32(payload[2]) << 8 | UInt32(payload[3]))
                guard correlationId == request.correlationId else {
                    if isStray(correlationId) { continue }
                    throw ProxyStreamError(.correlationMismatch,
                        "response correlation id \(correlationId), expected \(request.correlationId)")
                }
                inflight.popFirst()
                if request.fromProxy {
                    try onProxyResponse(request, payload)
                    continue
                }
                onResponse(request, total, payload)
                let rewritten = try rewrite(request, payload)
                var frame: [UInt8] = []
                frame.reserveCapacity(4 + rewritten.count)
                let size = UInt32(rewritten.count)
                frame.append(UInt8(truncatingIfNeeded: size >> 24))
                frame.append(UInt8(truncatingIfNeeded: size >> 16))
                frame.append(UInt8(truncatingIfNeeded: size >> 8))
                frame.append(UInt8(truncatingIfNeeded: size))
                frame.append(contentsOf: rewritten)
                emit(.owned(frame))
            }
        }
        switch mode {
        case .passing(_, let seen, nil) where seen > 0:
            // The unchecked start of a frame stays back; it is re-emitted from `prefix` once checked.
            break
        default:
            flushPassed(upTo: count)
        }
    }

    private func checkedFrameBytes(size: Int32) throws(ProxyStreamError) -> Int {
        guard size >= 4 else {
            throw ProxyStreamError(.invalidFrameSize, "response size \(size) is smaller than a response header")
        }
        guard Int(size) <= maxFrameBytes else {
            throw ProxyStreamError(.frameTooLarge, "response of \(size) bytes exceeds limits.maxResponseBytes (\(maxFrameBytes))")
        }
        return 4 + Int(size)
    }
}
