import COpenSSL
import XCTest
@testable import ProxyTLS
import TLSSettings

/// Two engines pumping bytes into each other: no sockets.
final class TLSEngineTests: XCTestCase {
    let certs = TestCertificates.shared

    func clientConfig(caFile: String? = nil, cert: String? = nil, serverName: String? = "localhost",
                      minVersion: TLSVersion = .v1_2, insecure: Bool = false) -> TLSConfiguration {
        .client(TLSClientConfiguration(caFile: caFile ?? certs.path("ca.crt"), certFile: cert.map { certs.path("\($0).crt") },
                                       keyFile: cert.map { certs.path("\($0).key") }, serverName: serverName,
                                       insecureSkipVerify: insecure, minVersion: minVersion))
    }

    func serverConfig(_ name: String = "server", clientCA: String? = nil, minVersion: TLSVersion = .v1_2) -> TLSConfiguration {
        .server(TLSServerConfiguration(certFile: certs.path("\(name).crt"), keyFile: certs.path("\(name).key"),
                                       clientCAFile: clientCA.map { certs.path($0) }, minVersion: minVersion))
    }

    struct Outcome {
        var client: TLSEngine
        var server: TLSEngine
        var clientError: TLSError?
        var serverError: TLSError?
        var ok: Bool { clientError == nil && serverError == nil && client.isHandshakeComplete && server.isHandshakeComplete }
    }

    /// Runs the handshake; each side keeps going until it fails or completes.
    func handshake(_ clientConfig: TLSConfiguration, _ serverConfig: TLSConfiguration,
                   dialled: String? = nil, tweakServer: ((TLSContext) -> Void)? = nil) throws -> Outcome {
        let serverContext = try TLSContext(serverConfig)
        tweakServer?(serverContext)
        var outcome = Outcome(client: try TLSContext(clientConfig).makeEngine(serverName: dialled),
                              server: try serverContext.makeEngine())
        for _ in 0..<20 {
            if outcome.clientError == nil {
                do { _ = try outcome.client.handshake() } catch { outcome.clientError = error }
            }
            outcome.server.feed(outcome.client.drainCiphertext())
            if outcome.serverError == nil {
                do { _ = try outcome.server.handshake() } catch { outcome.serverError = error }
            }
            outcome.client.feed(outcome.server.drainCiphertext())
            if outcome.clientError != nil || outcome.serverError != nil {
                // Let the other side read the alert.
                // In TLS 1.3 the client finishes first and hears the server's verdict on its first read.
                if outcome.clientError == nil {
                    var buffer = [UInt8](repeating: 0, count: 256)
                    do { _ = try buffer.withUnsafeMutableBytes { try outcome.client.readPlaintext(into: $0) } } catch {
                        outcome.clientError = error as? TLSError
                    }
                }
                if outcome.serverError == nil {
                    outcome.server.feed(outcome.client.drainCiphertext())
                    do { _ = try outcome.server.handshake() } catch { outcome.serverError = error }
                }
                break
            }
            if outcome.client.isHandshakeComplete && outcome.server.isHandshakeComplete { break }
        }
        return outcome
    }

    func transfer(_ bytes: [UInt8], from sender: TLSEngine, to receiver: TLSEngine) throws -> [UInt8] {
        try sender.writePlaintext(bytes)
        receiver.feed(sender.drainCiphertext())
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = try buffer.withUnsafeMutableBytes { try receiver.readPlaintext(into: $0) }
            guard case .bytes(let n) = result else { break }
            received += buffer[..<n]
        }
        // Post-handshake messages (TLS 1.3 tickets) may flow back.
        sender.feed(receiver.drainCiphertext())
        return received
    }

    func testHandshakeAndDataBothWays() throws {
        let outcome = try handshake(clientConfig(), serverConfig())
        XCTAssertTrue(outcome.ok, "\(String(describing: outcome.clientError)) \(String(describing: outcome.serverError))")
        XCTAssertEqual(outcome.client.protocolVersion, "TLSv1.3")
        XCTAssertEqual(outcome.client.peerCertificateSubject, "CN=localhost")
        let request = Array(0..<200_000).map { UInt8($0 & 0xff) }
        XCTAssertEqual(try transfer(request, from: outcome.client, to: outcome.server), request)
        XCTAssertEqual(try transfer(Array("response".utf8), from: outcome.server, to: outcome.client), Array("response".utf8))
        // Clean shutdown: the peer reads .closed.
        outcome.client.shutdown()
        outcome.server.feed(outcome.client.drainCiphertext())
        var buffer = [UInt8](repeating: 0, count: 64)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try outcome.server.readPlaintext(into: $0) }, .closed)
    }

    func testServerNameDefaultsToHostDialledAndIPSANs() throws {
        XCTAssertTrue(try handshake(clientConfig(serverName: nil), serverConfig(), dialled: "127.0.0.1").ok)
        XCTAssertTrue(try handshake(clientConfig(serverName: nil), serverConfig(), dialled: "localhost").ok)
        let mismatch = try handshake(clientConfig(serverName: nil), serverConfig(), dialled: "127.0.0.2")
        XCTAssertEqual(mismatch.clientError?.code, .hostnameMismatch)
    }

    func testMutualTLS() throws {
        let outcome = try handshake(clientConfig(cert: "client"), serverConfig(clientCA: "ca.crt"))
        XCTAssertTrue(outcome.ok, "\(String(describing: outcome.clientError)) \(String(describing: outcome.serverError))")
        XCTAssertEqual(outcome.server.peerCertificateSubject, "CN=proxy-client")
        XCTAssertEqual(try transfer([1, 2, 3], from: outcome.client, to: outcome.server), [1, 2, 3])
    }

    func testMutualTLSWithoutClientCertificate() throws {
        let outcome = try handshake(clientConfig(), serverConfig(clientCA: "ca.crt"))
        XCTAssertEqual(outcome.serverError?.code, .peerCertificateRequired, "\(String(describing: outcome.serverError))")
        XCTAssertEqual(outcome.clientError?.code, .handshakeFailure, "\(String(describing: outcome.clientError))")
        XCTAssertTrue(outcome.clientError?.message.contains("certificate required") ?? false, "\(String(describing: outcome.clientError))")
        XCTAssertTrue(outcome.clientError?.message.contains("set tls.certFile") ?? false)
    }

    func testMutualTLSWithClientCertificateFromAnotherCA() throws {
        let outcome = try handshake(clientConfig(cert: "foreign-client"), serverConfig(clientCA: "ca.crt"))
        XCTAssertEqual(outcome.serverError?.code, .unknownCA, "\(String(describing: outcome.serverError))")
        XCTAssertTrue(outcome.serverError?.message.contains("CN=foreign-client") ?? false)
        XCTAssertEqual(outcome.clientError?.code, .handshakeFailure)
        XCTAssertTrue(outcome.clientError?.message.contains("unknown CA") ?? false, "\(String(describing: outcome.clientError))")
    }

    func testUnknownCA() throws {
        let outcome = try handshake(clientConfig(), serverConfig("foreign"))
        let error = try XCTUnwrap(outcome.clientError)
        XCTAssertEqual(error.code, .unknownCA)
        XCTAssertEqual(error.reason, "tls_unknown_ca")
        XCTAssertTrue(error.message.hasPrefix("unknown CA: the broker's certificate CN=localhost, issued by CN=Some Other CA"), error.message)
        XCTAssertTrue(error.message.contains(certs.path("ca.crt")), error.message)
        XCTAssertEqual(outcome.serverError?.code, .handshakeFailure)
        XCTAssertTrue(outcome.serverError?.message.contains("unknown CA") ?? false, "\(String(describing: outcome.serverError))")
    }

    func testHostnameMismatch() throws {
        let outcome = try handshake(clientConfig(serverName: "kafka-a.example.com"), serverConfig())
        let error = try XCTUnwrap(outcome.clientError)
        XCTAssertEqual(error.code, .hostnameMismatch)
        XCTAssertTrue(error.message.contains("'kafka-a.example.com'"), error.message)
        XCTAssertTrue(error.message.contains("DNS:localhost"), error.message)
        XCTAssertTrue(error.message.contains("IP Address:127.0.0.1"), error.message)
    }

    func testExpiredCertificate() throws {
        let outcome = try handshake(clientConfig(), serverConfig("expired"))
        let error = try XCTUnwrap(outcome.clientError)
        XCTAssertEqual(error.code, .certificateExpired)
        XCTAssertTrue(error.message.hasPrefix("the broker's certificate CN=expired.localhost expired at "), error.message)
        XCTAssertTrue(error.message.hasSuffix(" GMT"), error.message)
    }

    func testInsecureSkipVerifyAcceptsAnything() throws {
        XCTAssertTrue(try handshake(clientConfig(serverName: "wrong.example", insecure: true), serverConfig("expired")).ok)
        XCTAssertTrue(try handshake(clientConfig(insecure: true), serverConfig("foreign")).ok)
    }

    func testPlainTCPBrokerBehindTLSConfig() throws {
        let client = try TLSContext(clientConfig()).makeEngine()
        _ = try client.handshake()
        let hello = client.drainCiphertext()
        XCTAssertTrue(looksLikeTLSClientHello(hello))
        // A Kafka broker answering with a Kafka frame (it would rather close; both are covered).
        client.feed([0, 0, 0, 10, 0, 0, 0, 1, 0, 35, 0, 0, 0, 0])
        XCTAssertThrowsError(try client.handshake()) { error in
            let error = error as! TLSError
            XCTAssertEqual(error.code, .notTLS)
            XCTAssertTrue(error.message.contains("wrong version number"), error.message)
            XCTAssertTrue(error.message.contains("plain-TCP"), error.message)
        }
        let other = try TLSContext(clientConfig()).makeEngine()
        _ = try other.handshake()
        XCTAssertEqual(other.transportClosed()?.code, .closedDuringHandshake)
        XCTAssertTrue(other.transportClosed()?.message.contains("plain-TCP") ?? false)
    }

    func testPlainClientOnTLSListener() throws {
        let server = try TLSContext(serverConfig()).makeEngine()
        server.feed([0, 0, 0, 20, 0, 18, 0, 3, 0, 0, 0, 1, 0, 4, 0x72, 0x64, 0x6b, 0x61, 0, 0, 0, 0, 0, 0])
        XCTAssertThrowsError(try server.handshake()) { error in
            XCTAssertEqual((error as! TLSError).code, .notTLS)
            XCTAssertTrue((error as! TLSError).message.contains("security.protocol"), "\(error)")
        }
    }

    func testLooksLikeClientHello() {
        XCTAssertTrue(looksLikeTLSClientHello([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]))
        XCTAssertTrue(looksLikeTLSClientHello([0x16, 0x03]))
        XCTAssertFalse(looksLikeTLSClientHello([0x00, 0x00, 0x00, 0x14, 0x00, 0x12]))
        XCTAssertFalse(looksLikeTLSClientHello([0x16, 0x03, 0x01, 0x02, 0x00, 0x02]))
        XCTAssertFalse(looksLikeTLSClientHello([UInt8]()))
    }

    func testMinimumVersion() throws {
        let capServerAt12: (TLSContext) -> Void = { context in
            _ = SSL_CTX_ctrl(context.ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        }
        let tls12 = try handshake(clientConfig(), serverConfig(), tweakServer: capServerAt12)
        XCTAssertTrue(tls12.ok)
        XCTAssertEqual(tls12.client.protocolVersion, "TLSv1.2")
        let refused = try handshake(clientConfig(minVersion: .v1_3), serverConfig(), tweakServer: capServerAt12)
        XCTAssertFalse(refused.ok)
        XCTAssertEqual(refused.clientError?.code, .handshakeFailure)
        XCTAssertTrue(refused.clientError?.message.contains("protocol version") ?? false, "\(String(describing: refused.clientError))")
        XCTAssertTrue(try handshake(clientConfig(minVersion: .v1_3), serverConfig(minVersion: .v1_3)).ok)
    }

    func testEncryptedKeyWithPasswordFile() throws {
        var config = TLSClientConfiguration(caFile: certs.path("ca.crt"), certFile: certs.path("client.crt"),
                                            keyFile: certs.path("client-enc.key"), serverName: "localhost")
        XCTAssertThrowsError(try TLSContext(.client(config))) { error in
            XCTAssertEqual((error as! TLSError).code, .material)
            XCTAssertTrue("\(error)".contains("set keyPasswordFile"), "\(error)")
        }
        config.keyPasswordFile = certs.path("key-password")
        let outcome = try handshake(.client(config), serverConfig(clientCA: "ca.crt"))
        XCTAssertTrue(outcome.ok)
        XCTAssertEqual(outcome.server.peerCertificateSubject, "CN=proxy-client")
    }

    func testMaterialErrors() throws {
        XCTAssertThrowsError(try TLSContext(.client(TLSClientConfiguration(caFile: "/nonexistent/ca.crt")))) { error in
            XCTAssertEqual("\(error)", "caFile /nonexistent/ca.crt: No such file or directory")
        }
        XCTAssertThrowsError(try TLSContext(.server(TLSServerConfiguration(certFile: certs.path("server.crt"),
                                                                          keyFile: certs.path("client.key"))))) { error in
            XCTAssertTrue("\(error)".contains("does not match the certificate"), "\(error)")
        }
        XCTAssertThrowsError(try TLSContext(.client(TLSClientConfiguration(certFile: certs.path("client.crt"))))) { error in
            XCTAssertEqual("\(error)", "certFile and keyFile must be given together")
        }
        XCTAssertThrowsError(try TLSContext(.server(TLSServerConfiguration(certFile: certs.path("ca.key"),
                                                                          keyFile: certs.path("server.key"))))) { error in
            XCTAssertTrue("\(error)".hasPrefix("certFile \(certs.path("ca.key")) is not a PEM certificate"), "\(error)")
        }
    }
}
