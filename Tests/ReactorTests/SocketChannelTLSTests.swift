#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import ProxyTLS
import TLSSettings
@testable import Reactor
import XCTest

/// TLS inside the channel over a socketpair: handshake events, plaintext delivery, failures.
final class SocketChannelTLSTests: XCTestCase {
    private final class Peer: SocketChannelDelegate, @unchecked Sendable {
        var handshakes = 0
        var received: [UInt8] = []
        var eofs = 0
        var failures: [ChannelError] = []
        func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) { received += bytes }
        func channelEOF(_ channel: SocketChannel) { eofs += 1 }
        func channelHandshakeCompleted(_ channel: SocketChannel) { handshakes += 1 }
        func channelFailed(_ channel: SocketChannel, _ error: ChannelError) {
            failures.append(error)
            channel.close()
        }
    }

    /// Two self-signed certificates for localhost, made once per process with the openssl command.
    private static let certificates: String = {
        let directory = NSTemporaryDirectory() + "reactor-tls-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["server", "other"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                 "-nodes", "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).crt",
                                 "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
        }
        return directory
    }()

    override func setUp() {
        // A side that failed closes; the other may still write to it (the binary ignores SIGPIPE too).
        signal(SIGPIPE, SIG_IGN)
    }

    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return (fds[0], fds[1])
    }

    private func waitUntil(_ queue: DispatchQueue, _ what: String, _ condition: @escaping () -> Bool) {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if queue.sync(execute: condition) { return }
            usleep(2000)
        }
        XCTFail("timed out waiting for \(what)")
    }

    private func engines(trusting ca: String) throws -> (client: TLSEngine, server: TLSEngine) {
        let dir = Self.certificates
        let server = try TLSContext(.server(TLSServerConfiguration(certFile: "\(dir)/server.crt", keyFile: "\(dir)/server.key")))
        let client = try TLSContext(.client(TLSClientConfiguration(caFile: "\(dir)/\(ca).crt", serverName: "localhost")))
        return (try client.makeEngine(), try server.makeEngine())
    }

    func testHandshakeOnBothSidesThenPlaintextBufferedInTheEngineIsDelivered() throws {
        let (a, b) = socketPair()
        let (clientEngine, serverEngine) = try engines(trusting: "server")
        let queue = DispatchQueue(label: "test")
        // A buffer much smaller than a TLS record: most of a record stays decrypted in the engine
        // after a read event, with nothing left in the socket to fire another.
        let server = SocketChannel(fd: a, queue: queue, readBufferSize: 1000)
        let client = SocketChannel(fd: b, queue: queue)
        let serverPeer = Peer()
        let clientPeer = Peer()
        let message = (0..<16384).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        queue.sync {
            server.delegate = serverPeer
            client.delegate = clientPeer
            server.startTLS(serverEngine)
            client.startTLS(clientEngine)
            server.resumeReading()
            client.resumeReading()
            // Before the handshake is done: held, then sent.
            XCTAssertTrue(client.send(message))
        }
        waitUntil(queue, "both handshakes") { serverPeer.handshakes == 1 && clientPeer.handshakes == 1 }
        waitUntil(queue, "the whole message") { serverPeer.received.count >= message.count }
        queue.sync {
            XCTAssertEqual(serverPeer.received.count, message.count)
            XCTAssertTrue(serverPeer.received == message, "the plaintext arrives unchanged and in order")
            XCTAssertNotNil(server.tlsSummary)
            XCTAssertEqual(server.tlsStallHint, "")
            XCTAssertTrue(serverPeer.failures.isEmpty && clientPeer.failures.isEmpty)
            // close_notify: the server reads end of stream.
            client.close()
        }
        waitUntil(queue, "EOF") { serverPeer.eofs == 1 }
        queue.sync {
            XCTAssertTrue(serverPeer.failures.isEmpty)
            server.close()
        }
    }

    func testAnUntrustedCertificateFailsWithATLSError() throws {
        let (a, b) = socketPair()
        let (clientEngine, serverEngine) = try engines(trusting: "other")
        let queue = DispatchQueue(label: "test")
        let server = SocketChannel(fd: a, queue: queue)
        let client = SocketChannel(fd: b, queue: queue)
        let serverPeer = Peer()
        let clientPeer = Peer()
        queue.sync {
            server.delegate = serverPeer
            client.delegate = clientPeer
            server.startTLS(serverEngine)
            client.startTLS(clientEngine)
        }
        waitUntil(queue, "the client's failure") { !clientPeer.failures.isEmpty }
        queue.sync {
            guard case .tls(let error) = clientPeer.failures[0] else {
                return XCTFail("expected a TLS error, got \(clientPeer.failures)")
            }
            XCTAssertEqual(clientPeer.failures[0].reason, error.reason)
            XCTAssertTrue(error.reason.hasPrefix("tls_"))
            XCTAssertTrue(clientPeer.failures[0].description.hasPrefix("TLS: "))
            XCTAssertFalse(clientPeer.failures[0].isDisconnect)
            XCTAssertEqual(clientPeer.handshakes, 0)
            server.close()
        }
    }
}
