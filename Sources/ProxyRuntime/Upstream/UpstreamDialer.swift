#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims
import Dispatch
import ProxyCore
import ProxyTLS
import Reactor

/// The way to a cluster's broker, shared by client connections and health probes: resolve the
/// names off the loops, open a non-blocking connection to one address, start TLS when the cluster
/// has it. Logging in (SASL) is the caller's next step, through `LoginDriver`.
enum UpstreamDialer {
    /// One resolved address and the configured name it came from (for logs, SNI and SASL).
    struct Target: Sendable {
        var name: String
        var address: SocketAddress
    }

    enum DialError: Error, CustomStringConvertible {
        case socket(SyscallError)
        case connect(SyscallError)
        case tls(TLSError)

        var description: String {
            switch self {
            case .socket(let error), .connect(let error): error.description
            case .tls(let error): "TLS: \(error.message)"
            }
        }
    }

    /// Resolves every server in order (name resolution blocks: never on a loop), then calls
    /// `completion` on `queue` with the addresses to try, in order, and the last resolve error.
    static func resolve(_ servers: [ProxyConfig.HostPort], on queue: DispatchQueue,
                        completion: @escaping @Sendable ([Target], [String]) -> Void) {
        DispatchQueue.global().async {
            var targets: [Target] = []
            var errors: [String] = []
            for server in servers {
                do throws(ResolveError) {
                    for address in try SocketAddress.resolve(host: server.host, port: server.port) {
                        targets.append(Target(name: server.description, address: address))
                    }
                } catch {
                    errors.append(error.description)
                }
            }
            if servers.isEmpty { errors.append("no bootstrap servers configured") }
            queue.async { [targets, errors] in completion(targets, errors) }
        }
    }

    /// Starts a connection to `target`; the channel's delegate hears `channelConnected`, then
    /// (TLS clusters) `channelHandshakeCompleted` — the moment it is ready — or `channelFailed`.
    static func open(_ target: Target, cluster: ProxyConfig.Cluster?, tls: TLSMaterials?, queue: DispatchQueue,
                     loop: EventLoop?, delegate: any SocketChannelDelegate) throws(DialError) -> SocketChannel {
        let address = target.address
        let fd = CProxyShims_socket_nonblocking(address.family, CProxyShims_SOCK_STREAM, 0)
        guard fd >= 0 else { throw .socket(SyscallError(call: "socket", errno: errno)) }
        Syscall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if address.withSockAddr({ Glibc.connect(fd, $0, $1) }) != 0 && errno != EINPROGRESS {
            let error = SyscallError(call: "connect \(address)", errno: errno)
            Glibc.close(fd)
            throw .connect(error)
        }
        let channel = SocketChannel(fd: fd, queue: queue, loop: loop)
        channel.delegate = delegate
        do throws(TLSError) {
            // SNI and verification use the configured host name, not the address dialled.
            if let cluster, let tls, let engine = try tls.clientEngine(cluster: cluster, host: hostOf(target.name)) {
                channel.startTLS(engine)
            }
        } catch {
            channel.close()
            throw .tls(error)
        }
        channel.awaitConnect()
        return channel
    }
}
