import KafkaProtocol

/// What the proxy lets clients negotiate. A client must never pick a version of an
/// endpoint-carrying API that the proxy cannot decode (it could not rewrite the answer), and a
/// broker newer than the proxy must not break it: APIs the proxy does not know are removed
/// (their requests would be rejected as unknown), endpoint-carrying APIs are capped.
///
/// With several clusters configured, a connection may be moved to another cluster keeping the
/// versions its client negotiated, so each API is limited to the intersection of the clusters'
/// ranges (min = the largest min, max = the smallest max) and withheld when a cluster lacks it or
/// the intersection is empty.
public enum ApiVersionsPolicy {
    /// KIP-932 share groups: their responses name brokers (NodeEndpoints) and this proxy does not
    /// rewrite them yet, so clients must not use them through it.
    static let withheld: Set<Int16> = [78, 79]

    /// KIP-848 consumer groups (ConsumerGroupHeartbeat) live in one cluster's group coordinator,
    /// and the member's epoch and assignment mean nothing on another. Withholding the API makes
    /// clients that prefer it (librdkafka `group.protocol=consumer`) fall back to the classic
    /// protocol, whose members the proxy makes rejoin after a switch.
    static let withheldWhenSeveralClusters: Set<Int16> = [ApiKey.consumerGroupHeartbeat.rawValue]

    /// The allowed [min, max] for an API the broker offers, or nil to withhold it.
    public static func allowed(apiKey: Int16, minVersion: Int16, maxVersion: Int16,
                               limits: ApiVersionsLimits = .singleCluster) -> (Int16, Int16)? {
        guard ApiCatalog.descriptor(apiKey) != nil, !withheld.contains(apiKey) else { return nil }
        if limits.configuredClusters > 1, withheldWhenSeveralClusters.contains(apiKey) { return nil }
        var low = minVersion
        var high = maxVersion
        for other in limits.otherClusters {
            guard let range = other.ranges[apiKey] else { return nil }
            low = max(low, range.lowerBound)
            high = min(high, range.upperBound)
        }
        if let cap = EndpointRewriting.maxDecodedVersion[apiKey] { high = min(high, cap) }
        // Commits and group requests the proxy must read (refusing stale members' commits).
        if let cap = GroupRequestVersions.maxDecodedVersion[apiKey] { high = min(high, cap) }
        guard low <= high else { return nil }
        return (low, high)
    }

    public static func apply(to response: inout ApiVersionsResponse, limits: ApiVersionsLimits = .singleCluster) {
        response.apiKeys = response.apiKeys.compactMap { entry in
            guard let (min, max) = allowed(apiKey: entry.apiKey, minVersion: entry.minVersion,
                                           maxVersion: entry.maxVersion, limits: limits) else { return nil }
            var capped = entry
            capped.minVersion = min
            capped.maxVersion = max
            return capped
        }
    }
}
