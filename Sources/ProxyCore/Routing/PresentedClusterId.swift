/// The cluster id clients see when the proxy can move them between clusters.
///
/// Each cluster has its own id, and a client that finds another id after a switch concludes it is
/// "simultaneously connected to multiple clusters" (librdkafka logs that as a warning at every
/// switch) or resets what it keyed by the id. To its clients the proxy is one cluster, so with
/// more than one configured it answers one id for all of them. The id is derived from the cluster
/// names, not learned: it must be the same before any cluster answered, after a restart, and on
/// every proxy of a fleet with the same clusters. With one cluster the real id passes unchanged.
public enum PresentedClusterId {
    public static func forClusters(named names: [String]) -> String? {
        guard names.count > 1 else { return nil }
        let digest = SHA256.hash(Array(("kafka-proxy clusters " + names.sorted().joined(separator: ",")).utf8))
        return base64URL(digest.prefix(16))
    }

    /// Unpadded URL-safe base64, the form of Kafka's own cluster ids (22 characters for 16 bytes).
    static func base64URL(_ bytes: some Collection<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var bits: UInt32 = 0
        var count = 0
        for byte in bytes {
            bits = bits << 8 | UInt32(byte)
            count += 8
            while count >= 6 {
                count -= 6
                out.append(alphabet[Int(bits >> UInt32(count) & 0x3F)])
            }
        }
        if count > 0 { out.append(alphabet[Int(bits << UInt32(6 - count) & 0x3F)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
