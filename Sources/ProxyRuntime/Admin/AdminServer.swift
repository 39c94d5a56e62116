#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import ProxyCore
import Reactor

/// HTTP/1.1 on `admin.listen`: GET /healthz, /readyz, /status, /metrics. One request per
/// connection (`Connection: close`): scrapers and probes open a connection per request anyway.
final class AdminServer: Sendable {
    private let listener: Listener

    init(listen: ProxyConfig.HostPort, server: ProxyServer) throws {
        let addresses = try SocketAddress.resolve(host: listen.host, port: listen.port, passive: true)
        let queue = DispatchQueue(label: "kafka-proxy.admin")
        let group = server.group
        listener = try Listener(address: addresses[0], queue: queue,
            onAccept: { [weak server] fd, _ in
                guard let server else { Glibc.close(fd); return }
                let loop = group.nextLoop()
                let connection = AdminConnection(fd: fd, queue: loop.makeConnectionQueue(label: "kafka-proxy.admin.conn"),
                                                 server: server)
                connection.queue.async { connection.start() }
            },
            onError: { error in server.context.logger.error("admin accept failed: \(error)") })
    }

    func close() { listener.close() }
}

/// One admin HTTP exchange. Confined to `queue`; keeps itself alive until it closes.
private final class AdminConnection: @unchecked Sendable, SocketChannelDelegate {
    let queue: DispatchQueue
    private let channel: SocketChannel
    private let server: ProxyServer
    private let timer: any DispatchSourceTimer
    private var request: [UInt8] = []
    private var responded = false
    private var selfReference: AdminConnection?

    init(fd: Int32, queue: DispatchQueue, server: ProxyServer) {
        self.queue = queue
        self.server = server
        channel = SocketChannel(fd: fd, queue: queue)
        timer = DispatchSource.makeTimerSource(queue: queue)
    }

    func start() {
        selfReference = self
        channel.delegate = self
        timer.setEventHandler { [self] in finish() }
        timer.schedule(deadline: .now() + .seconds(10))
        timer.activate()
        channel.resumeReading()
    }

    private func finish() {
        guard selfReference != nil else { return }
        channel.close()
        timer.cancel()
        timer.setEventHandler(handler: nil)
        selfReference = nil
    }

    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) {
        guard !responded else { return }
        request += bytes
        if let end = headerEnd() {
            channel.pauseReading()
            respond(to: Array(request[..<end]))
        } else if request.count > 16 * 1024 {
            channel.pauseReading()
            send(HTTPResponse(status: 431, body: "request header too large\n"))
        }
    }

    func channelEOF(_ channel: SocketChannel) {
        finish()
    }

    private func headerEnd() -> Int? {
        guard request.count >= 4 else { return nil }
        for i in 0...(request.count - 4)
        where request[i] == 13 && request[i + 1] == 10 && request[i + 2] == 13 && request[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func respond(to header: [UInt8]) {
        let line = String(decoding: header.prefix { $0 != 13 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else {
            send(HTTPResponse(status: 400, body: "bad request\n"))
            return
        }
        let method = String(parts[0])
        let path = String(parts[1].split(separator: "?", maxSplits: 1).first ?? "")
        send(AdminRoutes.handle(method: method, path: path, server: server))
    }

    private func send(_ response: HTTPResponse) {
        responded = true
        if channel.send(response.serialized()) && !channel.hasPendingOutput {
            finish()
        }
    }

    func channelDrained(_ channel: SocketChannel) {
        if responded && !channel.hasPendingOutput { finish() }
    }

    func channelFailed(_ channel: SocketChannel, _ error: ChannelError) {
        finish()
    }
}

struct HTTPResponse {
    var status: Int
    var contentType = "text/plain; charset=utf-8"
    var body: [UInt8]

    init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.init(status: status, contentType: contentType, body: Array(body.utf8))
    }

    func serialized() -> [UInt8] {
        let reason = switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
