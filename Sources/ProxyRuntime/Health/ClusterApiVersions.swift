import ProxyCore
import Synchronization

/// The newest ApiVersions ranges each cluster's probe learned, for limiting the ApiVersions
/// answers clients get to what every configured cluster supports. A failed probe keeps what the
/// cluster answered before: a cluster that is down is still where a connection may be moved.
final class ClusterApiVersions: Sendable {
    private let known = Locked<[String: ApiVersionRanges]>([:])

    func record(cluster: String, _ ranges: ApiVersionRanges) {
        known.withLock { $0[cluster] = ranges }
    }

    /// A cluster removed from the config no longer limits anything.
    func forget(cluster: String) {
        _ = known.withLock { $0.removeValue(forKey: cluster) }
    }

    func ranges(of cluster: String) -> ApiVersionRanges? { known.withLock { $0[cluster] } }

    /// The limits for an ApiVersions answer from `cluster`: the known ranges of the other
    /// configured clusters.
    func limits(answeredBy cluster: String, configured: [String], mapsTopicNames: Bool = false) -> ApiVersionsLimits {
        let others = known.withLock { known in configured.filter { $0 != cluster }.compactMap { known[$0] } }
        return ApiVersionsLimits(otherClusters: others, configuredClusters: configured.count, mapsTopicNames: mapsTopicNames)
    }
}
