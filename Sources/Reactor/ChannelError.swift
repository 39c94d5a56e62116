#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ProxyTLS

/// Why a `SocketChannel` failed. Which layer failed is the case, so callers choose the log level
/// and the metric label without looking into messages.
public enum ChannelError: Error, CustomStringConvertible, Sendable {
    /// A read, write or poller syscall on an established socket failed.
    case io(SyscallError)
    /// The non-blocking connect did not finish (refused, unreachable, timed out in the kernel).
    case connect(SyscallError)
    /// The TLS layer failed (handshake, verification, bad record): its message is the text.
    case tls(TLSError)

    public var description: String {
        switch self {
        case .io(let error), .connect(let error): error.description
        case .tls(let error): "TLS: \(error.message)"
        }
    }

    /// The peer went away (reset, broken pipe): tear the connection down without a warning, as at EOF.
    public var isDisconnect: Bool {
        guard case .io(let error) = self else { return false }
        switch error.errno {
        case ECONNRESET, EPIPE, ENOTCONN, ETIMEDOUT: return true
        default: return false
        }
    }

    /// For `kafka_proxy_errors_total{reason}`; callers may prefix the side (`client_io_error`).
    public var reason: String {
        switch self {
        case .io: "io_error"
        case .connect: "connect_failed"
        case .tls(let error): error.reason
        }
    }
}
