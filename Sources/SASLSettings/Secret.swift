/// A secret value (password, token). Every textual form is redacted, so that a secret put into
/// a log line, an error, `/status` or a debugger dump by mistake shows as `<redacted>`.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The UTF-8 bytes. Read this only to hand the secret to the mechanism.
    public let bytes: [UInt8]

    public init(_ value: String) { bytes = Array(value.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var isEmpty: Bool { bytes.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Where a secret comes from: inline in the configuration (discouraged) or a file that is re-read
/// whenever it changes (so a rotated password or refreshed token is picked up by the next login).
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    case inline(Secret)
    case file(path: String)

    public var description: String {
        switch self {
        case .inline: return "inline <redacted>"
        case .file(let path): return "file \(path)"
        }
    }
}
