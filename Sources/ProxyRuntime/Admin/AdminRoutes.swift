import Dispatch
import ProxyCore

/// What each admin path answers.
enum AdminRoutes {
    static func handle(method: String, path: String, server: ProxyServer) -> HTTPResponse {
        guard method == "GET" || method == "HEAD" else {
            return HTTPResponse(status: 405, body: "only GET is supported\n")
        }
        switch path {
        case "/healthz", "/health":   // /health: grepplabs/kafka-proxy's default health path
            return HTTPResponse(status: 200, body: "ok\n")
        case "/readyz":
            let (ready, detail) = readiness(server)
            return HTTPResponse(status: ready ? 200 : 503, body: detail + "\n")
        case "/status":
            return HTTPResponse(status: 200, contentType: "application/json", body: status(server).serialized() + "\n")
        case "/metrics":
            var buffer: [UInt8] = []
            server.context.metrics.emit(into: &buffer)
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: buffer)
        default:
            return HTTPResponse(status: 404, body: "not found: try /healthz, /readyz, /status or /metrics\n")
        }
    }

    /// Ready when the listeners are up and the newest probe of the active cluster succeeded.
    static func readiness(_ server: ProxyServer) -> (Bool, String) {
        let cluster = server.context.running.activeCluster
        guard server.isListening else { return (false, "not listening") }
        guard let probe = server.probeResult(cluster: cluster) else { return (false, "cluster \(cluster): not probed yet") }
        if probe.ok { return (true, "ready: cluster \(cluster) answered (\(probe.broker))") }
        return (false, "cluster \(cluster) unreachable: \(probe.detail)")
    }

    static func status(_ server: ProxyServer) -> JSONValue {
        let context = server.context
        let running = context.running
        let counts = context.sessions.countsByRoute
        return .object([
            ("version", .string(BuildInfo.version)),
            ("commit", .string(BuildInfo.commit)),
            ("activeCluster", .string(running.activeCluster)),
            ("configGeneration", .int(Int64(running.generation))),
            ("configDigest", .string(running.digest.hex)),
            ("ready", .bool(readiness(server).0)),
            ("connections", .object([
                ("active", .int(Int64(counts.bootstrap + counts.broker))),
                ("bootstrap", .int(Int64(counts.bootstrap))),
                ("broker", .int(Int64(counts.broker))),
                ("total", .int(Int64(context.sessions.totalAccepted))),
            ])),
            ("clusters", .array(running.config.clusters.map { clusterStatus($0, running: running, server: server) })),
            ("failover", failoverStatus(server, running: running)),
            ("lastReload", reloadStatus(running.lastReload)),
            ("listeners", .array(listeners(server, running: running))),
        ])
    }

    private static func clusterStatus(_ cluster: ProxyConfig.Cluster, running: RunningConfig,
                                      server: ProxyServer) -> JSONValue {
        let probe = server.probeResult(cluster: cluster.name)
        let probeJSON: JSONValue
        if let probe {
            let age = Double(DispatchTime.now().uptimeNanoseconds &- probe.atNanos) / 1e9
            probeJSON = .object([
                ("ok", .bool(probe.ok)),
                ("broker", .string(probe.broker)),
                ("detail", .string(probe.detail)),
                ("ageSeconds", .double(age)),
            ])
        } else {
            probeJSON = .null
        }
        let healthy: JSONValue = probe.map { .bool($0.ok) } ?? .null
        return .object([
            ("name", .string(cluster.name)),
            ("active", .bool(cluster.name == running.activeCluster)),
            ("healthy", healthy),
            ("bootstrapServers", .array(cluster.bootstrapServers.map { .string($0.description) })),
            // null: topic names pass unchanged on this cluster.
            ("topicPrefix", cluster.topicPrefix.map { .string($0) } ?? .null),
            ("probe", probeJSON),
            // False until a probe of the cluster succeeded: until then it does not limit ApiVersions.
            ("apiVersionsKnown", .bool(server.context.apiVersions.ranges(of: cluster.name) != nil)),
        ])
    }

    private static func failoverStatus(_ server: ProxyServer, running: RunningConfig) -> JSONValue {
        let failover = running.config.failover
        var fields: [(String, JSONValue)] = [
            ("mode", .string(failover.mode.rawValue)),
            ("failback", .string(failover.failback.rawValue)),
            ("order", .array(running.config.clusterPreference.map { .string($0) })),
            ("configuredActiveCluster", .string(running.config.activeCluster)),
        ]
        if let last = running.lastSwitch {
            fields.append(("lastSwitch", .object([
                ("from", .string(last.change.from)),
                ("to", .string(last.change.to)),
                ("reason", .string(last.change.reason.rawValue)),
                ("atUnixSeconds", .int(Int64(last.atUnixSeconds))),
            ])))
        } else {
            fields.append(("lastSwitch", .null))
        }
        return .object(fields)
    }

    private static func reloadStatus(_ record: ProxyServer.ReloadRecord?) -> JSONValue {
        guard let record else { return .null }
        return .object([
            ("result", .string(record.ok ? "success" : "error")),
            ("error", record.error.map { .string($0) } ?? .null),
            ("restartRequired", .array(record.restartRequired.map { .string($0) })),
            ("atUnixSeconds", .int(Int64(record.atUnixSeconds))),
        ])
    }

    private static func listeners(_ server: ProxyServer, running: RunningConfig) -> [JSONValue] {
        let listener = running.config.listener
        var result: [JSONValue] = [
            .object([
                ("kind", .string("bootstrap")),
                ("address", .string(ProxyConfig.HostPort(host: listener.advertisedHost, port: listener.bootstrapPort).description)),
                ("port", .int(Int64(listener.bootstrapPort))),
                ("upstream", .array(running.active.bootstrapServers.map { .string($0.description) })),
            ]),
        ]
        for entry in server.context.directory.entries {
            result.append(.object([
                ("kind", .string("broker")),
                ("address", .string(ProxyConfig.HostPort(host: listener.advertisedHost, port: entry.port).description)),
                ("port", .int(Int64(entry.port))),
                ("cluster", .string(entry.cluster)),
                ("active", .bool(entry.cluster == running.activeCluster)),
                ("nodeId", .int(Int64(entry.nodeId))),
                ("upstream", .string(entry.upstream.description)),
            ]))
        }
        return result
    }
}
