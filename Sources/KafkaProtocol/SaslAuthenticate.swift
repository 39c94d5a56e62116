/// SaslAuthenticate request (api key 36), v0-2; v2 is flexible.
public struct SaslAuthenticateRequest: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    /// The SASL token, as the mechanism defines it.
    public var authBytes: [UInt8]
    /// Version 2+.
    public var taggedFields: [TaggedField]

    public init(authBytes: [UInt8], taggedFields: [TaggedField] = []) {
        self.authBytes = authBytes
        self.taggedFields = taggedFields
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 2
        w.writeBytes(authBytes, flexible: flex)
        w.writeTaggedFields(taggedFields, if: flex)
    }

    public var encodedCapacity: Int { authBytes.count + 8 }

    public static func decode(from r: inout ByteReader, version: Int16) throws -> SaslAuthenticateRequest {
        let flex = version >= 2
        let bytes = try r.readBytes(flexible: flex)
        return SaslAuthenticateRequest(authBytes: bytes, taggedFields: try r.readTaggedFields(if: flex))
    }
}

/// SaslAuthenticate response (api key 36), v0-2; session lifetime from v1; v2 is flexible.
public struct SaslAuthenticateResponse: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    /// 58 SASL_AUTHENTICATION_FAILED.
    public static let saslAuthenticationFailed: Int16 = 58

    public var errorCode: Int16
    public var errorMessage: String?
    public var authBytes: [UInt8]
    /// Version 1+: milliseconds until the broker expires the session (KIP-368); 0 = no expiry.
    public var sessionLifetimeMs: Int64
    /// Version 2+.
    public var taggedFields: [TaggedField]

    public init(errorCode: Int16 = 0, errorMessage: String? = nil, authBytes: [UInt8] = [],
                sessionLifetimeMs: Int64 = 0, taggedFields: [TaggedField] = []) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.authBytes = authBytes
        self.sessionLifetimeMs = sessionLifetimeMs
        self.taggedFields = taggedFields
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 2
        w.writeInt16(errorCode)
        w.writeNullableString(errorMessage, flexible: flex)
        w.writeBytes(authBytes, flexible: flex)
        if version >= 1 { w.writeInt64(sessionLifetimeMs) }
        w.writeTaggedFields(taggedFields, if: flex)
    }

    public var encodedCapacity: Int { authBytes.count + 32 }

    public static func decode(from r: inout ByteReader, version: Int16) throws -> SaslAuthenticateResponse {
        let flex = version >= 2
        let errorCode = try r.readInt16()
        let message = try r.readNullableString(flexible: flex)
        let bytes = try r.readBytes(flexible: flex)
        let lifetime = version >= 1 ? try r.readInt64() : 0
        let tagged = try r.readTaggedFields(if: flex)
        return SaslAuthenticateResponse(errorCode: errorCode, errorMessage: message, authBytes: bytes,
                                        sessionLifetimeMs: lifetime, taggedFields: tagged)
    }
}
