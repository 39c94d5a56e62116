/// KIP-368 re-authentication timing. A broker that sets `connections.max.reauth.ms` returns the
/// session lifetime in SaslAuthenticate v1+; the proxy must log in again on the same connection
/// before it ends, or the broker closes the connection at the next request.
public enum Reauthentication {
    /// Lower and upper fraction of the lifetime at which to start (as the Java client: 85-95 %).
    public static let window: ClosedRange<Double> = 0.85...0.95

    /// Milliseconds after the successful login at which to re-authenticate, for a `jitter` in 0...1
    /// (0 = 85 %, 1 = 95 % of the lifetime). Nil when the session does not expire (lifetime 0).
    public static func delayMs(sessionLifetimeMs: Int64, jitter: Double) -> Int64? {
        guard sessionLifetimeMs > 0 else { return nil }
        let j = min(max(jitter.isFinite ? jitter : 0.5, 0), 1)
        let fraction = window.lowerBound + (window.upperBound - window.lowerBound) * j
        return max(1, Int64((Double(sessionLifetimeMs) * fraction).rounded(.down)))
    }

    public static func delayMs<G: RandomNumberGenerator>(sessionLifetimeMs: Int64, using rng: inout G) -> Int64? {
        delayMs(sessionLifetimeMs: sessionLifetimeMs, jitter: Double.random(in: 0...1, using: &rng))
    }

    public static func delayMs(sessionLifetimeMs: Int64) -> Int64? {
        var rng = SystemRandomNumberGenerator()
        return delayMs(sessionLifetimeMs: sessionLifetimeMs, using: &rng)
    }
}
