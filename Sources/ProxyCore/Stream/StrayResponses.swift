/// Correlation ids of the newest acks=0 Produce requests. Such a request gets no response, but
/// some brokers (Tansu) answer anyway; a response carrying one of these ids is dropped instead
/// of closing the connection. A fixed ring: older ids fall out, and a broker answers soon or not at all.
public struct StrayResponses: Sendable {
    public static let capacity = 64

    private var ids: [Int32] = []
    private var next = 0

    public init() {}

    public mutating func record(_ correlationId: Int32) {
        if ids.count < Self.capacity {
            if ids.isEmpty { ids.reserveCapacity(Self.capacity) }
            ids.append(correlationId)
        } else {
            ids[next] = correlationId
            next = (next + 1) % Self.capacity
        }
    }

    public func contains(_ correlationId: Int32) -> Bool { ids.contains(correlationId) }
}
