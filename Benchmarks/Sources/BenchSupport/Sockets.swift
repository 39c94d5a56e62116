import CBenchShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over BSD sockets for the load generator and the synthetic broker. Both are
/// measurement tools, not the product: plain syscalls, IPv4 loopback, no TLS.
public enum Sock {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ what: String, errno e: Int32 = errno) {
            description = "\(what): \(String(cString: strerror(e)))"
        }
    }

    public static func parseHostPort(_ s: String) -> (host: String, port: UInt16)? {
        guard let colon = s.lastIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...]) else { return nil }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    static func makeAddr(host: String, port: UInt16) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        let h = host == "localhost" ? "127.0.0.1" : host
        if inet_pton(AF_INET, h, &addr.sin_addr) != 1 {
            // Resolve a name (setup only, never on a hot path).
            var hints = addrinfo()
            hints.ai_family = AF_INET
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var res: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(h, nil, &hints, &res) == 0, let r = res else { throw Failure("resolve \(host)", errno: EINVAL) }
            defer { freeaddrinfo(res) }
            r.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addr.sin_addr = $0.pointee.sin_addr }
        }
        return addr
    }

    /// Blocking connect with TCP_NODELAY (Kafka clients set it).
    public static func connect(host: String, port: UInt16) throws -> Int32 {
        var addr = try makeAddr(host: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw Failure("socket") }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw Failure("connect \(host):\(port)", errno: e)
        }
        setNoDelay(fd)
        return fd
    }

    public static func listen(host: String, port: UInt16, backlog: Int32 = 4096) throws -> Int32 {
        var addr = try makeAddr(host: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw Failure("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { let e = errno; close(fd); throw Failure("bind \(host):\(port)", errno: e) }
        if Glibc.listen(fd, backlog) != 0 { let e = errno; close(fd); throw Failure("listen", errno: e) }
        return fd
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func setNonBlocking(_ fd: Int32, _ on: Bool = true) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK)
    }

    /// Blocking write of everything.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure("write")
                }
                off += n
            }
        }
    }

    /// Blocking read of exactly `count` bytes.
    public static func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var off = 0
        try out.withUnsafeMutableBytes { buf in
            while off < count {
                let n = Glibc.read(fd, buf.baseAddress! + off, count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure("read")
                }
                if n == 0 { throw Failure("read: connection closed", errno: ECONNRESET) }
                off += n
            }
        }
        return out
    }

    /// Blocking read of one Kafka frame; returns the payload (after the 4-byte size).
    public static func readFrame(_ fd: Int32) throws -> [UInt8] {
        let size = try readExactly(fd, 4)
        let n = Int(Int32(bitPattern: UInt32(size[0]) << 24 | UInt32(size[1]) << 16 | UInt32(size[2]) << 8 | UInt32(size[3])))
        if n < 0 || n > 512 << 20 { throw Failure("frame size \(n)", errno: EPROTO) }
        return try readExactly(fd, n)
    }
}

/// Monotonic nanoseconds.
@inline(__always)
public func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Level-triggered epoll set (see CBenchShims).
public struct Epoll {
    public let fd: Int32
    public let fds: UnsafeMutablePointer<Int32>
    public let flags: UnsafeMutablePointer<UInt32>
    public let capacity: Int

    public init(capacity: Int = 256) {
        fd = bench_epoll_create()
        precondition(fd >= 0, "epoll_create1 failed")
        self.capacity = min(capacity, 256)
        fds = .allocate(capacity: self.capacity)
        flags = .allocate(capacity: self.capacity)
    }

    public func add(_ sock: Int32, read: Bool = true, write: Bool = false) {
        _ = bench_epoll_ctl(fd, 0, sock, read ? 1 : 0, write ? 1 : 0)
    }

    public func modify(_ sock: Int32, read: Bool = true, write: Bool) {
        _ = bench_epoll_ctl(fd, 1, sock, read ? 1 : 0, write ? 1 : 0)
    }

    public func remove(_ sock: Int32) {
        _ = bench_epoll_ctl(fd, 2, sock, 0, 0)
    }

    /// Waits up to `timeoutMs` (-1 = forever); ready sockets are in `fds`/`flags` [0..<n].
    public func wait(timeoutMs: Int32) -> Int {
        Int(bench_epoll_wait(fd, fds, flags, Int32(capacity), timeoutMs))
    }
}

extension UInt32 {
    @inline(__always) public var hasRead: Bool { self & 1 != 0 }
    @inline(__always) public var hasWrite: Bool { self & 2 != 0 }
}

/// Big-endian helpers over raw memory.
@inline(__always)
public func loadInt32BE(_ p: UnsafeRawPointer) -> Int32 {
    Int32(bitPattern: UInt32(p.load(as: UInt8.self)) << 24 | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
        | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 8 | UInt32(p.load(fromByteOffset: 3, as: UInt8.self)))
}

@inline(__always)
public func storeInt32BE(_ v: Int32, _ p: UnsafeMutableRawPointer) {
    let u = UInt32(bitPattern: v)
    p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 24), as: UInt8.self)
    p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 16), toByteOffset: 1, as: UInt8.self)
    p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 8), toByteOffset: 2, as: UInt8.self)
    p.storeBytes(of: UInt8(truncatingIfNeeded: u), toByteOffset: 3, as: UInt8.self)
}
