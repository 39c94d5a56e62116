/// Replaces broker addresses in the responses that carry them, so clients connect through the proxy.
public enum EndpointRewriting {
    /// Highest version of each endpoint-carrying API this codec decodes. The proxy caps what it
    /// advertises in ApiVersions to these, so it never has to pass on an answer it cannot rewrite.
    public static let maxDecodedVersion: [Int16: Int16] = [
        ApiKey.produce.rawValue: ProduceResponseWalker.maxVersion,
        ApiKey.fetch.rawValue: FetchResponseWalker.maxVersion,
        ApiKey.metadata.rawValue: MetadataResponse.maxVersion,
        ApiKey.findCoordinator.rawValue: FindCoordinatorResponse.maxVersion,
        ApiKey.describeCluster.rawValue: DescribeClusterResponse.maxVersion,
    ]

    /// Metadata, FindCoordinator and DescribeCluster (every version), Produce v10+, Fetch v16+.
    @inline(__always)
    public static func carriesEndpoints(apiKey: Int16, apiVersion: Int16) -> Bool {
        switch apiKey {
        case ApiKey.metadata.rawValue, ApiKey.findCoordinator.rawValue, ApiKey.describeCluster.rawValue: return true
        case ApiKey.produce.rawValue: return apiVersion >= 10
        case ApiKey.fetch.rawValue: return apiVersion >= 16
        default: return false
        }
    }

    /// `payload` is a response frame after its 4-byte size: response header then body. `rewrite` is
    /// called for every broker endpoint (FindCoordinator error entries, node < 0 or empty host, are
    /// skipped); only host and port are written back. Every other byte is preserved: the header is
    /// copied as is, Produce/Fetch keep all bytes before their top-level tagged fields.
    /// Responses of other APIs come back unchanged. Throws on malformed input or a version above
    /// `maxDecodedVersion`.
    ///
    /// `clearLeaderEpochs` writes -1 (unknown) over Metadata's partition leader epochs. A proxy that
    /// can move clients to another cluster needs it: that cluster's epochs are unrelated (usually
    /// lower), and clients ignore leader updates whose epoch is lower than one they have seen.
    ///
    /// `clusterId`, when given, replaces the cluster id of Metadata (v2+) and DescribeCluster answers.
    public static func rewriteResponse(apiKey: Int16, apiVersion: Int16, payload: [UInt8],
                                       clearLeaderEpochs: Bool = false, clusterId: String? = nil,
                                       rewrite: (inout BrokerEndpoint) -> Void) throws -> [UInt8] {
        guard carriesEndpoints(apiKey: apiKey, apiVersion: apiVersion) else { return payload }
        var r = ByteReader(payload)
        _ = try ResponseHeader.decode(from: &r, headerVersion: ApiCatalog.responseHeaderVersion(apiKey: apiKey, apiVersion: apiVersion))
        let headerEnd = r.index
        var w = ByteWriter(capacity: payload.count + 64)

        switch apiKey {
        case ApiKey.metadata.rawValue:
            var m = try MetadataResponse.decode(from: &r, version: apiVersion)
            m.rewriteEndpoints(rewrite)
            if clearLeaderEpochs { m.clearLeaderEpochs() }
            if let clusterId, apiVersion >= 2 { m.clusterId = clusterId }
            w.writeRawBytes(payload[0..<headerEnd])
            m.encode(into: &w, version: apiVersion)
        case ApiKey.findCoordinator.rawValue:
            var f = try FindCoordinatorResponse.decode(from: &r, version: apiVersion)
            f.rewriteEndpoints(version: apiVersion, rewrite)
            w.writeRawBytes(payload[0..<headerEnd])
            f.encode(into: &w, version: apiVersion)
        case ApiKey.describeCluster.rawValue:
            var d = try DescribeClusterResponse.decode(from: &r, version: apiVersion)
            d.rewriteEndpoints(rewrite)
            if let clusterId { d.clusterId = clusterId }
            w.writeRawBytes(payload[0..<headerEnd])
            d.encode(into: &w, version: apiVersion)
        case ApiKey.produce.rawValue:
            try ProduceResponseWalker.skipToTaggedFields(&r, version: apiVersion)
            return try spliceNodeEndpoints(payload: payload, reader: &r, rewrite: rewrite)
        case ApiKey.fetch.rawValue:
            try FetchResponseWalker.skipToTaggedFields(&r, version: apiVersion)
            return try spliceNodeEndpoints(payload: payload, reader: &r, rewrite: rewrite)
        default:
            return payload
        }
        // Bytes after the message are not ours to judge: clients ignore them (the librdkafka mock
        // cluster writes an extra tagged-fields byte), so they pass through as they came.
        w.writeRawBytes(payload[r.index...])
        return w.bytes
    }

    /// The NodeEndpoints of a Produce (v10+) or Fetch (v16+) response payload; empty when absent.
    public static func nodeEndpoints(apiKey: Int16, apiVersion: Int16, payload: [UInt8]) throws -> [NodeEndpoint] {
        guard carriesEndpoints(apiKey: apiKey, apiVersion: apiVersion),
              apiKey == ApiKey.produce.rawValue || apiKey == ApiKey.fetch.rawValue else { return [] }
        var r = ByteReader(payload)
        _ = try ResponseHeader.decode(from: &r, headerVersion: 1)
        if apiKey == ApiKey.produce.rawValue {
            try ProduceResponseWalker.skipToTaggedFields(&r, version: apiVersion)
        } else {
            try FetchResponseWalker.skipToTaggedFields(&r, version: apiVersion)
        }
        let fields = try r.readTaggedFields()
        try r.expectEnd("response tagged fields")
        guard let data = fields.data(forTag: NodeEndpoint.tag) else { return [] }
        return try NodeEndpoint.decodeList(data)
    }

    /// `reader` stands at the top-level tagged fields, the last thing in the payload. Only they are
    /// re-encoded; the bytes before them are copied once.
    static func spliceNodeEndpoints(payload: [UInt8], reader r: inout ByteReader,
                                    rewrite: (inout BrokerEndpoint) -> Void) throws -> [UInt8] {
        let tagStart = r.index
        var fields = try r.readTaggedFields()
        let trailing = r.index
        guard let i = fields.firstIndex(where: { $0.tag == NodeEndpoint.tag }) else { return payload }
        var endpoints = try NodeEndpoint.decodeList(fields[i].data)
        for j in endpoints.indices {
            var e = endpoints[j]
            guard e.nodeId >= 0 && !e.host.isEmpty else { continue }
            BrokerEndpoint.apply(rewrite, nodeId: e.nodeId, host: &e.host, port: &e.port, rack: e.rack)
            endpoints[j] = e
        }
        fields[i].data = NodeEndpoint.encodeList(endpoints)
        var w = ByteWriter(capacity: payload.count + 64)
        w.writeRawBytes(payload[0..<tagStart])
        w.writeTaggedFields(fields)
        w.writeRawBytes(payload[trailing...])
        return w.bytes
    }
}
