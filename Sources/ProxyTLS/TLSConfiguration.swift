import TLSSettings

public enum TLSConfiguration: Sendable, Equatable {
    case client(TLSClientConfiguration)
    case server(TLSServerConfiguration)

    /// Every file the material comes from, for rotation.
    public var files: [String] {
        switch self {
        case .client(let c): [c.caFile, c.certFile, c.keyFile, c.keyPasswordFile].compactMap { $0 }
        case .server(let s): [s.certFile, s.keyFile, s.keyPasswordFile, s.clientCAFile].compactMap { $0 }
        }
    }
}
