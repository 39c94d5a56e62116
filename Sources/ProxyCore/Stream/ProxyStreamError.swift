/// Why one connection had to be closed. `reason` is a stable label for the
/// `kafka_proxy_errors_total{reason}` metric; `detail` is for the log line.
public struct ProxyStreamError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Reason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidFrameSize = Reason(rawValue: "invalid_frame_size")
        public static let frameTooLarge = Reason(rawValue: "frame_too_large")
        public static let malformedRequest = Reason(rawValue: "malformed_request")
        public static let unknownApiKey = Reason(rawValue: "unknown_api_key")
        public static let unsupportedVersion = Reason(rawValue: "unsupported_version")
        public static let unexpectedResponse = Reason(rawValue: "unexpected_response")
        public static let correlationMismatch = Reason(rawValue: "correlation_mismatch")
        public static let undecodableResponse = Reason(rawValue: "undecodable_response")
        public static let truncatedFrame = Reason(rawValue: "truncated_frame")
    }

    public var reason: Reason
    public var detail: String

    public init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason): \(detail)" }
}
