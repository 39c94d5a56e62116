/// Where the record batches of a Produce request are, and their idempotence fields, so a proxy
/// can move a producer to a producer id of another cluster by patching them in place (the
/// fields have fixed sizes: the request keeps its size).
public struct ProducedBatch: Equatable, Sendable {
    /// Topic name, or the topic id's text for Produce v13+.
    public var topic: String
    public var partition: Int32
    /// Offset of the batch in the request payload (after the 4-byte size prefix).
    public var offset: Int
    public var length: Int
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
}

public enum ProduceRequestBatches {
    // RecordBatch v2 layout (magic 2): offsets from the batch start.
    static let batchLengthOffset = 8
    static let magicOffset = 16
    static let crcOffset = 17
    static let attributesOffset = 21
    static let producerIdOffset = 43
    static let producerEpochOffset = 51
    static let baseSequenceOffset = 53
    static let headerSize = 61

    /// Every v2 record batch of the request. `payload` is the request after its size prefix,
    /// `headerLength` the request header's length (RequestHeader.peek). Produce v3+ only (v0-2
    /// carry no producer ids).
    public static func locate(payload: [UInt8], headerLength: Int, version: Int16) throws -> [ProducedBatch] {
        guard version >= 3 else { return [] }
        let flexible = version >= 9
        var r = ByteReader(payload, from: headerLength)
        _ = try r.readNullableString(flexible: flexible)
        _ = try r.readInt16()
        _ = try r.readInt32()
        var batches: [ProducedBatch] = []
        let topics = try r.readArrayCount(flexible: flexible)
        for _ in 0..<topics {
            let topic = version >= 13 ? try r.readUUID().description : try r.readString(flexible: flexible)
            let partitions = try r.readArrayCount(flexible: flexible)
            for _ in 0..<partitions {
                let partition = try r.readInt32()
                guard let length = try r.skipNullableBytes(flexible: flexible) else {
                    if flexible { try r.skipTaggedFields() }
                    continue
                }
                let recordsEnd = r.index
                var offset = recordsEnd - length
                while offset + headerSize <= recordsEnd {
                    let batchLength = Int(readInt32(payload, offset + batchLengthOffset))
                    let total = 12 + batchLength
                    guard batchLength >= headerSize - 12, offset + total <= recordsEnd else {
                        throw KafkaProtocolError(.invalidValue, "record batch of \(batchLength) bytes in \(length) bytes of records")
                    }
                    if payload[offset + magicOffset] == 2 {
                        batches.append(ProducedBatch(
                            topic: topic, partition: partition, offset: offset, length: total,
                            producerId: Int64(bitPattern: UInt64(UInt32(bitPattern: readInt32(payload, offset + producerIdOffset))) << 32
                                | UInt64(UInt32(bitPattern: readInt32(payload, offset + producerIdOffset + 4)))),
                            producerEpoch: Int16(bitPattern: UInt16(payload[offset + producerEpochOffset]) << 8
                                | UInt16(payload[offset + producerEpochOffset + 1])),
                            baseSequence: readInt32(payload, offset + baseSequenceOffset)))
                    }
                    offset += total
                }
                if flexible { try r.skipTaggedFields() }
            }
            if flexible { try r.skipTaggedFields() }
        }
        return batches
    }

    /// Writes new idempotence fields into the batch and recomputes its CRC32C (which covers
    /// everything from the attributes to the end of the batch).
    public static func patch(_ payload: inout [UInt8], batch: ProducedBatch,
                             producerId: Int64, producerEpoch: Int16, baseSequence: Int32) {
        let o = batch.offset
        write(&payload, o + producerIdOffset, UInt64(bitPattern: producerId), bytes: 8)
        write(&payload, o + producerEpochOffset, UInt64(UInt16(bitPattern: producerEpoch)), bytes: 2)
        write(&payload, o + baseSequenceOffset, UInt64(UInt32(bitPattern: baseSequence)), bytes: 4)
        let crc = payload.withUnsafeBytes { raw in
            CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[(o + attributesOffset)..<(o + batch.length)]))
        }
        write(&payload, o + crcOffset, UInt64(crc), bytes: 4)
    }

    /// True when the batch's stored CRC32C matches its bytes.
    public static func crcIsValid(_ payload: [UInt8], batch: ProducedBatch) -> Bool {
        let o = batch.offset
        let stored = UInt32(bitPattern: readInt32(payload, o + crcOffset))
        return CRC32C.checksum(payload[(o + attributesOffset)..<(o + batch.length)]) == stored
    }

    private static func readInt32(_ p: [UInt8], _ i: Int) -> Int32 {
        Int32(bitPattern: UInt32(p[i]) << 24 | UInt32(p[i + 1]) << 16 | UInt32(p[i + 2]) << 8 | UInt32(p[i + 3]))
    }

    private static func write(_ p: inout [UInt8], _ i: Int, _ value: UInt64, bytes: Int) {
        for k in 0..<bytes { p[i + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(bytes - 1 - k))) }
    }
}
