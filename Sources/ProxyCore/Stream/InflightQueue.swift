/// One request sent upstream whose response has not come back yet.
public struct InflightRequest: Sendable, Equatable {
    public var correlationId: Int32
    public var apiKey: Int16
    public var apiVersion: Int16
    /// Monotonic nanoseconds when the request header was seen, for the latency histogram.
    public var startNanos: UInt64
    /// Sent by the proxy itself (not by the client): its response goes to the proxy, never to the client.
    public var fromProxy: Bool
    /// Answered by the proxy itself (never sent to the broker): its answer goes to the client in
    /// this place of the queue, and no broker response belongs to it.
    public var isLocal: Bool

    public init(correlationId: Int32, apiKey: Int16, apiVersion: Int16, startNanos: UInt64, fromProxy: Bool = false,
                isLocal: Bool = false) {
        self.correlationId = correlationId
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.startNanos = startNanos
        self.fromProxy = fromProxy
        self.isLocal = isLocal
    }
}

/// FIFO of in-flight requests. Kafka answers the requests of one connection in order, so the
/// head is always the request the next response belongs to. A ring buffer, because clients
/// pipeline thousands of requests and `Array.removeFirst` is O(n); it only allocates when it grows.
public struct InflightQueue: Sendable {
    private var storage: [InflightRequest]
    private var head = 0
    public private(set) var count = 0

    public init(capacity: Int = 16) {
        storage = Array(repeating: InflightRequest(correlationId: 0, apiKey: 0, apiVersion: 0, startNanos: 0),
                        count: max(1, capacity))
    }

    public var isEmpty: Bool { count == 0 }

    public var first: InflightRequest? { count == 0 ? nil : storage[head] }

    public mutating func append(_ request: InflightRequest) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = request
        count += 1
    }

    @discardableResult
    public mutating func popFirst() -> InflightRequest? {
        guard count > 0 else { return nil }
        let request = storage[head]
        head = (head + 1) % storage.count
        count -= 1
        return request
    }

    private mutating func grow() {
        var bigger = storage
        bigger.reserveCapacity(storage.count * 2)
        for i in 0..<count { bigger[i] = storage[(head + i) % storage.count] }
        bigger.append(contentsOf: repeatElement(storage[0], count: storage.count))
        storage = bigger
        head = 0
    }
}
