/// Every decoding failure of the codec. `code` is stable and meant for metrics and tests;
/// `context` says where in the message it happened, for logs.
public struct KafkaProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Fewer bytes than the message says it holds.
        public static let truncated = Code(rawValue: "truncated")
        /// A length below -1, or -1 where null is not allowed.
        public static let negativeLength = Code(rawValue: "negative_length")
        /// A length or element count larger than the bytes left could possibly hold.
        public static let lengthTooLarge = Code(rawValue: "length_too_large")
        /// A varint longer than its type allows.
        public static let badVarint = Code(rawValue: "bad_varint")
        public static let invalidUTF8 = Code(rawValue: "invalid_utf8")
        public static let unknownApiKey = Code(rawValue: "unknown_api_key")
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        /// Bytes left over after a message that should have ended.
        public static let trailingBytes = Code(rawValue: "trailing_bytes")
        /// A value that cannot be represented on the wire (encoding side), or any other inconsistency.
        public static let invalidValue = Code(rawValue: "invalid_value")
    }

    public var code: Code
    public var context: String

    public init(_ code: Code, _ context: String) {
        self.code = code
        self.context = context
    }

    public var description: String { "\(code.rawValue): \(context)" }

    /// Throws `unsupportedVersion` unless `version` is one this codec reads (0 up to `max`);
    /// `what` names the message in the error.
    static func checkVersion(_ version: Int16, upTo max: Int16, of what: String) throws {
        guard (0...max).contains(version) else {
            throw KafkaProtocolError(.unsupportedVersion, "\(what) v\(version)")
        }
    }
}
