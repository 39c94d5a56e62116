/// InitProducerId (api key 22): the proxy sends it itself to get a producer id from a cluster a
/// client was moved to, reads the answers clients get to learn which cluster issued which id, and
/// reads the clients' requests to drop a producer id another cluster issued.
public struct InitProducerIdRequest: Equatable, Sendable, KafkaEncodable {
    public var transactionalId: String?
    public var transactionTimeoutMs: Int32
    /// v3+: -1 to ask for a new producer id.
    public var producerId: Int64
    public var producerEpoch: Int16

    public init(transactionalId: String? = nil, transactionTimeoutMs: Int32 = 60_000,
                producerId: Int64 = -1, producerEpoch: Int16 = -1) {
        self.transactionalId = transactionalId
        self.transactionTimeoutMs = transactionTimeoutMs
        self.producerId = producerId
        self.producerEpoch = producerEpoch
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flexible = version >= 2
        w.writeNullableString(transactionalId, flexible: flexible)
        w.writeInt32(transactionTimeoutMs)
        if version >= 3 {
            w.writeInt64(producerId)
            w.writeInt16(producerEpoch)
        }
        if flexible { w.writeTaggedFields([]) }
    }

    /// `r` stands at the body (after the request header).
    public static func decode(from r: inout ByteReader, version: Int16) throws -> InitProducerIdRequest {
        let flexible = version >= 2
        let transactionalId = try r.readNullableString(flexible: flexible)
        let timeout = try r.readInt32()
        var request = InitProducerIdRequest(transactionalId: transactionalId, transactionTimeoutMs: timeout)
        if version >= 3 {
            request.producerId = try r.readInt64()
            request.producerEpoch = try r.readInt16()
        }
        if flexible { try r.skipTaggedFields() }
        return request
    }

    /// A client that asks to bump the epoch of a producer id another cluster issued (KIP-360)
    /// must get a fresh id instead: the request's producer id and epoch become -1, in place.
    /// `payload` is the request after its size prefix; returns false when there was none to clear.
    public static func clearProducerId(_ payload: inout [UInt8], headerLength: Int, version: Int16) throws -> Bool {
        guard version >= 3 else { return false }
        var r = ByteReader(payload, from: headerLength)
        _ = try r.readNullableString(flexible: true)
        _ = try r.readInt32()
        let at = r.index
        guard try r.readInt64() >= 0 else { return false }
        _ = try r.readInt16()
        for i in at..<at + 10 { payload[i] = 0xff }
        return true
    }
}

public struct InitProducerIdResponse: Equatable, Sendable {
    public var throttleTimeMs: Int32
    public var errorCode: Int16
    public var producerId: Int64
    public var producerEpoch: Int16

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16 = 0, producerId: Int64, producerEpoch: Int16) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.producerId = producerId
        self.producerEpoch = producerEpoch
    }

    /// `r` stands at the body (after the response header); the tagged fields of v2+ are not needed.
    public static func decode(from r: inout ByteReader, version: Int16) throws -> InitProducerIdResponse {
        let throttle = try r.readInt32()
        let error = try r.readInt16()
        let id = try r.readInt64()
        let epoch = try r.readInt16()
        return InitProducerIdResponse(throttleTimeMs: throttle, errorCode: error, producerId: id, producerEpoch: epoch)
    }

    /// Decodes a response payload (after the size prefix: header, then body).
    public static func decode(payload: [UInt8], version: Int16) throws -> InitProducerIdResponse {
        var r = ByteReader(payload)
        _ = try ResponseHeader.decode(from: &r, headerVersion: ApiCatalog.responseHeaderVersion(
            apiKey: ApiKey.initProducerId.rawValue, apiVersion: version))
        return try decode(from: &r, version: version)
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        w.writeInt32(throttleTimeMs)
        w.writeInt16(errorCode)
        w.writeInt64(producerId)
        w.writeInt16(producerEpoch)
        if version >= 2 { w.writeTaggedFields([]) }
    }
}
