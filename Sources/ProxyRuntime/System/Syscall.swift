#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ProxyTLS

/// The outcome of a non-blocking syscall: would-block is a value, not an error, so the
/// caller's control flow shows the EAGAIN path (as in swift-nio's System.swift).
enum IOResult<T> {
    case done(T)
    case wouldBlock
}

/// A failed syscall with its errno, named for the log; or a failed TLS layer (`tls` set).
struct SyscallError: Error, CustomStringConvertible {
    var call: String
    var errno: Int32
    /// Set when the TLS layer failed (handshake, verification, bad record): its message is the text.
    var tls: TLSError? = nil

    init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    init(tls: TLSError) {
        call = "tls"
        errno = EPROTO
        self.tls = tls
    }

    var description: String {
        if let tls { return "TLS: \(tls.message)" }
        return "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }

    /// The peer went away: tear the connection down without a warning.
    var isDisconnect: Bool {
        tls == nil && (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN || errno == ETIMEDOUT)
    }
}

enum Syscall {
    /// Retries EINTR; EAGAIN/EWOULDBLOCK become `.wouldBlock`.
    @inline(__always)
    static func retrying(_ name: StaticString, _ body: () -> Int) throws(SyscallError) -> IOResult<Int> {
        while true {
            let result = body()
            if result >= 0 { return .done(result) }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK { return .wouldBlock }
            throw SyscallError(call: "\(name)", errno: error)
        }
    }

    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        try retrying("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        try retrying("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    static func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) throws(SyscallError) -> IOResult<Int> {
        try retrying("writev") { Glibc.writev(fd, iov, count) }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The pending error of a socket whose non-blocking connect finished.
    static func socketError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { return errno }
        return error
    }

    static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }
}
