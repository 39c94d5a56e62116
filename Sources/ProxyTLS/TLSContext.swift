#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TLSSettings
import COpenSSL
import CProxyShims

/// An `SSL_CTX` built from a configuration: trust store, own certificate and key, verification
/// mode, minimum version. Immutable once built, so any thread may make engines from it; rotation
/// builds a new one (see `TLSMaterialStore`) and connections keep the context they started with.
public final class TLSContext: @unchecked Sendable {
    public let configuration: TLSConfiguration
    /// One line describing the loaded material, for the log ("certificate CN=x, serial 1f, expires ...").
    public let summary: String
    let ctx: OpaquePointer

    public var isClient: Bool {
        if case .client = configuration { return true }
        return false
    }

    public init(_ configuration: TLSConfiguration) throws(TLSError) {
        self.configuration = configuration
        let method = configuration.isClientConfiguration ? TLS_client_method() : TLS_server_method()
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(method) else {
            throw TLSError(.internal, "cannot create a TLS context: \(OpenSSLErrors.drain())")
        }
        CProxyShims_SSL_CTX_apply_defaults(ctx)
        SSL_CTX_set_info_callback(ctx, tlsInfoCallback)
        do throws(TLSError) {
            switch configuration {
            case .client(let c):
                try Self.setMinVersion(ctx, c.minVersion)
                if c.insecureSkipVerify {
                    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
                } else {
                    try Self.loadTrust(ctx, caFile: c.caFile, key: "caFile")
                    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tlsVerifyCallback)
                }
                var summary = "trust: \(c.insecureSkipVerify ? "none (insecureSkipVerify)" : c.caFile ?? "system trust store")"
                switch (c.certFile, c.keyFile) {
                case (let cert?, let key?):
                    summary += "; client " + (try Self.loadIdentity(ctx, certFile: cert, keyFile: key,
                                                                    passwordFile: c.keyPasswordFile))
                case (nil, nil):
                    break
                default:
                    throw TLSError(.material, "certFile and keyFile must be given together")
                }
                self.summary = summary
            case .server(let s):
                try Self.setMinVersion(ctx, s.minVersion)
                var summary = try Self.loadIdentity(ctx, certFile: s.certFile, keyFile: s.keyFile,
                                                    passwordFile: s.keyPasswordFile)
                if let clientCA = s.clientCAFile {
                    try Self.loadTrust(ctx, caFile: clientCA, key: "clientCAFile")
                    if let names = SSL_load_client_CA_file(clientCA) { SSL_CTX_set_client_CA_list(ctx, names) }
                    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, tlsVerifyCallback)
                    summary += "; client certificates required (\(clientCA))"
                } else {
                    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
                }
                self.summary = summary
            }
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
    }

    deinit { SSL_CTX_free(ctx) }

    /// A new engine for one connection. `serverName` (clients only) is the host dialled; the
    /// configuration's `serverName` wins when set.
    public func makeEngine(serverName: String? = nil) throws(TLSError) -> TLSEngine {
        try TLSEngine(context: self, serverName: serverName)
    }

    // MARK: loading

    private static func setMinVersion(_ ctx: OpaquePointer, _ version: TLSVersion) throws(TLSError) {
        let value = version == .v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION
        guard CProxyShims_SSL_CTX_set_min_proto_version(ctx, value) == 1 else {
            throw TLSError(.internal, "cannot set the minimum TLS version \(version.rawValue)")
        }
    }

    private static func loadTrust(_ ctx: OpaquePointer, caFile: String?, key: String) throws(TLSError) {
        ERR_clear_error()
        guard let caFile else {
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
                throw TLSError(.material, "cannot load the system trust store: \(OpenSSLErrors.drain())")
            }
            return
        }
        try checkReadable(caFile, key: key)
        guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
            throw TLSError(.material, "\(key) \(caFile) holds no usable PEM certificate: \(OpenSSLErrors.drain())")
        }
    }

    /// Loads certificate chain and key, checks they match; returns a description of the certificate.
    private static func loadIdentity(_ ctx: OpaquePointer, certFile: String, keyFile: String,
                                     passwordFile: String?) throws(TLSError) -> String {
        try checkReadable(certFile, key: "certFile")
        try checkReadable(keyFile, key: "keyFile")
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(ctx, certFile) == 1 else {
            throw TLSError(.material, "certFile \(certFile) is not a PEM certificate: \(OpenSSLErrors.drain())")
        }
        var password: [CChar]?
        if let passwordFile {
            try checkReadable(passwordFile, key: "keyPasswordFile")
            guard var text = readSmallFile(passwordFile) else {
                throw TLSError(.material, "keyPasswordFile \(passwordFile) cannot be read")
            }
            while let last = text.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { text.removeLast() }
            password = text.map { CChar(bitPattern: $0) } + [0]
        }
        defer {
            if password != nil { for i in password!.indices { password![i] = 0 } }
        }
        guard let bio = BIO_new_file(keyFile, "r") else {
            throw TLSError(.material, "keyFile \(keyFile) cannot be opened: \(OpenSSLErrors.drain())")
        }
        defer { BIO_free(bio) }
        let key: OpaquePointer? = if password != nil {
            password!.withUnsafeMutableBytes { PEM_read_bio_PrivateKey(bio, nil, tlsPasswordCallback, $0.baseAddress) }
        } else {
            PEM_read_bio_PrivateKey(bio, nil, tlsPasswordCallback, nil)
        }
        guard let key else {
            let detail = OpenSSLErrors.drain()
            let hint = passwordFile == nil ? " (if the key is encrypted, set keyPasswordFile)"
                : " (wrong password in \(passwordFile!)?)"
            throw TLSError(.material, "keyFile \(keyFile) is not a usable PEM private key: \(detail)\(hint)")
        }
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError(.material, "keyFile \(keyFile) does not match the certificate in \(certFile): \(OpenSSLErrors.drain())")
        }
        guard let cert = SSL_CTX_get0_certificate(ctx) else { return "certificate from \(certFile)" }
        return "certificate \(X509Text.subject(cert)) (serial \(X509Text.serial(cert)), expires \(X509Text.notAfter(cert))) from \(certFile)"
    }

    private static func checkReadable(_ path: String, key: String) throws(TLSError) {
        if access(path, R_OK) != 0 {
            throw TLSError(.material, "\(key) \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while result.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue } else { return nil } }
            if n == 0 { break }
            result += chunk[..<n]
        }
        return result
    }
}

extension TLSConfiguration {
    var isClientConfiguration: Bool {
        if case .client = self { return true }
        return false
    }
}

/// Never prompts on a terminal (OpenSSL's default would): the password comes from `userdata` or there is none.
private func tlsPasswordCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int32, _ rwflag: Int32,
                                 _ userdata: UnsafeMutableRawPointer?) -> Int32 {
    guard let buffer, let userdata else { return -1 }
    let password = userdata.assumingMemoryBound(to: CChar.self)
    let length = min(Int(strlen(password)), Int(size))
    buffer.update(from: password, count: length)
    return Int32(length)
}

/// Reads OpenSSL's thread-local error queue.
enum OpenSSLErrors {
    /// Every queued error as "reason (lib)", oldest first, and clears the queue.
    static func drain() -> String {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            parts.append(text(code))
        }
        return parts.isEmpty ? "unknown error" : parts.joined(separator: "; ")
    }

    static func text(_ code: UInt) -> String {
        if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Human-readable certificate fields.
enum X509Text {
    static func subject(_ cert: OpaquePointer) -> String { name(X509_get_subject_name(cert)) }
    static func issuer(_ cert: OpaquePointer) -> String { name(X509_get_issuer_name(cert)) }

    static func name(_ name: OpaquePointer?) -> String {
        guard let name else { return "(no name)" }
        var buffer = [CChar](repeating: 0, count: 512)
        X509_NAME_oneline(name, &buffer, Int32(buffer.count))
        var text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // "/C=US/O=x/CN=y" -> "C=US, O=x, CN=y"
        if text.hasPrefix("/") { text.removeFirst() }
        return text.split(separator: "/").joined(separator: ", ")
    }

    static func notAfter(_ cert: OpaquePointer) -> String { time(X509_get0_notAfter(cert)) }
    static func notBefore(_ cert: OpaquePointer) -> String { time(X509_get0_notBefore(cert)) }

    static func time(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time, let bio = BIO_new(BIO_s_mem()) else { return "(unknown time)" }
        defer { BIO_free(bio) }
        ASN1_TIME_print(bio, time)
        return readAll(bio)
    }

    static func serial(_ cert: OpaquePointer) -> String {
        guard let serial = X509_get0_serialNumber(cert), let bn = ASN1_INTEGER_to_BN(serial, nil) else { return "?" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "?" }
        defer { CRYPTO_free(hex, #fileID, #line) }
        return String(cString: hex).lowercased()
    }

    /// DNS and IP subject alternative names, for hostname-mismatch messages.
    static func subjectAltNames(_ cert: OpaquePointer) -> [String] {
        guard let bio = BIO_new(BIO_s_mem()) else { return [] }
        defer { BIO_free(bio) }
        let index = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1)
        guard index >= 0, let ext = X509_get_ext(cert, index) else { return [] }
        guard X509V3_EXT_print(bio, ext, 0, 0) == 1 else { return [] }
        return readAll(bio).split(separator: ",").map { $0.trimmingSpaces() }
    }

    static func readAll(_ bio: OpaquePointer) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
            if n <= 0 { break }
            bytes += chunk[..<Int(n)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var result = self
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return String(result)
    }
}
