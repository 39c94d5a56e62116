import Logging
import ProxyCore
import ProxySASL

/// Process-wide SASL preparation, once at startup (before the loops run): config advisories,
/// libsasl2's client library, and the Kerberos client keytab for GSSAPI.
public enum SASLStartup {
    public static func prepare(_ config: ProxyConfig, logger: Logger) {
        for advisory in config.advisories {
            logger.warning("config: \(advisory)")
        }
        let clusters = config.clusters.filter { $0.sasl != nil }
        guard !clusters.isEmpty else { return }
        if clusters.contains(where: { $0.sasl?.mechanism != .oauthBearer }) {
            do throws(SASLError) {
                try CyrusSASL.initializeClient()
                let available = Set(CyrusSASL.availableClientMechanisms())
                for cluster in clusters {
                    guard let m = cluster.sasl?.mechanism, m.usesCyrus,
                          !available.contains(m.rawValue) else { continue }
                    let pkg = m.cyrusPluginPackage.map { " (install \($0))" } ?? ""
                    logger.error("cluster \(cluster.name): libsasl2 has no client plugin for \(m.rawValue)\(pkg); logins will fail")
                }
            } catch {
                logger.error("SASL: \(error)")
            }
        }
        for cluster in clusters {
            guard let sasl = cluster.sasl, sasl.mechanism == .gssapi else { continue }
            do throws(SASLError) {
                try GSSAPIEnvironment.prepare(keytabFile: sasl.keytabFile)
            } catch {
                logger.error("cluster \(cluster.name): GSSAPI: \(error)")
            }
        }
    }
}
