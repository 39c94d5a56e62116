/// Response header v0 (correlation id) or v1 (+ tagged fields).
public struct ResponseHeader: Equatable, Sendable {
    public var correlationId: Int32
    public var taggedFields: [TaggedField]

    public init(correlationId: Int32, taggedFields: [TaggedField] = []) {
        self.correlationId = correlationId
        self.taggedFields = taggedFields
    }

    public static func decode(from r: inout ByteReader, headerVersion: Int16) throws -> ResponseHeader {
        let correlationId = try r.readInt32()
        let tagged = try r.readTaggedFields(if: headerVersion >= 1)
        return ResponseHeader(correlationId: correlationId, taggedFields: tagged)
    }

    public func encode(into w: inout ByteWriter, headerVersion: Int16) {
        w.writeInt32(correlationId)
        w.writeTaggedFields(taggedFields, if: headerVersion >= 1)
    }

    /// Correlation id of a response payload (after the size prefix) without decoding anything else.
    public static func peekCorrelationId(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        var c = RawCursor(bytes)
        return c.int32()
    }
}

/// Size-prefixed framing shared by requests and responses.
public enum KafkaFrame {
    /// `payload` with its 4-byte big-endian size in front.
    public static func framed(_ payload: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: payload.count + 4)
        w.writeInt32(Int32(truncatingIfNeeded: payload.count))
        w.writeRawBytes(payload)
        return w.bytes
    }

    /// A complete request frame: size, header in the catalog's header version, then `body`.
    public static func request(header: RequestHeader, body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 64)
        w.writeInt32(0)
        header.encode(into: &w)
        w.writeRawBytes(body)
        w.patchInt32(Int32(truncatingIfNeeded: w.count - 4), at: 0)
        return w.bytes
    }

    /// A complete response frame: size, header in the catalog's response header version, then `body`.
    public static func response(apiKey: Int16, apiVersion: Int16, correlationId: Int32, body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 16)
        w.writeInt32(0)
        ResponseHeader(correlationId: correlationId)
            .encode(into: &w, headerVersion: ApiCatalog.responseHeaderVersion(apiKey: apiKey, apiVersion: apiVersion))
        w.writeRawBytes(body)
        w.patchInt32(Int32(truncatingIfNeeded: w.count - 4), at: 0)
        return w.bytes
    }
}
