/// One piece of a mapped message body: new bytes, or a range of the original body (record batches
/// of a Produce request or a Fetch response go out as ranges of the original, never copied).
public enum MappedPiece: Sendable, Equatable {
    case bytes([UInt8])
    case original(Range<Int>)
}

public struct MappedBody: Sendable, Equatable {
    public var pieces: [MappedPiece]
    /// Total bytes of the new body.
    public var count: Int

    public init(pieces: [MappedPiece], count: Int) {
        self.pieces = pieces
        self.count = count
    }

    /// The new body as one array (tests, small messages).
    public func joined(original body: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for piece in pieces {
            switch piece {
            case .bytes(let b): out += b
            case .original(let r): out += body[r]
            }
        }
        return out
    }
}

/// Per-connection memory the mapping needs: the protocol type of each group a client joined, for
/// the SyncGroup requests below v5 that do not carry it, and the protocol types of requests whose
/// responses do not carry it either (JoinGroup below v7, SyncGroup below v5). A connection's
/// responses come in the order of its requests, so a queue per API pairs them.
public struct TopicMappingContext: Sendable {
    var groupProtocolTypes: [[UInt8]: [UInt8]] = [:]
    var pendingJoinProtocolTypes: [[UInt8]?] = []
    var pendingSyncProtocolTypes: [[UInt8]?] = []

    /// Bounds against a client that joins without end or never reads its responses.
    static let maxGroups = 1024
    static let maxPending = 256

    public init() {}

    mutating func remember(group: [UInt8], protocolType: [UInt8]?) {
        guard let protocolType else { groupProtocolTypes[group] = nil; return }
        if groupProtocolTypes.count >= Self.maxGroups, groupProtocolTypes[group] == nil { groupProtocolTypes.removeAll() }
        groupProtocolTypes[group] = protocolType
    }

    static func push(_ value: [UInt8]?, to queue: inout [[UInt8]?]) {
        if queue.count >= maxPending { queue.removeFirst() }
        queue.append(value)
    }

    static func pop(_ queue: inout [[UInt8]?]) -> [UInt8]? {
        queue.isEmpty ? nil : queue.removeFirst()
    }
}
