#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension SocketChannel {
    /// The peer shut its writing side or reset, checked without reading (bytes it sent before
    /// closing may still be buffered). POLLRDHUP (0x2000) is Linux's "peer closed its writing half".
    public var peerHasClosed: Bool {
        let rdhup: Int16 = 0x2000
        var p = pollfd(fd: fd, events: Int16(POLLIN) | rdhup, revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        return p.revents & (rdhup | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }
}
