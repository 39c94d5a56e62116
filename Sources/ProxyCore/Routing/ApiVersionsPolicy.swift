import KafkaProtocol

/// What the proxy lets clients negotiate. A client must never pick a version of an
/// endpoint-carrying API that the proxy cannot decode (it could not rewrite the answer), and a
/// broker newer than the proxy must not break it: APIs the proxy does not know are removed
/// (their requests would be rejected as unknown), endpoint-carrying APIs are capped.
public enum ApiVersionsPolicy {
    /// KIP-932 share groups: their responses name brokers (NodeEndpoints) and this proxy does not
    /// rewrite them yet, so clients must not use them through it.
    static let withheld: Set<Int16> = [78, 79]

    /// The allowed [min, max] for an API the broker offers, or nil to withhold it.
    public static func allowed(apiKey: Int16, minVersion: Int16, maxVersion: Int16) -> (Int16, Int16)? {
        guard ApiCatalog.descriptor(apiKey) != nil, !withheld.contains(apiKey) else { return nil }
        guard let cap = EndpointRewriting.maxDecodedVersion[apiKey] else { return (minVersion, maxVersion) }
        guard minVersion <= cap else { return nil }
        return (minVersion, min(maxVersion, cap))
    }

    public static func apply(to response: inout ApiVersionsResponse) {
        response.apiKeys = response.apiKeys.compactMap { entry in
            guard let (min, max) = allowed(apiKey: entry.apiKey, minVersion: entry.minVersion,
                                           maxVersion: entry.maxVersion) else { return nil }
            var capped = entry
            capped.minVersion = min
            capped.maxVersion = max
            return capped
        }
    }
}
