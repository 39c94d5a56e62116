/// The fixed part of a request header, read without allocating. This is what the proxy needs for
/// every request; the client id stays a byte range until someone asks for it.
public struct RequestHeaderInfo: Equatable, Sendable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    /// 0, 1 or 2 (see `ApiCatalog.requestHeaderVersion`).
    public var headerVersion: Int16
    /// Bytes of the header; the request body starts here.
    public var headerLength: Int
    /// Where the client id's UTF-8 bytes are, relative to the start of the header; nil when the
    /// header has none (v0) or it is null.
    public var clientIdRange: Range<Int>?

    /// Decodes the client id from the same bytes `peek` was given. Invalid UTF-8 throws.
    public func clientId(in bytes: UnsafeRawBufferPointer) throws -> String? {
        guard let r = clientIdRange else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[r])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw KafkaProtocolError(.invalidUTF8, "request header client_id")
        }
        return s
    }
}

/// Request header v0 (api key, version, correlation id), v1 (+ nullable client id) and v2 (+ tagged
/// fields). The client id is a classic int16-prefixed string even in v2: the header schema marks it
/// "flexibleVersions: none" so that a broker can read it before knowing the version's encoding.
public struct RequestHeader: Equatable, Sendable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    public var clientId: String?
    public var taggedFields: [TaggedField]

    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32, clientId: String?, taggedFields: [TaggedField] = []) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.clientId = clientId
        self.taggedFields = taggedFields
    }

    public var headerVersion: Int16 { ApiCatalog.requestHeaderVersion(apiKey: apiKey, apiVersion: apiVersion) }

    /// Reads the fixed fields and measures the header without allocating.
    /// `bytes` is the frame payload after the 4-byte size, possibly incomplete.
    /// Returns nil when more bytes are needed. When `frameLength` is given (the complete payload size),
    /// a header that would need more bytes than that throws `.truncated` instead.
    /// Throws on an unknown api key, a negative version, a client id length below -1, or a bad varint.
    @inline(__always)
    public static func peek(_ bytes: UnsafeRawBufferPointer, frameLength: Int? = nil) throws -> RequestHeaderInfo? {
        guard let info = try peekUnbounded(bytes) else {
            if let frameLength, bytes.count >= frameLength {
                throw KafkaProtocolError(.truncated, "request header longer than its \(frameLength)-byte frame")
            }
            return nil
        }
        if let frameLength, info.headerLength > frameLength {
            throw KafkaProtocolError(.truncated, "request header of \(info.headerLength) bytes in a \(frameLength)-byte frame")
        }
        return info
    }

    static func peekUnbounded(_ bytes: UnsafeRawBufferPointer) throws -> RequestHeaderInfo? {
        var c = RawCursor(bytes)
        guard let apiKey = c.int16() else { return nil }
        guard ApiCatalog.requestHeaderVersionIfKnown(apiKey: apiKey, apiVersion: 0) != nil else {
            throw KafkaProtocolError(.unknownApiKey, "request api key \(apiKey)")
        }
        guard let apiVersion = c.int16() else { return nil }
        if apiVersion < 0 {
            throw KafkaProtocolError(.unsupportedVersion, "\(ApiKey(apiKey)) request version \(apiVersion)")
        }
        guard let correlationId = c.int32() else { return nil }
        let headerVersion = ApiCatalog.requestHeaderVersionIfKnown(apiKey: apiKey, apiVersion: apiVersion)!
        var clientIdRange: Range<Int>?
        if headerVersion >= 1 {
            guard let n = c.int16() else { return nil }
            if n < -1 {
                throw KafkaProtocolError(.negativeLength, "request header client_id length \(n)")
            }
            if n >= 0 {
                let start = c.offset
                guard c.skip(Int(n)) else { return nil }
                clientIdRange = start..<c.offset
            }
        }
        if headerVersion >= 2 {
            guard try c.skipTaggedFields() else { return nil }
        }
        return RequestHeaderInfo(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId,
                                 headerVersion: headerVersion, headerLength: c.offset, clientIdRange: clientIdRange)
    }

    /// Full parse: `peek` plus the client id string and the raw tagged fields.
    /// Returns nil when more bytes are needed; throws on malformed input or an unknown api key.
    public static func parse(_ bytes: UnsafeRawBufferPointer, frameLength: Int? = nil) throws -> (header: RequestHeader, length: Int)? {
        guard let info = try peek(bytes, frameLength: frameLength) else { return nil }
        let clientId = try info.clientId(in: bytes)
        var tagged: [TaggedField] = []
        if info.headerVersion >= 2 {
            // The tagged section follows the fixed 8 bytes and the int16-prefixed client id.
            var c = RawCursor(bytes, offset: 8 + 2 + (info.clientIdRange?.count ?? 0))
            if let count = try c.unsignedVarint(), count > 0 {
                for _ in 0..<count {
                    guard let tag = try c.unsignedVarint(), let size = try c.unsignedVarint() else { return nil }
                    let start = c.offset
                    guard c.skip(Int(size)) else { return nil }
                    tagged.append(TaggedField(tag: tag, data: Array(UnsafeRawBufferPointer(rebasing: bytes[start..<c.offset]))))
                }
            }
        }
        let header = RequestHeader(apiKey: info.apiKey, apiVersion: info.apiVersion, correlationId: info.correlationId,
                                   clientId: clientId, taggedFields: tagged)
        return (header, info.headerLength)
    }

    public static func parse(_ bytes: [UInt8], frameLength: Int? = nil) throws -> (header: RequestHeader, length: Int)? {
        try bytes.withUnsafeBytes { try parse($0, frameLength: frameLength) }
    }

    /// Writes the header in the version `ApiCatalog` prescribes for its api key and version.
    public func encode(into w: inout ByteWriter) {
        encode(into: &w, headerVersion: headerVersion)
    }

    public func encode(into w: inout ByteWriter, headerVersion: Int16) {
        w.writeInt16(apiKey)
        w.writeInt16(apiVersion)
        w.writeInt32(correlationId)
        if headerVersion >= 1 { w.writeNullableString(clientId, flexible: false) }
        if headerVersion >= 2 { w.writeTaggedFields(taggedFields) }
    }
}
