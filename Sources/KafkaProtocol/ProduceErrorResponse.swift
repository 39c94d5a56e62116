/// A Produce answer the proxy makes itself: the same error for every partition of the request.
public enum ProduceErrorResponse {
    enum TopicRef: Equatable {
        case name(String)
        case id(KafkaUUID)
    }

    /// The topics (names, or ids for v13+) and partition indexes of a Produce request; `payload`
    /// is the request after its size prefix.
    static func partitions(payload: [UInt8], headerLength: Int, version: Int16) throws -> [(TopicRef, [Int32])] {
        let flexible = version >= 9
        var r = ByteReader(payload, from: headerLength)
        if version >= 3 { _ = try r.readNullableString(flexible: flexible) }
        _ = try r.readInt16()
        _ = try r.readInt32()
        var topics: [(TopicRef, [Int32])] = []
        let count = try r.readArrayCount(flexible: flexible)
        for _ in 0..<count {
            let topic: TopicRef = version >= 13 ? .id(try r.readUUID()) : .name(try r.readString(flexible: flexible))
            let partitions = try r.readArrayCount(flexible: flexible)
            var indexes: [Int32] = []
            for _ in 0..<partitions {
                indexes.append(try r.readInt32())
                _ = try r.skipNullableBytes(flexible: flexible)
                if flexible { try r.skipTaggedFields() }
            }
            if flexible { try r.skipTaggedFields() }
            topics.append((topic, indexes))
        }
        return topics
    }

    /// The response body for every partition of the request, each with `errorCode`.
    public static func body(request payload: [UInt8], headerLength: Int, version: Int16,
                            errorCode: Int16) throws -> [UInt8] {
        let flexible = version >= 9
        let topics = try partitions(payload: payload, headerLength: headerLength, version: version)
        var w = ByteWriter()
        w.writeArrayCount(topics.count, flexible: flexible)
        for (topic, partitions) in topics {
            switch topic {
            case .name(let name): w.writeString(name, flexible: flexible)
            case .id(let id): w.writeUUID(id)
            }
            w.writeArrayCount(partitions.count, flexible: flexible)
            for partition in partitions {
                w.writeInt32(partition)
                w.writeInt16(errorCode)
                w.writeInt64(-1)                                 // base_offset
                if version >= 2 { w.writeInt64(-1) }             // log_append_time_ms
                if version >= 5 { w.writeInt64(-1) }             // log_start_offset
                if version >= 8 {
                    w.writeArrayCount(0, flexible: flexible)     // record_errors
                    w.writeNullableString(nil, flexible: flexible)   // error_message
                }
                w.writeTaggedFields([], if: flexible)
            }
            w.writeTaggedFields([], if: flexible)
        }
        if version >= 1 { w.writeInt32(0) }                      // throttle_time_ms
        w.writeTaggedFields([], if: flexible)
        return w.bytes
    }
}
