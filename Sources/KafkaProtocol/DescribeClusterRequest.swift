/// DescribeCluster request (api key 60), v0-2; flexible in every version.
public struct DescribeClusterRequest: Equatable, Sendable, KafkaEncodable {
    public var includeClusterAuthorizedOperations: Bool
    /// Version 1+: 1 = brokers, 2 = controllers.
    public var endpointType: Int8
    /// Version 2+.
    public var includeFencedBrokers: Bool

    public init(includeClusterAuthorizedOperations: Bool = false, endpointType: Int8 = 1, includeFencedBrokers: Bool = false) {
        self.includeClusterAuthorizedOperations = includeClusterAuthorizedOperations
        self.endpointType = endpointType
        self.includeFencedBrokers = includeFencedBrokers
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        w.writeBool(includeClusterAuthorizedOperations)
        if version >= 1 { w.writeInt8(endpointType) }
        if version >= 2 { w.writeBool(includeFencedBrokers) }
        w.writeTaggedFields([])
    }
}
