/// A broker endpoint as the rewriting callback sees it, whatever response it came from.
public struct BrokerEndpoint: Equatable, Hashable, Sendable {
    public var nodeId: Int32
    public var host: String
    public var port: Int32
    public var rack: String?

    public init(nodeId: Int32, host: String, port: Int32, rack: String? = nil) {
        self.nodeId = nodeId
        self.host = host
        self.port = port
        self.rack = rack
    }
}

/// One entry of the NodeEndpoints tagged field (tag 0) of Produce v10+ and Fetch v16+ responses,
/// which tells a client where the new leader of a partition lives (KIP-951), always flexible; and
/// one broker of a Metadata response (`MetadataResponse.Broker`), which has the same fields.
public struct NodeEndpoint: Equatable, Sendable {
    public var nodeId: Int32
    public var host: String
    public var port: Int32
    public var rack: String?
    public var taggedFields: [TaggedField]

    public init(nodeId: Int32, host: String, port: Int32, rack: String? = nil, taggedFields: [TaggedField] = []) {
        self.nodeId = nodeId
        self.host = host
        self.port = port
        self.rack = rack
        self.taggedFields = taggedFields
    }

    public static let tag: UInt32 = 0

    /// Decodes the data of the tagged field: a compact array of entries, nothing after it.
    public static func decodeList(_ data: [UInt8]) throws -> [NodeEndpoint] {
        var r = ByteReader(data)
        let n = try r.readArrayCount(flexible: true, minElementSize: 11)
        var out = [NodeEndpoint]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try read(&r, flexible: true)) }
        try r.expectEnd("NodeEndpoints")
        return out
    }

    public static func encodeList(_ list: [NodeEndpoint]) -> [UInt8] {
        var w = ByteWriter()
        w.writeArrayCount(list.count, flexible: true)
        for e in list { e.write(to: &w, flexible: true) }
        return w.bytes
    }

    /// Node id, host, port, the rack where the message has one (`rack`), tagged fields where flexible.
    static func read(_ r: inout ByteReader, flexible: Bool, rack hasRack: Bool = true) throws -> NodeEndpoint {
        let nodeId = try r.readInt32()
        let host = try r.readString(flexible: flexible)
        let port = try r.readInt32()
        let rack = hasRack ? try r.readNullableString(flexible: flexible) : nil
        return NodeEndpoint(nodeId: nodeId, host: host, port: port, rack: rack, taggedFields: try r.readTaggedFields(if: flexible))
    }

    func write(to w: inout ByteWriter, flexible: Bool, rack hasRack: Bool = true) {
        w.writeInt32(nodeId)
        w.writeString(host, flexible: flexible)
        w.writeInt32(port)
        if hasRack { w.writeNullableString(rack, flexible: flexible) }
        w.writeTaggedFields(taggedFields, if: flexible)
    }
}

extension BrokerEndpoint {
    /// Runs `rewrite` on an endpoint and writes back only host and port: the proxy maps addresses,
    /// it does not renumber nodes or move racks.
    @inline(__always)
    static func apply(_ rewrite: (inout BrokerEndpoint) -> Void, nodeId: Int32, host: inout String, port: inout Int32, rack: String?) {
        var e = BrokerEndpoint(nodeId: nodeId, host: host, port: port, rack: rack)
        rewrite(&e)
        host = e.host
        port = e.port
    }
}
