/// The body of an OffsetCommit or TxnOffsetCommit response that gives every partition of the
/// request one error: how the proxy refuses a commit it must not pass on. Both responses share the
/// layout (throttle_time_ms, then topics of partition_index/error_code); they differ in the
/// versions that add the throttle time and the flexible encoding.
public enum CommitRefusal {
    public struct Topic: Equatable, Sendable {
        public var name: String
        public var partitions: [Int32]
        public init(name: String, partitions: [Int32]) {
            self.name = name
            self.partitions = partitions
        }
    }

    /// Kafka error codes a refusal uses.
    public static let unknownMemberId: Int16 = 25
    public static let rebalanceInProgress: Int16 = 27

    /// OffsetCommit response body (throttle time from v3, flexible from v8).
    public static func offsetCommitResponse(_ topics: [Topic], errorCode: Int16, version: Int16) -> [UInt8] {
        encode(topics, errorCode: errorCode, throttle: version >= 3, flexible: version >= OffsetCommitRequest.flexibleFrom)
    }

    /// TxnOffsetCommit response body (throttle time in every version, flexible from v3).
    public static func txnOffsetCommitResponse(_ topics: [Topic], errorCode: Int16, version: Int16) -> [UInt8] {
        encode(topics, errorCode: errorCode, throttle: true, flexible: version >= TxnOffsetCommitRequest.flexibleFrom)
    }

    /// Also AddPartitionsToTxn's layout (TransactionRequest).
    static func encode(_ topics: [Topic], errorCode: Int16, throttle: Bool, flexible: Bool) -> [UInt8] {
        var w = ByteWriter()
        if throttle { w.writeInt32(0) }
        w.writeArrayCount(topics.count, flexible: flexible)
        for t in topics {
            w.writeString(t.name, flexible: flexible)
            w.writeArrayCount(t.partitions.count, flexible: flexible)
            for p in t.partitions {
                w.writeInt32(p)
                w.writeInt16(errorCode)
                w.writeTaggedFields([], if: flexible)
            }
            w.writeTaggedFields([], if: flexible)
        }
        w.writeTaggedFields([], if: flexible)
        return w.bytes
    }

    /// Reads such a response body back: (topic, partition, error) in order. For tests and the fuzz target.
    public static func decodeResponse(_ body: [UInt8], throttle: Bool, flexible: Bool) throws -> [(String, Int32, Int16)] {
        var r = ByteReader(body)
        if throttle { _ = try r.readInt32() }
        var out: [(String, Int32, Int16)] = []
        for _ in 0..<(try r.readArrayCount(flexible: flexible, minElementSize: 2)) {
            let name = try r.readString(flexible: flexible)
            for _ in 0..<(try r.readArrayCount(flexible: flexible, minElementSize: 6)) {
                out.append((name, try r.readInt32(), try r.readInt16()))
                if flexible { try r.skipTaggedFields() }
            }
            if flexible { try r.skipTaggedFields() }
        }
        if flexible { try r.skipTaggedFields() }
        try r.expectEnd("commit response")
        return out
    }
}
