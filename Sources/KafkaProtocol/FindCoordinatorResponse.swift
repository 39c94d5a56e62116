/// FindCoordinator response (api key 10), v0-6. Flexible from v3. Versions 0-3 answer one key at the
/// top level; v4+ answer a list (KIP-699 batching).
public struct FindCoordinatorResponse: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    public struct Coordinator: Equatable, Sendable {
        public var key: String
        public var nodeId: Int32
        public var host: String
        public var port: Int32
        public var errorCode: Int16
        public var errorMessage: String?
        public var taggedFields: [TaggedField]
        public init(key: String, nodeId: Int32, host: String, port: Int32, errorCode: Int16 = 0,
                    errorMessage: String? = nil, taggedFields: [TaggedField] = []) {
            self.key = key
            self.nodeId = nodeId
            self.host = host
            self.port = port
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.taggedFields = taggedFields
        }
    }

    /// Version 1+.
    public var throttleTimeMs: Int32
    /// Versions 0-3.
    public var errorCode: Int16
    /// Versions 1-3.
    public var errorMessage: String?
    /// Versions 0-3.
    public var nodeId: Int32
    public var host: String
    public var port: Int32
    /// Version 4+.
    public var coordinators: [Coordinator]
    public var taggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16 = 0, errorMessage: String? = nil, nodeId: Int32 = -1,
                host: String = "", port: Int32 = -1, coordinators: [Coordinator] = [], taggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.nodeId = nodeId
        self.host = host
        self.port = port
        self.coordinators = coordinators
        self.taggedFields = taggedFields
    }

    public static let maxVersion: Int16 = 6

    public static func decode(from r: inout ByteReader, version: Int16) throws -> FindCoordinatorResponse {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "FindCoordinatorResponse")
        let flex = version >= 3
        var out = FindCoordinatorResponse()
        if version >= 1 { out.throttleTimeMs = try r.readInt32() }
        if version <= 3 {
            out.errorCode = try r.readInt16()
            if version >= 1 { out.errorMessage = try r.readNullableString(flexible: flex) }
            out.nodeId = try r.readInt32()
            out.host = try r.readString(flexible: flex)
            out.port = try r.readInt32()
        } else {
            let n = try r.readArrayCount(flexible: flex, minElementSize: 13)
            out.coordinators.reserveCapacity(n)
            for _ in 0..<n {
                let key = try r.readString(flexible: flex)
                let nodeId = try r.readInt32()
                let host = try r.readString(flexible: flex)
                let port = try r.readInt32()
                let err = try r.readInt16()
                let msg = try r.readNullableString(flexible: flex)
                out.coordinators.append(Coordinator(key: key, nodeId: nodeId, host: host, port: port, errorCode: err,
                                                    errorMessage: msg, taggedFields: try r.readTaggedFields(if: flex)))
            }
        }
        out.taggedFields = try r.readTaggedFields(if: flex)
        return out
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 3
        if version >= 1 { w.writeInt32(throttleTimeMs) }
        if version <= 3 {
            w.writeInt16(errorCode)
            if version >= 1 { w.writeNullableString(errorMessage, flexible: flex) }
            w.writeInt32(nodeId)
            w.writeString(host, flexible: flex)
            w.writeInt32(port)
        } else {
            w.writeArrayCount(coordinators.count, flexible: flex)
            for c in coordinators {
                w.writeString(c.key, flexible: flex)
                w.writeInt32(c.nodeId)
                w.writeString(c.host, flexible: flex)
                w.writeInt32(c.port)
                w.writeInt16(c.errorCode)
                w.writeNullableString(c.errorMessage, flexible: flex)
                w.writeTaggedFields(c.taggedFields, if: flex)
            }
        }
        w.writeTaggedFields(taggedFields, if: flex)
    }

    /// An error answer carries node -1 and an empty host: not an endpoint, left alone.
    static func isEndpoint(nodeId: Int32, host: String) -> Bool { nodeId >= 0 && !host.isEmpty }

    mutating func rewriteEndpoints(version: Int16, _ rewrite: (inout BrokerEndpoint) -> Void) {
        if version <= 3 {
            if Self.isEndpoint(nodeId: nodeId, host: host) {
                BrokerEndpoint.apply(rewrite, nodeId: nodeId, host: &host, port: &port, rack: nil)
            }
            return
        }
        for i in coordinators.indices {
            var c = coordinators[i]
            guard Self.isEndpoint(nodeId: c.nodeId, host: c.host) else { continue }
            BrokerEndpoint.apply(rewrite, nodeId: c.nodeId, host: &c.host, port: &c.port, rack: nil)
            coordinators[i] = c
        }
    }
}
