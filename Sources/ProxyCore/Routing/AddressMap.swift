/// Which local port stands for which upstream broker.
///
/// Keyed by broker node id: clients cache node id -> address, and a broker keeps its id when
/// its host or port changes, so a broker's local port never changes for the life of the process
/// while the upstream address it dials follows the newest metadata.
public struct AddressMap: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var nodeId: Int32
        public var port: UInt16
        public var upstream: ProxyConfig.HostPort
    }

    public enum Assignment: Sendable, Equatable {
        /// The node already has a listening port.
        case existing(UInt16)
        /// The node needs a listener on this port; report the outcome with `listenerStarted` / `listenerFailed`.
        case needsListener(UInt16)
        /// Every port of the range is taken or unusable.
        case exhausted
    }

    public let portRange: ClosedRange<UInt16>
    private var byNode: [Int32: Entry] = [:]
    private var reserved: Set<UInt16> = []
    private var unusable: Set<UInt16> = []

    public init(portRange: ClosedRange<UInt16>) {
        self.portRange = portRange
    }

    /// Records where `nodeId` lives now and returns its local port.
    public mutating func assign(nodeId: Int32, upstream: ProxyConfig.HostPort) -> Assignment {
        if var entry = byNode[nodeId] {
            if entry.upstream != upstream {
                entry.upstream = upstream
                byNode[nodeId] = entry
            }
            return .existing(entry.port)
        }
        guard let port = portRange.first(where: { !reserved.contains($0) && !unusable.contains($0) }) else {
            return .exhausted
        }
        reserved.insert(port)
        byNode[nodeId] = Entry(nodeId: nodeId, port: port, upstream: upstream)
        return .needsListener(port)
    }

    /// The port could not be bound (another process holds it): never offer it again.
    public mutating func listenerFailed(nodeId: Int32, port: UInt16) {
        unusable.insert(port)
        reserved.remove(port)
        if byNode[nodeId]?.port == port { byNode[nodeId] = nil }
    }

    public func upstream(forNode nodeId: Int32) -> ProxyConfig.HostPort? {
        byNode[nodeId]?.upstream
    }

    public func node(forPort port: UInt16) -> Int32? {
        byNode.values.first { $0.port == port }?.nodeId
    }

    public var entries: [Entry] {
        byNode.values.sorted { $0.port < $1.port }
    }
}
