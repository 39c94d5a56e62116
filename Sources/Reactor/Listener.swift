#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims
import Dispatch

public struct ListenError: Error, CustomStringConvertible {
    public var address: String
    public var error: SyscallError
    public var description: String { "cannot listen on \(address): \(error)" }
}

/// A listening socket whose read source accepts connections until EAGAIN.
/// Confined to `queue`; `close()` may be called from anywhere (it hops onto the queue).
public final class Listener: @unchecked Sendable {
    public let address: SocketAddress
    private let fd: Int32
    private let queue: DispatchQueue
    private let source: any DispatchSourceRead
    private var isClosed = false

    /// Binds and listens synchronously, so a caller knows the port is open when this returns.
    public init(address: SocketAddress, queue: DispatchQueue, backlog: Int32 = 1024,
         onAccept: @escaping @Sendable (Int32, SocketAddress) -> Void,
         onError: @escaping @Sendable (SyscallError) -> Void) throws(ListenError) {
        let fd = CProxyShims_socket_nonblocking(address.family, CProxyShims_SOCK_STREAM, 0)
        guard fd >= 0 else { throw ListenError(address: "\(address)", error: SyscallError(call: "socket", errno: errno)) }
        Syscall.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if address.family == AF_INET6 { Syscall.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
        let bound = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
            let error = SyscallError(call: bound == 0 ? "listen" : "bind", errno: errno)
            Glibc.close(fd)
            throw ListenError(address: "\(address)", error: error)
        }
        self.address = address
        self.fd = fd
        self.queue = queue
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setCancelHandler { Glibc.close(fd) }
        source.setEventHandler {
            // Bounded per event so one listener cannot starve the loop under a connection storm.
            for _ in 0..<256 {
                var storage = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let client = withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        CProxyShims_accept_nonblocking(fd, $0, &length)
                    }
                }
                if client < 0 {
                    let error = errno
                    if error == EINTR || error == ECONNABORTED { continue }
                    if error == EAGAIN || error == EWOULDBLOCK { return }
                    // EMFILE/ENFILE/ENOBUFS: report; the source fires again, the caller may back off.
                    onError(SyscallError(call: "accept", errno: error))
                    return
                }
                let peer = withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(copying: $0, length: length) }
                }
                onAccept(client, peer)
            }
        }
        source.activate()
    }

    public var port: UInt16 { address.port }

    public func close() {
        queue.async { [self] in
            guard !isClosed else { return }
            isClosed = true
            source.cancel()
        }
    }
}
