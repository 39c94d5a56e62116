#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import KafkaProtocol
import Logging
import ProxyCore
import ProxySASL
import Reactor

/// Logging in to the upstream cluster on the client's behalf (issue 5): the first login before any
/// client byte is relayed, KIP-368 re-authentication at request frame boundaries, and refusing a
/// client's own SASL. Runs on the session's queue like everything else in ProxySession.
extension ProxySession {
    /// The steps run off the loop (LoginDriver); their results come back on `queue`. The first
    /// login is bounded by the connect timer; a re-authentication by the same time, in the driver.
    func startSASL(_ credentials: SASLCredentials, reauthentication: Bool) {
        saslIsReauthentication = reauthentication
        let login = LoginDriver(credentials: credentials, serverHost: hostOf(upstreamName),
                                brokerVersions: saslBrokerVersions, firstCorrelationId: nextProxyCorrelationId,
                                lane: cluster, queue: queue,
                                timeout: reauthentication ? .seconds(context.connectTimeoutSeconds) : nil) { [weak self] step in
            self?.saslAdvance(step)
        }
        saslExchange = login
        if reauthentication { logger.debug("re-authenticating (\(credentials.mechanism.rawValue)) before the session expires") }
        login.start()
    }

    /// The client shut its side or reset (checked without reading: requests it sent before closing
    /// may still be buffered). POLLRDHUP (0x2000) is Linux's "peer closed its writing half".
    func clientHasClosed() -> Bool {
        let rdhup: Int16 = 0x2000
        var p = pollfd(fd: client.fd, events: Int16(POLLIN) | rdhup, revents: 0)
        guard Glibc.poll(&p, 1, 0) > 0 else { return false }
        return p.revents & (rdhup | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    /// Acts on the login's next step (delivered by the driver on `queue`, never from inside the relay).
    func saslAdvance(_ step: SaslAuthenticator.Step) {
        guard phase != .closed, let auth = saslExchange else { return }
        let mechanism = auth.mechanism.rawValue
        switch step {
        case .send(let request):
            nextProxyCorrelationId = request.correlationId &+ 1
            inflight.append(InflightRequest(correlationId: request.correlationId, apiKey: request.apiKey,
                                            apiVersion: request.apiVersion,
                                            startNanos: DispatchTime.now().uptimeNanoseconds, fromProxy: true))
            upstream?.send(request.frame)
        case .authenticated(let lifetimeMs):
            saslExchange = nil
            saslBrokerVersions = auth.brokerVersions
            context.metrics.recordSASLSuccess(cluster: cluster, mechanism: mechanism, reauthentication: saslIsReauthentication)
            scheduleReauthentication(sessionLifetimeMs: lifetimeMs)
            let lifetime = lifetimeMs > 0 ? ", session lifetime \(lifetimeMs) ms" : ""
            if saslIsReauthentication {
                logger.debug("re-authenticated to cluster \(cluster) broker \(upstreamName) (\(mechanism))\(lifetime)")
                // Held client requests go out in order, after the relay call returns.
                queue.async { [self] in
                    guard phase == .relaying else { return }
                    if relayPendingRequests() { client.resumeReading() }
                }
            } else {
                logger.debug("SASL \(mechanism) login to cluster \(cluster) broker \(upstreamName) succeeded\(lifetime)")
                startRelaying()
            }
        case .failed(let error):
            saslExchange = nil
            context.metrics.recordSASLFailure(cluster: cluster, mechanism: mechanism, reason: error.reason)
            let what = saslIsReauthentication ? "re-authentication" : "login"
            close(reason: "sasl_authentication_failed",
                  level: context.repeatedErrors.level(.error, cluster: cluster, reason: "SASL \(what) failed (\(error.reason))"),
                  "SASL \(what) to cluster \(cluster) broker \(upstreamName) failed, closing the client connection: \(error)")
        }
    }

    private func scheduleReauthentication(sessionLifetimeMs: Int64) {
        reauthGeneration += 1
        guard let delayMs = Reauthentication.delayMs(sessionLifetimeMs: sessionLifetimeMs) else { return }
        let generation = reauthGeneration
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(clamping: delayMs))) { [weak self] in
            self?.reauthenticationDue(generation)
        }
    }

    private func reauthenticationDue(_ generation: Int) {
        guard generation == reauthGeneration, phase == .relaying, saslCredentials != nil else { return }
        reauthDue = true
        // Starts it now when the request path is between frames (it always is on this path).
        if relayPendingRequests() { client.resumeReading() }
    }

    /// False while a SASL exchange holds client requests back (KIP-368: no other request between
    /// SaslHandshake and the last SaslAuthenticate). Starts a due re-authentication: the caller is
    /// at a request frame boundary.
    func saslAllowsRequests() -> Bool {
        if saslExchange == nil, reauthDue, let credentials = saslCredentials {
            reauthDue = false
            startSASL(credentials, reauthentication: true)
        }
        return saslExchange == nil
    }

    /// A client that starts SASL itself gets an error response from the proxy (the request is not
    /// forwarded); after SaslAuthenticate the connection closes. Returns false when it closes.
    func refuseClientSASL(_ header: RequestHeaderInfo) -> Bool {
        guard let response = ClientSASLRefusal.response(apiKey: header.apiKey, apiVersion: header.apiVersion,
                                                        correlationId: header.correlationId) else { return true }
        let api = header.apiKey == ApiKey.saslHandshake.rawValue ? "SaslHandshake" : "SaslAuthenticate"
        logger.warning("the client sent \(api) v\(header.apiVersion), but the proxy logs in to cluster \(cluster) itself: answered with an error (configure the client without SASL)")
        client.send(response)
        guard header.apiKey == ApiKey.saslAuthenticate.rawValue else { return true }
        if client.hasPendingOutput {
            closeWhenFlushed = true
            client.pauseReading()
        } else {
            close(reason: nil, level: .info, "closed after refusing the client's SaslAuthenticate")
        }
        return false
    }

}
