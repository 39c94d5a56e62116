import CProxyShims

/// What this binary is: the release version and the git commit it was built from.
public enum BuildInfo {
    /// Bumped with each release (see the README's "Version" section).
    public static let version = "0.1.0"

    /// The commit scripts/build-release stamped in, "unknown" for a plain `swift build`.
    public static let commit: String = sanitized(String(cString: CProxyShims_build_commit()))

    /// `kafka-proxy 0.1.0 (commit 1fbece5d2a4e)`.
    public static var line: String { "kafka-proxy \(version) (commit \(commit))" }

    /// Only what a commit id (and a `-dirty` suffix) is made of: the value ends up in a metric label
    /// and in JSON, and a define from a build script is not trusted to be clean.
    static func sanitized(_ raw: String) -> String {
        let allowed = raw.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "0"..."9", "a"..."z", "A"..."Z", "-", "_", ".": true
            default: false
            }
        }
        return allowed && !raw.isEmpty && raw.count <= 64 ? raw : "unknown"
    }
}
