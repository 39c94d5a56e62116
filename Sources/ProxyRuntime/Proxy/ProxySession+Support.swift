import KafkaProtocol
import ProxyTLS
import Logging
import ProxyCore

extension CloseSeverity {
    var level: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
    }
}

/// The registries' answers for one connection's cluster.
struct SharedConnectionPolicy: ConnectionPolicy {
    let context: ProxyContext
    let cluster: String

    func mustHoldFetch(clientId: String) -> Bool { context.groups.mustHoldFetch(clientId: clientId, cluster: cluster) }
    func isMemberOfAnotherCluster(groupId: String, memberId: String) -> Bool {
        context.groups.isMemberOfAnotherCluster(group: groupId, memberId: memberId, cluster: cluster)
    }
    func mustRefuseCommit(groupId: String, memberId: String, clientId: String) -> Bool {
        context.groups.mustRefuseCommit(group: groupId, memberId: memberId, clientId: clientId, cluster: cluster)
    }
    func needsTranslation(producerId: Int64) -> Bool { context.producerIds.needsTranslation(producerId, on: cluster) }
    func issuedElsewhere(producerId: Int64) -> Bool { context.producerIds.issuedElsewhere(producerId, than: cluster) }
}

extension ProxyContext {
    /// A collected response with its broker addresses rewritten to this proxy's ports, as a frame.
    func rewrite(_ request: InflightRequest, _ payload: [UInt8], cluster: String,
                 clearLeaderEpochs: Bool) throws(ProxyStreamError) -> [UInt8] {
        // Only ApiVersions answers need the other clusters' ranges.
        let config = self.config
        let names = config.clusters.map(\.name)
        let limits = request.apiKey == ApiKey.apiVersions.rawValue
            ? apiVersions.limits(answeredBy: cluster, configured: names, mapsTopicNames: config.mapsTopicNames)
            : .singleCluster
        let clusterId = request.apiKey == ApiKey.metadata.rawValue || request.apiKey == ApiKey.describeCluster.rawValue
            ? PresentedClusterId.forClusters(named: names) : nil
        let rewritten = try rewriter.rewrite(request: request, payload: payload, clearLeaderEpochs: clearLeaderEpochs,
                                             clusterId: clusterId, versionLimits: limits) {
            endpoint throws(ProxyStreamError) in
            do throws(BrokerDirectory.Failure) {
                return try directory.localPort(cluster: cluster, endpoint: endpoint)
            } catch {
                throw ProxyStreamError(.undecodableResponse, error.description)
            }
        }
        return KafkaFrame.framed(rewritten)
    }
}

extension ProxyMetrics {
    /// `kafka_proxy_commits_refused_total{cluster,api}`: commits of members another cluster knows,
    /// answered by the proxy. Cold path (a switch's stragglers): the registry's lock is fine.
    func recordCommitRefused(cluster: String, apiKey: Int16) {
        registry.makeCounter(descriptor: Self.name("commits_refused", "total",
            "OffsetCommit/TxnOffsetCommit requests of group members that have not rejoined on the cluster, answered UNKNOWN_MEMBER_ID by the proxy"),
            labels: [("cluster", cluster), ("api", ApiKey(apiKey).description)]).increment()
    }

    /// Counts a connection's ending: its error label, and connect failures once more on their own.
    func recordClose(_ reason: CloseReason) {
        if let label = reason.metricLabel { recordError(label) }
        switch reason {
        case .upstreamUnreachable, .connectTimeout: upstreamConnectFailures.increment()
        default: break
        }
    }
}

extension ConnectionMachine.Settings {
    init(route: Route, cluster: String, context: ProxyContext, limits: ProxyConfig.Limits) {
        self.init(route: route.description, cluster: cluster, connectTimeoutSeconds: context.connectTimeoutSeconds,
                  idleTimeoutSeconds: limits.idleTimeoutSeconds, maxRequestBytes: limits.maxRequestBytes,
                  maxResponseBytes: limits.maxResponseBytes,
                  loginMechanism: context.config.cluster(named: cluster)?.sasl?.mechanism.rawValue,
                  translatesProducers: context.producerIds.mayTranslate(on: cluster) || context.groups.anyPending(on: cluster),
                  clearsLeaderEpochs: context.running.hidesLeaderEpochs,
                  topicPrefix: context.config.cluster(named: cluster)?.topicPrefix,
                  sniffsTLSClientHello: context.tls.listenerUsesTLS ? nil : Self.looksLikeClientHello)
    }

    @Sendable private static func looksLikeClientHello(_ bytes: UnsafeRawBufferPointer) -> Bool {
        looksLikeTLSClientHello(bytes)
    }
}
