import KafkaProtocol
import ProxyCore
import Reactor
import Synchronization

/// The process-wide map of upstream brokers to local listeners. Shared by every connection
/// (any loop), so guarded by a mutex.
///
/// A listener is bound while the lock is held: a rewritten response must not name a port that
/// is not listening yet, and two connections learning the same broker at once must agree on
/// one port. bind/listen are quick non-blocking syscalls, so holding the lock for them is cheap.
final class BrokerDirectory: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private struct State {
        var map: AddressMap
        var listeners: [UInt16: Listener] = [:]
        var closed = false
    }

    private let state: Locked<State>
    private let startListener: @Sendable (_ port: UInt16) throws(ListenError) -> Listener
    private let onListenerFailure: @Sendable (ListenError) -> Void
    /// Called (outside the lock) when a cluster's broker takes a port for the first time.
    private let onNewBroker: Locked<(@Sendable (_ cluster: String, _ port: UInt16) -> Void)?> = Locked(nil)

    init(portRange: ClosedRange<UInt16>,
         startListener: @escaping @Sendable (UInt16) throws(ListenError) -> Listener,
         onListenerFailure: @escaping @Sendable (ListenError) -> Void) {
        state = Locked(State(map: AddressMap(portRange: portRange)))
        self.startListener = startListener
        self.onListenerFailure = onListenerFailure
    }

    func onNewBroker(_ handler: @escaping @Sendable (_ cluster: String, _ port: UInt16) -> Void) {
        onNewBroker.withLock { $0 = handler }
    }

    /// The local port that stands for this broker of `cluster`, starting its listener on first use.
    func localPort(cluster: String, endpoint: BrokerEndpoint) throws(Failure) -> UInt16 {
        guard endpoint.port > 0, endpoint.port <= Int32(UInt16.max) else {
            throw Failure(description: "broker \(endpoint.nodeId) advertises invalid port \(endpoint.port)")
        }
        let upstream = ProxyConfig.HostPort(host: endpoint.host, port: UInt16(endpoint.port))
        var isNew = false
        let result: Result<UInt16, Failure> = state.withLock { state in
            isNew = state.map.upstream(cluster: cluster, nodeId: endpoint.nodeId) == nil
            while true {
                guard !state.closed else { return .failure(Failure(description: "proxy is shutting down")) }
                switch state.map.assign(cluster: cluster, nodeId: endpoint.nodeId, upstream: upstream) {
                case .existing(let port):
                    return .success(port)
                case .needsListener(let port, let slot):
                    do throws(ListenError) {
                        state.listeners[port] = try startListener(port)
                        return .success(port)
                    } catch {
                        onListenerFailure(error)
                        state.map.listenerFailed(slot: slot)
                    }
                case .exhausted:
                    return .failure(Failure(description:
                        "no free port left in listener.brokerPorts \(state.map.portRange) for broker \(endpoint.nodeId) of cluster \(cluster)"))
                }
            }
        }
        let port = try result.get()
        if isNew, let handler = onNewBroker.withLock({ $0 }) { handler(cluster, port) }
        return port
    }

    /// The broker of `cluster` that a connection to local `port` should reach, if that cluster has one there.
    func upstream(cluster: String, port: UInt16) -> (nodeId: Int32, address: ProxyConfig.HostPort)? {
        state.withLock { $0.map.upstream(cluster: cluster, port: port) }
    }

    var entries: [AddressMap.Entry] {
        state.withLock { $0.map.entries }
    }

    func closeListeners() {
        let listeners = state.withLock { state in
            state.closed = true
            defer { state.listeners.removeAll() }
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.close() }
    }
}
