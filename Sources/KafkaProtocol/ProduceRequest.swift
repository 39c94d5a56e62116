/// Produce request (api key 0). The proxy only ever needs `acks` from it (acks = 0 means no
/// response will come); the encoder exists for tests and load generation.
public struct ProduceRequest: Equatable, Sendable, KafkaEncodable {
    public struct Partition: Equatable, Sendable {
        public var index: Int32
        /// A pre-built record batch (see `RecordBatchBuilder`), or nil.
        public var records: [UInt8]?
        public init(index: Int32, records: [UInt8]?) {
            self.index = index
            self.records = records
        }
    }

    public typealias Topic = RequestTopic<Partition>

    /// Version 3+.
    public var transactionalId: String?
    public var acks: Int16
    public var timeoutMs: Int32
    public var topics: [Topic]

    public init(transactionalId: String? = nil, acks: Int16, timeoutMs: Int32, topics: [Topic]) {
        self.transactionalId = transactionalId
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topics = topics
    }

    /// One topic, one partition, one batch: the shape of a load generator's request.
    public init(topic: String, partition: Int32, records: [UInt8], acks: Int16, timeoutMs: Int32 = 30_000) {
        self.init(acks: acks, timeoutMs: timeoutMs,
                  topics: [Topic(name: topic, partitions: [Partition(index: partition, records: records)])])
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 9
        if version >= 3 { w.writeNullableString(transactionalId, flexible: flex) }
        w.writeInt16(acks)
        w.writeInt32(timeoutMs)
        Topic.write(topics, to: &w, version: version, flexible: flex) { p, w in
            w.writeInt32(p.index)
            w.writeNullableBytes(p.records, flexible: flex)
        }
        w.writeTaggedFields([], if: flex)
    }

    /// `acks` of a Produce request body (the bytes after the request header), without allocating.
    /// v3+ first skips the nullable transactional_id (compact from v9). nil = need more bytes;
    /// throws on a length below -1 (classic) or a bad varint (compact).
    @inline(__always)
    public static func peekAcks(_ body: UnsafeRawBufferPointer, version: Int16) throws -> Int16? {
        var c = RawCursor(body)
        if version >= 9 {
            guard let n = try c.unsignedVarint() else { return nil }
            if n > 0 { guard c.skip(Int(n) - 1) else { return nil } }
        } else if version >= 3 {
            guard let n = c.int16() else { return nil }
            if n < -1 { throw KafkaProtocolError(.negativeLength, "produce transactional_id length \(n)") }
            if n > 0 { guard c.skip(Int(n)) else { return nil } }
        }
        return c.int16()
    }

    public static func peekAcks(_ body: [UInt8], version: Int16) throws -> Int16? {
        try body.withUnsafeBytes { try peekAcks($0, version: version) }
    }
}
