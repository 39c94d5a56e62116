/// Which local port stands for which upstream broker.
///
/// Ports are handed out as slots: the n-th broker the proxy learns of in a cluster takes the n-th
/// slot, and each slot is one port of `listener.brokerPorts`. Within a cluster a broker keeps its
/// slot (so its port) for the life of the process while its upstream address follows the newest
/// metadata. Across clusters the n-th broker of each shares the n-th port, so when the active
/// cluster changes, the addresses clients cached stay valid and lead to the new cluster's brokers.
public struct AddressMap: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var cluster: String
        public var nodeId: Int32
        public var port: UInt16
        public var upstream: ProxyConfig.HostPort
    }

    public enum Assignment: Sendable, Equatable {
        /// The slot already has a listening port.
        case existing(UInt16)
        /// The slot needs a listener on this port; report a failure with `listenerFailed`.
        case needsListener(port: UInt16, slot: Int)
        /// Every port of the range is taken or unusable.
        case exhausted
    }

    private struct Node: Sendable, Equatable {
        var slot: Int
        var upstream: ProxyConfig.HostPort
    }

    public let portRange: ClosedRange<UInt16>
    /// Slot index -> port; grows as slots are first used.
    private var slotPorts: [UInt16] = []
    private var unusable: Set<UInt16> = []
    private var clusters: [String: [Int32: Node]] = [:]

    public init(portRange: ClosedRange<UInt16>) {
        self.portRange = portRange
    }

    /// Records where `nodeId` of `cluster` lives now and returns its local port.
    public mutating func assign(cluster: String, nodeId: Int32, upstream: ProxyConfig.HostPort) -> Assignment {
        var nodes = clusters[cluster] ?? [:]
        defer { clusters[cluster] = nodes }
        if let node = nodes[nodeId] {
            nodes[nodeId]?.upstream = upstream
            return .existing(slotPorts[node.slot])
        }
        let taken = Set(nodes.values.map(\.slot))
        let slot = (0...slotPorts.count).first { !taken.contains($0) }!
        nodes[nodeId] = Node(slot: slot, upstream: upstream)
        if slot < slotPorts.count { return .existing(slotPorts[slot]) }
        guard let port = nextFreePort() else {
            nodes[nodeId] = nil
            return .exhausted
        }
        slotPorts.append(port)
        return .needsListener(port: port, slot: slot)
    }

    /// The port could not be bound (another process holds it): drop it and never offer it again.
    public mutating func listenerFailed(slot: Int) {
        guard slot == slotPorts.count - 1 else { return }
        unusable.insert(slotPorts.removeLast())
        for name in clusters.keys {
            clusters[name] = clusters[name]!.filter { $0.value.slot != slot }
        }
    }

    private func nextFreePort() -> UInt16? {
        let used = Set(slotPorts)
        return portRange.first { !used.contains($0) && !unusable.contains($0) }
    }

    public func slot(forPort port: UInt16) -> Int? { slotPorts.firstIndex(of: port) }

    /// The broker of `cluster` behind the port, if that cluster has one in that slot.
    public func upstream(cluster: String, port: UInt16) -> (nodeId: Int32, address: ProxyConfig.HostPort)? {
        guard let slot = slot(forPort: port),
              let (nodeId, node) = clusters[cluster]?.first(where: { $0.value.slot == slot }) else { return nil }
        return (nodeId, node.upstream)
    }

    public func upstream(cluster: String, nodeId: Int32) -> ProxyConfig.HostPort? {
        clusters[cluster]?[nodeId]?.upstream
    }

    public var entries: [Entry] {
        clusters.flatMap { name, nodes in
            nodes.map { Entry(cluster: name, nodeId: $0.key, port: slotPorts[$0.value.slot], upstream: $0.value.upstream) }
        }.sorted { ($0.port, $0.cluster) < ($1.port, $1.cluster) }
    }
}
