/// SaslHandshake request (api key 17), v0-1. Never flexible. Version 1 is the same body as v0; it
/// tells the broker that SaslAuthenticate requests (not raw SASL tokens) follow.
public struct SaslHandshakeRequest: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    public var mechanism: String

    public init(mechanism: String) {
        self.mechanism = mechanism
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        w.writeString(mechanism)
    }

    public static func decode(from r: inout ByteReader, version: Int16) throws -> SaslHandshakeRequest {
        SaslHandshakeRequest(mechanism: try r.readString())
    }
}

/// SaslHandshake response (api key 17), v0-1. Never flexible.
public struct SaslHandshakeResponse: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    /// 33 UNSUPPORTED_SASL_MECHANISM when the broker does not enable the requested mechanism.
    public static let unsupportedSaslMechanism: Int16 = 33
    /// 34 ILLEGAL_SASL_STATE: a handshake where the broker does not expect one.
    public static let illegalSaslState: Int16 = 34

    public var errorCode: Int16
    /// The mechanisms enabled on the broker.
    public var mechanisms: [String]

    public init(errorCode: Int16 = 0, mechanisms: [String]) {
        self.errorCode = errorCode
        self.mechanisms = mechanisms
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        w.writeInt16(errorCode)
        w.writeArrayCount(mechanisms.count, flexible: false)
        for m in mechanisms { w.writeString(m) }
    }

    public static func decode(from r: inout ByteReader, version: Int16) throws -> SaslHandshakeResponse {
        let errorCode = try r.readInt16()
        let n = try r.readArrayCount(flexible: false, minElementSize: 2)
        var mechanisms = [String]()
        mechanisms.reserveCapacity(n)
        for _ in 0..<n { mechanisms.append(try r.readString()) }
        return SaslHandshakeResponse(errorCode: errorCode, mechanisms: mechanisms)
    }
}
