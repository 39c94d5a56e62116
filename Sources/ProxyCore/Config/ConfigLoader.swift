#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ProxyYAML

/// Turns a YAML file into a validated `ProxyConfig`, or into every error found in it.
public enum ConfigLoader {
    public static func parse(yaml: String, fileName: String = "config") throws(ConfigErrors) -> ProxyConfig {
        let diagnostics = ConfigDiagnostics()
        let root: Node?
        do throws(YAMLError) {
            root = try YAMLComposer.compose(yaml)
        } catch {
            // Nothing below a syntax error can be trusted, so it is the only error reported.
            throw ConfigErrors([YAMLSyntaxErrors.translate(error)], source: yaml, fileName: fileName)
        }
        let config = RootSection.decode(root, diagnostics)
        guard diagnostics.isEmpty, let config else {
            var errors = diagnostics.sortedErrors()
            if errors.isEmpty {
                // A section returned nil without reporting: a bug here, but never hand out a half config.
                errors = [ConfigError(code: .invalidValue, path: "", message: "the configuration is invalid")]
            }
            throw ConfigErrors(errors, source: yaml, fileName: fileName)
        }
        return config
    }

    /// Reads `path` (the only I/O in ProxyCore) and parses it; errors render with `path` as the file name.
    public static func load(path: String) throws(ConfigErrors) -> ProxyConfig {
        try loadWithDigest(path: path).config
    }

    /// As `load(path:)`, with the SHA-256 of the bytes read, so that the config a process runs can
    /// be compared across processes that each read their own copy of the file.
    public static func loadWithDigest(path: String) throws(ConfigErrors) -> LoadedConfig {
        let bytes = try readBytes(path)
        guard let source = String(validating: bytes, as: UTF8.self) else {
            throw unreadable(path, "the file is not valid UTF-8")
        }
        return LoadedConfig(config: try parse(yaml: source, fileName: path), digest: ConfigDigest(of: bytes))
    }

    /// Larger than any real config; a bigger file is a mistake (a log, a binary), not a config.
    static let maxFileBytes = 16 << 20

    static func unreadable(_ path: String, _ reason: String) -> ConfigErrors {
        ConfigErrors([ConfigError(code: .unreadableFile, path: "", message: "cannot read config file '\(path)': \(reason)")],
                     source: nil, fileName: path)
    }

    static func readBytes(_ path: String) throws(ConfigErrors) -> [UInt8] {
        func fail(_ reason: String) -> ConfigErrors { unreadable(path, reason) }
        func failErrno(_ code: Int32) -> ConfigErrors {
            switch code {
            case ENOENT: return fail("no such file")
            case EACCES, EPERM: return fail("permission denied")
            case EISDIR: return fail("it is a directory")
            default: return fail(String(cString: strerror(code)))
            }
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failErrno(errno) }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failErrno(errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw fail("it is a directory") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failErrno(errno)
            }
            if n == 0 { break }
            bytes += chunk[..<n]
            if bytes.count > maxFileBytes { throw fail("it is larger than \(maxFileBytes >> 20) MiB") }
        }
        return bytes
    }
}

/// The SHA-256 of a config's source, lower-case hex (what `sha256sum` prints for the file).
public struct ConfigDigest: Sendable, Hashable, CustomStringConvertible {
    public let hex: String

    public init(of bytes: some Collection<UInt8>) { hex = SHA256.hex(bytes) }

    public var description: String { hex }
}

/// A validated config and the digest of what it was read from.
public struct LoadedConfig: Sendable, Equatable {
    public var config: ProxyConfig
    public var digest: ConfigDigest

    public init(config: ProxyConfig, digest: ConfigDigest) {
        self.config = config
        self.digest = digest
    }
}
