#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SASLSettings

/// Reads secret files, caching by (device, inode, size, mtime) so that a file is read again only
/// when it changed. Safe to use from several threads. Trailing CR/LF are stripped.
public final class SecretFileCache: @unchecked Sendable {
    public static let shared = SecretFileCache()

    private struct Stamp: Equatable {
        var dev: UInt64, ino: UInt64, size: Int64, mtimeSec: Int, mtimeNsec: Int
    }
    private var entries: [String: (stamp: Stamp, secret: Secret)] = [:]
    private var lock = pthread_mutex_t()

    /// Limit on a secret file's size (tokens can be a few KiB; anything huge is a mistake).
    public static let maxBytes = 1 << 20

    public init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    /// The secret in `path`, from the cache when the file has not changed. Errors say which file
    /// and why, never what it holds.
    public func contents(of path: String) throws(SASLError) -> Secret {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw SASLError(.credentials, detail: "cannot stat secret file \(path): \(Self.errnoText())")
        }
        let stamp = Stamp(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), size: Int64(st.st_size),
                          mtimeSec: Int(st.st_mtim.tv_sec), mtimeNsec: Int(st.st_mtim.tv_nsec))
        pthread_mutex_lock(&lock)
        if let e = entries[path], e.stamp == stamp {
            pthread_mutex_unlock(&lock)
            return e.secret
        }
        pthread_mutex_unlock(&lock)
        let secret = try Self.readFile(path)
        pthread_mutex_lock(&lock)
        entries[path] = (stamp, secret)
        pthread_mutex_unlock(&lock)
        return secret
    }

    /// Resolves a source: inline values as they are, files through the cache.
    public func resolve(_ source: SecretSource) throws(SASLError) -> Secret {
        switch source {
        case .inline(let s): return s
        case .file(let path): return try contents(of: path)
        }
    }

    static func readFile(_ path: String) throws(SASLError) -> Secret {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SASLError(.credentials, detail: "cannot open secret file \(path): \(errnoText())") }
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SASLError(.credentials, detail: "cannot read secret file \(path): \(errnoText())")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > maxBytes { throw SASLError(.credentials, detail: "secret file \(path) is larger than \(maxBytes) bytes") }
        }
        for i in chunk.indices { chunk[i] = 0 }
        while let last = out.last, last == 0x0A || last == 0x0D { out.removeLast() }
        if out.isEmpty { throw SASLError(.credentials, detail: "secret file \(path) is empty") }
        return Secret(bytes: out)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
