import KafkaProtocol

/// The version ranges one cluster's broker answered in ApiVersions, by api key.
public struct ApiVersionRanges: Equatable, Sendable {
    public var ranges: [Int16: ClosedRange<Int16>]

    public init(_ ranges: [Int16: ClosedRange<Int16>]) {
        self.ranges = ranges
    }

    /// The ranges of an answer. An entry whose min exceeds its max offers nothing and is left out.
    public init(_ response: ApiVersionsResponse) {
        var ranges: [Int16: ClosedRange<Int16>] = [:]
        for entry in response.apiKeys where entry.minVersion <= entry.maxVersion {
            ranges[entry.apiKey] = entry.minVersion...entry.maxVersion
        }
        self.ranges = ranges
    }
}

/// What ApiVersions answers are limited to besides what the proxy decodes: the other configured
/// clusters. A connection can be moved to any of them with the versions it negotiated, so it may
/// only negotiate versions every one of them supports.
public struct ApiVersionsLimits: Equatable, Sendable {
    /// The known ranges of every configured cluster except the one that answered. A cluster
    /// never probed successfully is not here (and restricts nothing).
    public var otherClusters: [ApiVersionRanges]
    /// How many clusters are configured, known ranges or not.
    public var configuredClusters: Int
    /// Some configured cluster has a `topicPrefix`: a connection may be moved onto it, so only
    /// what the topic-name mapping handles is offered.
    public var mapsTopicNames: Bool

    public init(otherClusters: [ApiVersionRanges] = [], configuredClusters: Int = 1, mapsTopicNames: Bool = false) {
        self.otherClusters = otherClusters
        self.configuredClusters = configuredClusters
        self.mapsTopicNames = mapsTopicNames
    }

    public static let singleCluster = ApiVersionsLimits()
}
