/// ApiVersions response (api key 18), v0-4.
///
/// A broker that does not support the requested version answers with error 35 UNSUPPORTED_VERSION
/// and a v0 body, whatever version was asked, so that any client can read it. `decode` detects that
/// and sets `isV0Fallback`; `encode` then writes the v0 body again.
public struct ApiVersionsResponse: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    public static let unsupportedVersionError: Int16 = 35

    public struct ApiVersion: Equatable, Sendable {
        public var apiKey: Int16
        public var minVersion: Int16
        public var maxVersion: Int16
        public var taggedFields: [TaggedField]
        public init(apiKey: Int16, minVersion: Int16, maxVersion: Int16, taggedFields: [TaggedField] = []) {
            self.apiKey = apiKey
            self.minVersion = minVersion
            self.maxVersion = maxVersion
            self.taggedFields = taggedFields
        }
    }

    public var errorCode: Int16
    public var apiKeys: [ApiVersion]
    /// Version 1+.
    public var throttleTimeMs: Int32
    /// Version 3+: SupportedFeatures (tag 0), FinalizedFeaturesEpoch (1), FinalizedFeatures (2),
    /// ZkMigrationReady (3), kept raw because the proxy passes them on untouched.
    public var taggedFields: [TaggedField]
    /// The body was the v0 fallback of an UNSUPPORTED_VERSION answer.
    public var isV0Fallback: Bool

    public init(errorCode: Int16 = 0, apiKeys: [ApiVersion], throttleTimeMs: Int32 = 0,
                taggedFields: [TaggedField] = [], isV0Fallback: Bool = false) {
        self.errorCode = errorCode
        self.apiKeys = apiKeys
        self.throttleTimeMs = throttleTimeMs
        self.taggedFields = taggedFields
        self.isV0Fallback = isV0Fallback
    }

    /// Decodes a body that must end where the reader ends.
    public static func decode(from r: inout ByteReader, version: Int16) throws -> ApiVersionsResponse {
        if version > 0, r.remaining >= 2, Int16(bitPattern: UInt16(r.bytes[r.index]) << 8 | UInt16(r.bytes[r.index + 1])) == unsupportedVersionError {
            var probe = r
            if var v0 = try? decodeBody(from: &probe, version: 0), probe.isAtEnd {
                v0.isV0Fallback = true
                r = probe
                return v0
            }
        }
        let body = try decodeBody(from: &r, version: version)
        return body
    }

    static func decodeBody(from r: inout ByteReader, version: Int16) throws -> ApiVersionsResponse {
        let flex = version >= 3
        let errorCode = try r.readInt16()
        let n = try r.readArrayCount(flexible: flex, minElementSize: 6)
        var keys = [ApiVersion]()
        keys.reserveCapacity(n)
        for _ in 0..<n {
            let key = try r.readInt16()
            let lo = try r.readInt16()
            let hi = try r.readInt16()
            keys.append(ApiVersion(apiKey: key, minVersion: lo, maxVersion: hi, taggedFields: try r.readTaggedFields(if: flex)))
        }
        let throttle = version >= 1 ? try r.readInt32() : 0
        let tagged = try r.readTaggedFields(if: flex)
        return ApiVersionsResponse(errorCode: errorCode, apiKeys: keys, throttleTimeMs: throttle, taggedFields: tagged)
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let version = isV0Fallback ? 0 : version
        let flex = version >= 3
        w.writeInt16(errorCode)
        w.writeArrayCount(apiKeys.count, flexible: flex)
        for k in apiKeys {
            w.writeInt16(k.apiKey)
            w.writeInt16(k.minVersion)
            w.writeInt16(k.maxVersion)
            w.writeTaggedFields(k.taggedFields, if: flex)
        }
        if version >= 1 { w.writeInt32(throttleTimeMs) }
        w.writeTaggedFields(taggedFields, if: flex)
    }
}
