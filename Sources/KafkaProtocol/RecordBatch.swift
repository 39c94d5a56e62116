/// One record of a v2 record batch, for `RecordBatchBuilder`.
public struct Record: Equatable, Sendable {
    public struct Header: Equatable, Sendable {
        public var key: String
        public var value: [UInt8]?
        public init(key: String, value: [UInt8]?) {
            self.key = key
            self.value = value
        }
    }

    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [Header]
    /// Milliseconds after the batch's base timestamp.
    public var timestampDelta: Int64

    public init(key: [UInt8]? = nil, value: [UInt8]?, headers: [Header] = [], timestampDelta: Int64 = 0) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampDelta = timestampDelta
    }
}

/// Builds an uncompressed record batch (magic 2), the `records` payload of a Produce request.
public struct RecordBatchBuilder: Sendable {
    public var baseOffset: Int64 = 0
    public var partitionLeaderEpoch: Int32 = -1
    public var baseTimestamp: Int64
    /// -1 with epoch -1 and sequence -1: a non-idempotent producer.
    public var producerId: Int64 = -1
    public var producerEpoch: Int16 = -1
    public var baseSequence: Int32 = -1
    public var isTransactional = false

    public init(baseTimestamp: Int64) {
        self.baseTimestamp = baseTimestamp
    }

    /// Offsets of the fields after the length prefix, from the record batch v2 layout.
    static let crcOffset = 17          // baseOffset(8) batchLength(4) partitionLeaderEpoch(4) magic(1)
    static let attributesOffset = 21   // crc covers attributes .. end

    public func build(_ records: [Record]) -> [UInt8] {
        var w = ByteWriter(capacity: 61 + records.reduce(0) { $0 + 16 + ($1.key?.count ?? 0) + ($1.value?.count ?? 0) })
        w.writeInt64(baseOffset)
        w.writeInt32(0) // batch length, patched below
        w.writeInt32(partitionLeaderEpoch)
        w.writeInt8(2)  // magic
        w.writeUInt32(0) // crc, patched below
        w.writeInt16(isTransactional ? 0x10 : 0)
        w.writeInt32(Int32(max(0, records.count - 1))) // last offset delta
        w.writeInt64(baseTimestamp)
        w.writeInt64(baseTimestamp + (records.map(\.timestampDelta).max() ?? 0))
        w.writeInt64(producerId)
        w.writeInt16(producerEpoch)
        w.writeInt32(baseSequence)
        w.writeInt32(Int32(records.count))
        var body = ByteWriter()
        for (i, rec) in records.enumerated() {
            body.bytes.removeAll(keepingCapacity: true)
            body.writeInt8(0) // record attributes: unused
            body.writeVarlong(rec.timestampDelta)
            body.writeVarint(Int32(i))
            Self.writeVarintBytes(&body, rec.key)
            Self.writeVarintBytes(&body, rec.value)
            body.writeVarint(Int32(rec.headers.count))
            for h in rec.headers {
                Self.writeVarintBytes(&body, Array(h.key.utf8))
                Self.writeVarintBytes(&body, h.value)
            }
            w.writeVarint(Int32(body.count))
            w.writeRawBytes(body.bytes)
        }
        w.patchInt32(Int32(w.count - 12), at: 8)
        let crc = w.bytes.withUnsafeBytes { CRC32C.update(0, UnsafeRawBufferPointer(rebasing: $0[Self.attributesOffset...])) }
        w.patchUInt32(crc, at: Self.crcOffset)
        return w.bytes
    }

    static func writeVarintBytes(_ w: inout ByteWriter, _ b: [UInt8]?) {
        guard let b else { w.writeVarint(-1); return }
        w.writeVarint(Int32(b.count))
        w.writeRawBytes(b)
    }
}
