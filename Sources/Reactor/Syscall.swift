#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims

/// The outcome of a non-blocking syscall: would-block is a value, not an error, so the
/// caller's control flow shows the EAGAIN path (as in swift-nio's System.swift).
public enum IOResult<T> {
    case done(T)
    case wouldBlock
}

/// A failed syscall with its errno, named for the log.
public struct SyscallError: Error, CustomStringConvertible, Sendable, Equatable {
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

public enum Syscall {
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

    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        try retrying("read") { CProxyShims_read(fd, buffer.baseAddress, buffer.count) }
    }

    public static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SyscallError) -> IOResult<Int> {
        try retrying("write") { CProxyShims_write(fd, buffer.baseAddress, buffer.count) }
    }

    public static func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) throws(SyscallError) -> IOResult<Int> {
        try retrying("writev") { CProxyShims_writev(fd, iov, count) }
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The pending error of a socket whose non-blocking connect finished.
    public static func socketError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { return errno }
        return error
    }
}
