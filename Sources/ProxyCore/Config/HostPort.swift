extension ProxyConfig {
    /// A TCP endpoint. `host` is stored without IPv6 brackets; `description` adds them back.
    public struct HostPort: Equatable, Hashable, Sendable, CustomStringConvertible {
        public var host: String
        public var port: UInt16

        public init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }

        /// Parses `host:port`, `a.b.c.d:port` or `[ipv6]:port`.
        public init(parsing text: String) throws(HostPortSyntaxError) {
            self = try HostSyntax.parseHostPort(text)
        }

        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// Why a `host:port` string was rejected; `message` is phrased to follow "'text' is not a valid address: ".
public struct HostPortSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
