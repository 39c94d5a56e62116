import KafkaProtocol

/// Which end of a proxied connection something happened on.
public enum ConnectionSide: String, Sendable, Equatable {
    case client
    case broker
}

/// How loud a connection's ending is in the log.
public enum CloseSeverity: Sendable, Equatable, Comparable {
    case debug, info, warning, error
}

/// Why a proxied connection ended. One value gives the metric label (`kafka_proxy_errors_total{reason}`,
/// nil for endings that are not errors), the log level and the log line, so the three never disagree.
public enum CloseReason: Sendable, Equatable {
    // Endings that are not errors.
    case drained
    case clientClosed
    /// The client closed; what it had sent reached the broker first.
    case requestsFlushed
    case clientLeftDuringLogin
    case disconnected(ConnectionSide, detail: String)
    case brokerClosedIdle(upstream: String)
    case drainedWhileConnecting
    /// A broker-port connection that went to a bootstrap server before the port's broker was known.
    case brokerLearned(cluster: String, port: UInt16)
    case refusedClientSASL
    case idle(seconds: Int)

    // Errors.
    /// Nothing resolved (`dialled` false), or every address refused.
    case upstreamUnreachable(route: String, detail: String, dialled: Bool)
    case connectTimeout(route: String, upstream: String, seconds: Int, hint: String)
    /// `waiting`: what the login waited for when time ran out (" (waiting ... for ...)").
    case loginTimeout(mechanism: String, cluster: String, upstream: String, seconds: Int, waiting: String)
    /// `failure`: the SASL failure's metric reason (`authentication_failed`, ...).
    case loginFailed(reauthentication: Bool, mechanism: String, cluster: String, upstream: String, failure: String,
                     detail: String)
    case brokerTimeout(upstream: String, seconds: Int, outstanding: Int, oldest: InflightRequest)
    case drainTimeout(outstanding: Int)
    /// A switch away from a cluster that stopped answering: what is in flight there will never be
    /// answered, so the connection closes and the client retries those requests on the new cluster.
    case clusterUnhealthy(cluster: String, outstanding: Int)
    /// The client closed in the middle of a request.
    case truncatedRequest(bytesReceived: Int)
    case badRequest(ProxyStreamError)
    case tlsClientHelloOnPlainListener
    case badResponse(upstream: String, ProxyStreamError)
    case brokerClosed(upstream: String, outstanding: Int)
    case brokerReset(upstream: String, outstanding: Int, detail: String)
    case ioError(ConnectionSide, detail: String)
    /// TLS with one side failed; `metricReason` is the TLS error's own label (counted separately).
    case tlsFailed(ConnectionSide, message: String)
    case tlsStartFailed(metricReason: String, message: String)

    /// The `reason` label of `kafka_proxy_errors_total`, or nil when the ending is not an error.
    public var metricLabel: String? {
        switch self {
        case .drained, .clientClosed, .requestsFlushed, .clientLeftDuringLogin, .disconnected, .brokerClosedIdle,
             .drainedWhileConnecting, .brokerLearned, .refusedClientSASL, .tlsFailed:
            return nil
        case .idle: return "idle_timeout"
        case .upstreamUnreachable: return "upstream_unreachable"
        case .connectTimeout: return "upstream_connect_timeout"
        case .loginTimeout: return "sasl_timeout"
        case .loginFailed: return "sasl_authentication_failed"
        case .brokerTimeout: return "broker_timeout"
        case .drainTimeout: return "drain_timeout"
        case .clusterUnhealthy: return "cluster_unhealthy"
        case .truncatedRequest: return ProxyStreamError.Reason.truncatedFrame.rawValue
        case .badRequest(let error): return error.reason.rawValue
        case .tlsClientHelloOnPlainListener: return "tls_client_hello_on_plain_listener"
        case .badResponse(_, let error): return error.reason.rawValue
        case .brokerClosed, .brokerReset: return "broker_closed"
        case .ioError(let side, _): return "\(side.rawValue)_io_error"
        case .tlsStartFailed(let reason, _): return reason
        }
    }

    /// Endings that repeat while a cluster is broken (every client retries): the key under which
    /// repeats are counted instead of logged one by one. nil for endings that are logged each time.
    public var repeatKey: String? {
        switch self {
        case .upstreamUnreachable: return "upstream unreachable"
        case .connectTimeout: return "upstream connect timeout"
        case .loginTimeout: return "SASL login timed out"
        case .loginFailed(let reauthentication, _, _, _, let failure, _):
            return "SASL \(reauthentication ? "re-authentication" : "login") failed (\(failure))"
        default: return nil
        }
    }

    public var severity: CloseSeverity {
        switch self {
        case .drained, .clientClosed, .requestsFlushed, .clientLeftDuringLogin, .disconnected, .brokerClosedIdle,
             .drainedWhileConnecting:
            return .debug
        case .brokerLearned, .refusedClientSASL, .idle:
            return .info
        case .loginTimeout, .loginFailed, .tlsStartFailed:
            return .error
        default:
            return .warning
        }
    }

    public var message: String {
        switch self {
        case .drained: return "drained"
        case .clientClosed: return "client closed the connection"
        case .requestsFlushed: return "client closed the connection; its requests reached the broker"
        case .clientLeftDuringLogin: return "client closed the connection during the SASL login"
        case .disconnected(let side, let detail): return "\(side.rawValue) disconnected: \(detail)"
        case .brokerClosedIdle(let upstream):
            return "broker \(upstream) closed the connection with 0 responses outstanding"
        case .drainedWhileConnecting: return "closed while connecting: proxy draining"
        case .brokerLearned(let cluster, let port):
            return "broker of port \(port) in \(cluster) is known now: closing the connection that went to a bootstrap server"
        case .refusedClientSASL: return "closed after refusing the client's SaslAuthenticate"
        case .idle(let seconds): return "idle for \(seconds)s, closing"
        case .upstreamUnreachable(let route, let detail, let dialled):
            return dialled ? "cannot connect to \(route): \(detail)" : "cannot reach \(route): \(detail)"
        case .connectTimeout(let route, let upstream, let seconds, let hint):
            return "connecting to \(route) (\(upstream)) timed out after \(seconds)s\(hint)"
        case .loginTimeout(let mechanism, let cluster, let upstream, let seconds, let waiting):
            return "SASL \(mechanism) login to cluster \(cluster) broker \(upstream) did not finish within \(seconds)s\(waiting); closing the client connection"
        case .loginFailed(let reauthentication, _, let cluster, let upstream, _, let detail):
            let what = reauthentication ? "re-authentication" : "login"
            return "SASL \(what) to cluster \(cluster) broker \(upstream) failed, closing the client connection: \(detail)"
        case .brokerTimeout(let upstream, let seconds, let outstanding, let oldest):
            return "broker \(upstream) answered nothing for \(seconds)s with \(outstanding) requests outstanding (oldest: \(ApiCatalog.descriptor(oldest.apiKey)?.name ?? "Unknown\(oldest.apiKey)") v\(oldest.apiVersion), correlation id \(oldest.correlationId)); closing"
        case .drainTimeout(let outstanding): return "drain deadline passed with \(outstanding) responses outstanding"
        case .clusterUnhealthy(let cluster, let outstanding):
            return "cluster \(cluster) stopped answering with \(outstanding) responses outstanding: closing so the client retries them on the new cluster"
        case .truncatedRequest(let bytes):
            return "client closed the connection in the middle of a request (\(bytes) bytes of it arrived)"
        case .badRequest(let error): return "closing client connection: \(error.detail)"
        case .tlsClientHelloOnPlainListener:
            return "the client started a TLS handshake but the listener is plain TCP: set listener.tls, or use security.protocol=PLAINTEXT in the client"
        case .badResponse(let upstream, let error):
            return "closing connection: broker \(upstream) sent a bad response: \(error.detail)"
        case .brokerClosed(let upstream, let outstanding):
            return "broker \(upstream) closed the connection with \(outstanding) responses outstanding"
        case .brokerReset(let upstream, let outstanding, let detail):
            return "broker \(upstream) reset the connection with \(outstanding) responses outstanding: \(detail)"
        case .ioError(let side, let detail): return "\(side.rawValue) socket error: \(detail)"
        case .tlsFailed(.client, let message): return "TLS with the client failed: \(message)"
        case .tlsFailed(.broker, let message): return "TLS with the broker failed: \(message)"
        case .tlsStartFailed(_, let message): return "cannot start TLS with the client: \(message)"
        }
    }
}
