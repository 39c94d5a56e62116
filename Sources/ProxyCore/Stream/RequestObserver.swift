/// What the proxy learns from the start of one request frame.
public struct ObservedRequest: Sendable, Equatable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    /// Bytes of the whole frame, size prefix included.
    public var frameBytes: Int
    /// Bytes of the request header, counted from after the size prefix: the body starts at
    /// `4 + headerLength` in the frame.
    public var headerLength: Int
    /// False for Produce with acks=0: the broker sends no response, so nothing is in flight.
    public var expectsResponse: Bool

    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32, frameBytes: Int, headerLength: Int,
                expectsResponse: Bool) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.frameBytes = frameBytes
        self.headerLength = headerLength
        self.expectsResponse = expectsResponse
    }
}

/// Follows the client -> broker byte stream frame by frame without holding it back: the caller
/// forwards every chunk as it is and this only looks. A callback front end to a streaming
/// `RequestRelay`, for callers that forward whole reads themselves.
///
/// Not thread-safe: owned by one connection and used on its queue.
public struct RequestObserver: Sendable {
    private var relay: RequestRelay

    public init(maxFrameBytes: Int) {
        relay = RequestRelay(maxFrameBytes: maxFrameBytes, mode: .streaming)
    }

    public var maxFrameBytes: Int { relay.maxFrameBytes }

    /// True between frames: the client has sent no partial request.
    public var isAtFrameBoundary: Bool { relay.isAtFrameBoundary }

    /// Bytes of an unfinished frame seen so far, for the log line of a connection closed mid-request.
    public var bytesIntoFrame: Int { relay.bytesIntoFrame }

    public mutating func observe(
        _ chunk: UnsafeRawBufferPointer,
        onRequest: (ObservedRequest) -> Void
    ) throws(ProxyStreamError) {
        var index = 0
        while let event = try relay.next(chunk, &index) {
            if case .request(let request) = event { onRequest(request) }
        }
    }
}
