import KafkaProtocol

/// Rewrites the responses a client must not see as the broker sent them: broker endpoints
/// become the proxy's listeners, and ApiVersions is limited to what the proxy can relay.
public struct ResponseRewriter: Sendable {
    public var advertisedHost: String

    public init(advertisedHost: String) {
        self.advertisedHost = advertisedHost
    }

    @inline(__always)
    public static func needsRewrite(apiKey: Int16, apiVersion: Int16) -> Bool {
        apiKey == ApiKey.apiVersions.rawValue || EndpointRewriting.carriesEndpoints(apiKey: apiKey, apiVersion: apiVersion)
    }

    /// - Parameters:
    ///   - payload: the response frame after its size prefix (header + body).
    ///   - clearLeaderEpochs: hide Metadata leader epochs (when clients may be moved to another cluster).
    ///   - clusterId: the cluster id to answer instead of the broker's (see PresentedClusterId).
    ///   - versionLimits: what ApiVersions answers are limited to besides the proxy's own decoding.
    ///   - localPort: the proxy port standing for a broker; throws when none can be given.
    public func rewrite(
        request: InflightRequest,
        payload: [UInt8],
        clearLeaderEpochs: Bool = false,
        clusterId: String? = nil,
        versionLimits: ApiVersionsLimits = .singleCluster,
        localPort: (BrokerEndpoint) throws(ProxyStreamError) -> UInt16
    ) throws(ProxyStreamError) -> [UInt8] {
        let api = ApiKey(rawValue: request.apiKey)
        do {
            if request.apiKey == ApiKey.apiVersions.rawValue {
                return try rewriteApiVersions(payload: payload, version: request.apiVersion, limits: versionLimits)
            }
            // Ports go to brokers in node id order, not response order, so the n-th broker of
            // every cluster lands on the same port (see AddressMap).
            var ports: [Int32: UInt16] = [:]
            if request.apiKey == ApiKey.metadata.rawValue || request.apiKey == ApiKey.describeCluster.rawValue {
                var seen: [BrokerEndpoint] = []
                _ = try EndpointRewriting.rewriteResponse(apiKey: request.apiKey, apiVersion: request.apiVersion,
                                                          payload: payload) { seen.append($0) }
                for endpoint in seen.sorted(by: { $0.nodeId < $1.nodeId }) {
                    ports[endpoint.nodeId] = try localPort(endpoint)
                }
            }
            var failure: ProxyStreamError?
            let host = advertisedHost
            let rewritten = try EndpointRewriting.rewriteResponse(
                apiKey: request.apiKey, apiVersion: request.apiVersion, payload: payload,
                clearLeaderEpochs: clearLeaderEpochs, clusterId: clusterId
            ) { endpoint in
                guard failure == nil else { return }
                do throws(ProxyStreamError) {
                    let port: UInt16
                    if let known = ports[endpoint.nodeId] {
                        port = known
                    } else {
                        port = try localPort(endpoint)
                    }
                    endpoint.port = Int32(port)
                    endpoint.host = host
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            return rewritten
        } catch let error as ProxyStreamError {
            throw error
        } catch {
            throw ProxyStreamError(.undecodableResponse, "\(api) v\(request.apiVersion) response: \(error)")
        }
    }

    private func rewriteApiVersions(payload: [UInt8], version: Int16, limits: ApiVersionsLimits) throws -> [UInt8] {
        // ApiVersions responses always use response header v0: the correlation id alone.
        guard payload.count >= 6 else { throw KafkaProtocolError(.truncated, "ApiVersions response header") }
        // An error answer (35 UNSUPPORTED_VERSION) only tells the client which ApiVersions version to
        // retry with; it relays unchanged, and the retried answer is rewritten. Brokers disagree on
        // how to encode it (the librdkafka mock cluster fits neither v0 nor the requested version).
        if payload[4] != 0 || payload[5] != 0 { return payload }
        var reader = ByteReader(payload, from: 4)
        var response = try ApiVersionsResponse.decode(from: &reader, version: version)
        ApiVersionsPolicy.apply(to: &response, limits: limits)
        return Array(payload[..<4]) + response.encoded(version: version) + payload[reader.index...]
    }
}
