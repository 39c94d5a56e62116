import KafkaProtocol

/// What the proxy learns from the start of one request frame.
public struct ObservedRequest: Sendable, Equatable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    /// Bytes of the whole frame, size prefix included.
    public var frameBytes: Int
    /// False for Produce with acks=0: the broker sends no response, so nothing is in flight.
    public var expectsResponse: Bool
}

/// Follows the client -> broker byte stream frame by frame without holding it back: requests
/// are relayed byte for byte, so the caller forwards every chunk as it is and this only looks.
/// It copies bytes only when a frame's header straddles two reads (a few dozen bytes).
///
/// Not thread-safe: owned by one connection and used on its queue.
public struct RequestObserver: Sendable {
    public let maxFrameBytes: Int

    /// Bytes of the current frame still to pass after its header was parsed.
    private var bodyRemaining = 0
    /// Start of a frame whose header is incomplete in the reads so far.
    private var held: [UInt8] = []

    /// A request header can hold two int16-length strings (client id, transactional id).
    private static let headerLimit = 4 + 8 + 2 * (2 + Int(Int16.max)) + 64

    public init(maxFrameBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// True between frames: the client has sent no partial request.
    public var isAtFrameBoundary: Bool { bodyRemaining == 0 && held.isEmpty }

    /// Bytes of an unfinished frame seen so far (as far as known: its header, or nothing more than
    /// that the body is incomplete), for the log line of a connection closed mid-request.
    public var bytesIntoFrame: Int { held.count }

    public mutating func observe(
        _ chunk: UnsafeRawBufferPointer,
        onRequest: (ObservedRequest) -> Void
    ) throws(ProxyStreamError) {
        var index = 0
        let count = chunk.count
        while index < count {
            if bodyRemaining > 0 {
                let n = min(bodyRemaining, count - index)
                bodyRemaining -= n
                index += n
                continue
            }
            if held.isEmpty {
                let available = UnsafeRawBufferPointer(rebasing: chunk[index...])
                if let (request, frameBytes) = try parseFrameStart(available) {
                    onRequest(request)
                    let taken = min(frameBytes, available.count)
                    bodyRemaining = frameBytes - taken
                    index += taken
                } else {
                    held.append(contentsOf: available)
                    index = count
                }
                continue
            }
            // Complete the held header from this chunk, never reaching past the frame's end.
            let want: Int
            if held.count < 4 {
                want = 4 - held.count
            } else {
                let frameBytes = try Self.frameBytes(prefix: held, limit: maxFrameBytes)
                want = min(frameBytes, Self.headerLimit) - held.count
            }
            let n = min(want, count - index)
            held.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[index..<(index + n)]))
            index += n
            let parsed = try held.withUnsafeBytes { bytes in
                Result { () throws(ProxyStreamError) in try parseFrameStart(bytes) }
            }.get()
            if let (request, frameBytes) = parsed {
                onRequest(request)
                bodyRemaining = frameBytes - held.count
                held.removeAll(keepingCapacity: true)
            } else if held.count >= 4 {
                let frameBytes = try Self.frameBytes(prefix: held, limit: maxFrameBytes)
                if held.count >= min(frameBytes, Self.headerLimit) {
                    throw ProxyStreamError(.malformedRequest, "request header does not fit in its \(frameBytes)-byte frame")
                }
            }
        }
    }

    private static func frameBytes<C: Collection>(prefix: C, limit: Int) throws(ProxyStreamError) -> Int
    where C.Element == UInt8, C.Index == Int {
        let s = prefix.startIndex
        let size = Int32(bitPattern: UInt32(prefix[s]) << 24 | UInt32(prefix[s + 1]) << 16
            | UInt32(prefix[s + 2]) << 8 | UInt32(prefix[s + 3]))
        // apiKey + apiVersion + correlationId is the smallest request there is.
        guard size >= 8 else {
            throw ProxyStreamError(.invalidFrameSize, "request size \(size) is smaller than a request header")
        }
        guard Int(size) <= limit else {
            throw ProxyStreamError(.frameTooLarge, "request of \(size) bytes exceeds limits.maxRequestBytes (\(limit))")
        }
        return 4 + Int(size)
    }

    /// nil when the bytes so far end before the header (and, for Produce, the acks field) does.
    private func parseFrameStart(_ bytes: UnsafeRawBufferPointer) throws(ProxyStreamError) -> (ObservedRequest, Int)? {
        guard bytes.count >= 4 else { return nil }
        let frameBytes = try Self.frameBytes(prefix: bytes, limit: maxFrameBytes)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[4..<min(bytes.count, frameBytes)])
        do {
            return try peekFrame(payload, frameBytes: frameBytes)
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

    private func peekFrame(_ payload: UnsafeRawBufferPointer, frameBytes: Int) throws -> (ObservedRequest, Int)? {
        do {
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
            let request = ObservedRequest(apiKey: peek.apiKey, apiVersion: peek.apiVersion,
                                          correlationId: peek.correlationId, frameBytes: frameBytes,
                                          expectsResponse: expectsResponse)
            return (request, frameBytes)
        }
    }
}
