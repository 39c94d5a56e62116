import Dispatch
import ProxyCore

/// What each admin path answers.
enum AdminRoutes {
    static func handle(method: String, path: String, server: ProxyServer) -> HTTPResponse {
        guard method == "GET" || method == "HEAD" else {
            return HTTPResponse(status: 405, body: "only GET is supported\n")
        }
        switch path {
        case "/healthz":
            return HTTPResponse(status: 200, body: "ok\n")
        case "/readyz":
            let (ready, detail) = readiness(server)
            return HTTPResponse(status: ready ? 200 : 503, body: detail + "\n")
        case "/status":
            return HTTPResponse(status: 200, contentType: "application/json", body: status(server).serialized() + "\n")
        case "/metrics":
            var buffer: [UInt8] = []
            server.context.metrics.registry.emit(into: &buffer)
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: buffer)
        default:
            return HTTPResponse(status: 404, body: "not found: try /healthz, /readyz, /status or /metrics\n")
        }
    }

    /// Ready when the listeners are up and the newest probe of the active cluster succeeded.
    static func readiness(_ server: ProxyServer) -> (Bool, String) {
        let cluster = server.context.config.activeCluster
        guard server.isListening else { return (false, "not listening") }
        guard let probe = server.probe.latest else { return (false, "cluster \(cluster): not probed yet") }
        if probe.ok { return (true, "ready: cluster \(cluster) answered (\(probe.broker))") }
        return (false, "cluster \(cluster) unreachable: \(probe.detail)")
    }

    static func status(_ server: ProxyServer) -> JSONValue {
        let context = server.context
        let config = context.config
        let counts = context.sessions.countsByRoute
        var listeners: [JSONValue] = [
            .object([
                ("kind", .string("bootstrap")),
                ("address", .string(ProxyConfig.HostPort(host: config.listener.advertisedHost, port: config.listener.bootstrapPort).description)),
                ("port", .int(Int64(config.listener.bootstrapPort))),
                ("upstream", .array(config.active.bootstrapServers.map { .string($0.description) })),
            ]),
        ]
        for entry in context.directory.entries {
            listeners.append(.object([
                ("kind", .string("broker")),
                ("address", .string(ProxyConfig.HostPort(host: config.listener.advertisedHost, port: entry.port).description)),
                ("port", .int(Int64(entry.port))),
                ("nodeId", .int(Int64(entry.nodeId))),
                ("upstream", .string(entry.upstream.description)),
            ]))
        }
        let probe: JSONValue = server.probe.latest.map { result in
            .object([
                ("ok", .bool(result.ok)),
                ("broker", .string(result.broker)),
                ("detail", .string(result.detail)),
                ("ageSeconds", .double(Double(DispatchTime.now().uptimeNanoseconds &- result.atNanos) / 1e9)),
            ])
        } ?? .null
        return .object([
            ("activeCluster", .string(config.activeCluster)),
            ("configGeneration", .int(Int64(server.configGeneration))),
            ("ready", .bool(readiness(server).0)),
            ("connections", .object([
                ("active", .int(Int64(counts.bootstrap + counts.broker))),
                ("bootstrap", .int(Int64(counts.bootstrap))),
                ("broker", .int(Int64(counts.broker))),
                ("total", .int(Int64(context.sessions.totalAccepted))),
            ])),
            ("clusters", .array(config.clusters.map { cluster in
                .object([
                    ("name", .string(cluster.name)),
                    ("bootstrapServers", .array(cluster.bootstrapServers.map { .string($0.description) })),
                    ("active", .bool(cluster.name == config.activeCluster)),
                ])
            })),
            ("probe", probe),
            ("listeners", .array(listeners)),
        ])
    }
}
