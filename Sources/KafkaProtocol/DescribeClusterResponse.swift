/// DescribeCluster response (api key 60), v0-2; flexible in every version.
public struct DescribeClusterResponse: Equatable, Sendable, KafkaEncodable, KafkaDecodable {
    public struct Broker: Equatable, Sendable {
        public var brokerId: Int32
        public var host: String
        public var port: Int32
        public var rack: String?
        /// Version 2+.
        public var isFenced: Bool
        public var taggedFields: [TaggedField]
        public init(brokerId: Int32, host: String, port: Int32, rack: String? = nil, isFenced: Bool = false,
                    taggedFields: [TaggedField] = []) {
            self.brokerId = brokerId
            self.host = host
            self.port = port
            self.rack = rack
            self.isFenced = isFenced
            self.taggedFields = taggedFields
        }
    }

    public var throttleTimeMs: Int32
    public var errorCode: Int16
    public var errorMessage: String?
    /// Version 1+: 1 = brokers, 2 = controllers.
    public var endpointType: Int8
    public var clusterId: String
    public var controllerId: Int32
    public var brokers: [Broker]
    public var clusterAuthorizedOperations: Int32
    public var taggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, errorCode: Int16 = 0, errorMessage: String? = nil, endpointType: Int8 = 1,
                clusterId: String, controllerId: Int32 = -1, brokers: [Broker], clusterAuthorizedOperations: Int32 = Int32.min,
                taggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.endpointType = endpointType
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.brokers = brokers
        self.clusterAuthorizedOperations = clusterAuthorizedOperations
        self.taggedFields = taggedFields
    }

    public static let maxVersion: Int16 = 2

    public static func decode(from r: inout ByteReader, version: Int16) throws -> DescribeClusterResponse {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "DescribeClusterResponse")
        let throttle = try r.readInt32()
        let errorCode = try r.readInt16()
        let errorMessage = try r.readCompactNullableString()
        let endpointType = version >= 1 ? try r.readInt8() : 1
        let clusterId = try r.readCompactString()
        let controllerId = try r.readInt32()
        let n = try r.readArrayCount(flexible: true, minElementSize: 11)
        var brokers = [Broker]()
        brokers.reserveCapacity(n)
        for _ in 0..<n {
            let id = try r.readInt32()
            let host = try r.readCompactString()
            let port = try r.readInt32()
            let rack = try r.readCompactNullableString()
            let fenced = version >= 2 ? try r.readBool() : false
            brokers.append(Broker(brokerId: id, host: host, port: port, rack: rack, isFenced: fenced, taggedFields: try r.readTaggedFields()))
        }
        let ops = try r.readInt32()
        let tagged = try r.readTaggedFields()
        return DescribeClusterResponse(throttleTimeMs: throttle, errorCode: errorCode, errorMessage: errorMessage,
                                       endpointType: endpointType, clusterId: clusterId, controllerId: controllerId,
                                       brokers: brokers, clusterAuthorizedOperations: ops, taggedFields: tagged)
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        w.writeInt32(throttleTimeMs)
        w.writeInt16(errorCode)
        w.writeCompactNullableString(errorMessage)
        if version >= 1 { w.writeInt8(endpointType) }
        w.writeCompactString(clusterId)
        w.writeInt32(controllerId)
        w.writeArrayCount(brokers.count, flexible: true)
        for b in brokers {
            w.writeInt32(b.brokerId)
            w.writeCompactString(b.host)
            w.writeInt32(b.port)
            w.writeCompactNullableString(b.rack)
            if version >= 2 { w.writeBool(b.isFenced) }
            w.writeTaggedFields(b.taggedFields)
        }
        w.writeInt32(clusterAuthorizedOperations)
        w.writeTaggedFields(taggedFields)
    }

    mutating func rewriteEndpoints(_ rewrite: (inout BrokerEndpoint) -> Void) {
        for i in brokers.indices {
            var b = brokers[i]
            BrokerEndpoint.apply(rewrite, nodeId: b.brokerId, host: &b.host, port: &b.port, rack: b.rack)
            brokers[i] = b
        }
    }
}
