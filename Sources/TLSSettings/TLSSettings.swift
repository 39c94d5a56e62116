/// The TLS settings as plain values, in their own module because both the config model
/// (ProxyCore, which links no TLS library) and the TLS engine (ProxyTLS, which the Kafka-agnostic
/// Reactor uses) take them, and neither may depend on the other.

/// The lowest protocol version a context accepts.
public enum TLSVersion: String, Sendable, CaseIterable, Equatable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"
}

/// How the proxy dials a TLS cluster (`clusters.<name>.tls`).
public struct TLSClientConfiguration: Sendable, Equatable {
    /// A `tls:` mapping without `enabled` means enabled; `enabled: false` keeps the settings but the
    /// cluster is dialled over plain TCP (the dialler's choice: a context built from it is TLS).
    public var enabled: Bool
    /// PEM bundle of CAs to trust; nil means the system trust store.
    public var caFile: String?
    /// Client certificate (chain, leaf first) and key for mTLS; both or neither.
    public var certFile: String?
    public var keyFile: String?
    /// File holding the password of an encrypted `keyFile` (one line; a trailing newline is ignored).
    public var keyPasswordFile: String?
    /// SNI and the name verified against the certificate; nil means the host dialled (bootstrap
    /// server or advertised broker host).
    public var serverName: String?
    /// No chain or hostname verification at all. Only for tests.
    public var insecureSkipVerify: Bool
    public var minVersion: TLSVersion

    public init(enabled: Bool = true, caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil,
                keyPasswordFile: String? = nil, serverName: String? = nil, insecureSkipVerify: Bool = false,
                minVersion: TLSVersion = .v1_2) {
        self.enabled = enabled
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.keyPasswordFile = keyPasswordFile
        self.serverName = serverName
        self.insecureSkipVerify = insecureSkipVerify
        self.minVersion = minVersion
    }
}

/// How the proxy's listeners terminate TLS (`listener.tls`: the bootstrap and every broker listener).
public struct TLSServerConfiguration: Sendable, Equatable {
    public var certFile: String
    public var keyFile: String
    public var keyPasswordFile: String?
    /// When set, clients must present a certificate signed by one of these CAs.
    public var clientCAFile: String?
    public var minVersion: TLSVersion

    public init(certFile: String, keyFile: String, keyPasswordFile: String? = nil, clientCAFile: String? = nil,
                minVersion: TLSVersion = .v1_2) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.keyPasswordFile = keyPasswordFile
        self.clientCAFile = clientCAFile
        self.minVersion = minVersion
    }
}
