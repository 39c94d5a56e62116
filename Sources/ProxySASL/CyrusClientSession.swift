import CSASL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SASLSettings

/// libsasl2's process-wide client state: `sasl_client_init` runs once, on first use.
public enum CyrusSASL {
    private static let initResult: Int32 = sasl_client_init(nil)

    /// Initialises the client library (idempotent); throws when libsasl2 cannot start.
    public static func initializeClient() throws(SASLError) {
        let rc = initResult
        guard rc == SASL_OK else {
            throw SASLError(.mechanism, detail: "sasl_client_init failed: \(String(cString: sasl_errstring(rc, nil, nil)))")
        }
    }

    /// The mechanisms the installed client plugins offer (for diagnostics: a missing plugin package).
    public static func availableClientMechanisms() -> [String] {
        guard (try? initializeClient()) != nil, let list = sasl_global_listmech() else { return [] }
        var out = [String]()
        var p = list
        while let s = p.pointee {
            out.append(String(cString: s))
            p += 1
        }
        return out
    }
}

/// The C callbacks' context: strings and the password live here, in malloc'd memory owned for the
/// lifetime of the `sasl_conn_t` (libsasl2 keeps the pointers it is given).
private final class CyrusCallbackContext {
    let authname: UnsafeMutablePointer<CChar>?
    let authorizationId: UnsafeMutablePointer<CChar>
    let secret: UnsafeMutableRawPointer?
    let secretAllocation: Int

    init(authname: String?, password: Secret?) {
        self.authname = authname.map { strdup($0) }
        self.authorizationId = strdup("")
        if let password {
            let dataOffset = MemoryLayout<sasl_secret_t>.offset(of: \sasl_secret_t.data)!
            let size = max(MemoryLayout<sasl_secret_t>.size, dataOffset + password.bytes.count + 1)
            let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<sasl_secret_t>.alignment)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            raw.storeBytes(of: UInt(password.bytes.count), toByteOffset: MemoryLayout<sasl_secret_t>.offset(of: \sasl_secret_t.len)!, as: UInt.self)
            password.bytes.withUnsafeBytes { (raw + dataOffset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            secret = raw
            secretAllocation = size
        } else {
            secret = nil
            secretAllocation = 0
        }
    }

    deinit {
        free(authname)
        free(authorizationId)
        if let secret {
            let bytes = secret.bindMemory(to: UInt8.self, capacity: secretAllocation)
            for i in 0..<secretAllocation { bytes[i] = 0 }
            secret.deallocate()
        }
    }
}

/// SASL_CB_USER (authorization id: empty, so brokers take the authentication id) and SASL_CB_AUTHNAME.
private let cyrusSimpleCallback: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafeMutablePointer<UInt32>?) -> Int32 = { context, id, result, len in
    guard let context, let result else { return SASL_BADPARAM }
    let ctx = Unmanaged<CyrusCallbackContext>.fromOpaque(context).takeUnretainedValue()
    let value: UnsafeMutablePointer<CChar>
    switch id {
    case SASL_CB_USER: value = ctx.authorizationId
    case SASL_CB_AUTHNAME:
        guard let a = ctx.authname else { return SASL_FAIL }
        value = a
    default: return SASL_BADPARAM
    }
    result.pointee = UnsafePointer(value)
    len?.pointee = UInt32(strlen(value))
    return SASL_OK
}

/// SASL_CB_PASS.
private let cyrusSecretCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<UnsafeMutablePointer<sasl_secret_t>?>?) -> Int32 = { _, context, id, psecret in
    guard let context, let psecret, id == SASL_CB_PASS else { return SASL_BADPARAM }
    let ctx = Unmanaged<CyrusCallbackContext>.fromOpaque(context).takeUnretainedValue()
    guard let secret = ctx.secret else { return SASL_FAIL }
    psecret.pointee = secret.assumingMemoryBound(to: sasl_secret_t.self)
    return SASL_OK
}

/// A client exchange through libsasl2 (`sasl_client_new` / `sasl_client_start` / `sasl_client_step`).
/// Not thread-safe; one per upstream login, used from one queue.
public final class CyrusClientSession: SASLMechanismSession {
    public let mechanism: SASLMechanism
    private var conn: OpaquePointer?
    private let context: CyrusCallbackContext
    private let callbacks: UnsafeMutablePointer<sasl_callback_t>
    public private(set) var isComplete = false

    /// `service` and `serverHost` name the server for GSSAPI (`service/serverHost`); the other
    /// mechanisms ignore them. `authname` is the user name (PLAIN/SCRAM) or nil for GSSAPI (the
    /// principal comes from the credential cache / client keytab).
    public init(mechanism: SASLMechanism, service: String, serverHost: String, authname: String?, password: Secret?) throws(SASLError) {
        precondition(mechanism.usesCyrus, "\(mechanism) is not a libsasl2 mechanism")
        self.mechanism = mechanism
        try CyrusSASL.initializeClient()
        context = CyrusCallbackContext(authname: mechanism == .gssapi ? nil : authname, password: password)
        let ctxPointer = Unmanaged.passUnretained(context).toOpaque()
        typealias Proc = @convention(c) () -> Int32
        callbacks = .allocate(capacity: 4)
        var n = 0
        callbacks[n] = sasl_callback_t(id: UInt(SASL_CB_USER), proc: unsafeBitCast(cyrusSimpleCallback, to: Proc.self), context: ctxPointer); n += 1
        if mechanism != .gssapi {
            callbacks[n] = sasl_callback_t(id: UInt(SASL_CB_AUTHNAME), proc: unsafeBitCast(cyrusSimpleCallback, to: Proc.self), context: ctxPointer); n += 1
            callbacks[n] = sasl_callback_t(id: UInt(SASL_CB_PASS), proc: unsafeBitCast(cyrusSecretCallback, to: Proc.self), context: ctxPointer); n += 1
        }
        callbacks[n] = sasl_callback_t(id: UInt(SASL_CB_LIST_END), proc: nil, context: nil)

        var c: OpaquePointer?
        let rc = sasl_client_new(service, serverHost, nil, nil, callbacks, 0, &c)
        guard rc == SASL_OK, let c else {
            callbacks.deallocate()
            throw SASLError(.mechanism, mechanism: mechanism, detail: "sasl_client_new: \(Self.text(rc, nil))")
        }
        conn = c
        // Kafka never negotiates a SASL security layer (confidentiality comes from TLS).
        var props = sasl_security_properties_t(min_ssf: 0, max_ssf: 0, maxbufsize: 0, security_flags: 0,
                                               property_names: nil, property_values: nil)
        _ = sasl_setprop(c, Int32(SASL_SEC_PROPS), &props)
    }

    deinit {
        if conn != nil { sasl_dispose(&conn) }
        callbacks.deallocate()
    }

    static func text(_ rc: Int32, _ conn: OpaquePointer?) -> String {
        let base = String(cString: sasl_errstring(rc, nil, nil))
        if let conn, let d = sasl_errdetail(conn) {
            let detail = String(cString: d)
            if !detail.isEmpty && detail != base { return "\(base) (\(detail))" }
        }
        return base
    }

    private func failure(_ call: String, _ rc: Int32) -> SASLError {
        if rc == SASL_NOMECH {
            let pkg = mechanism.cyrusPluginPackage.map { " (install \($0))" } ?? ""
            return SASLError(.mechanism, mechanism: mechanism,
                             detail: "libsasl2 has no client plugin for \(mechanism.rawValue)\(pkg)")
        }
        if rc == SASL_INTERACT {
            return SASLError(.credentials, mechanism: mechanism, detail: "\(call): libsasl2 asked for a credential that is not configured")
        }
        return SASLError(.mechanism, mechanism: mechanism, detail: "\(call): \(Self.text(rc, conn))")
    }

    public func start() throws(SASLError) -> [UInt8] {
        var out: UnsafePointer<CChar>?
        var outLen: UInt32 = 0
        var chosen: UnsafePointer<CChar>?
        var prompts: UnsafeMutablePointer<sasl_interact_t>?
        let rc = sasl_client_start(conn, mechanism.rawValue, &prompts, &out, &outLen, &chosen)
        guard rc == SASL_OK || rc == SASL_CONTINUE else { throw failure("sasl_client_start", rc) }
        if let chosen, String(cString: chosen) != mechanism.rawValue {
            throw SASLError(.mechanism, mechanism: mechanism, detail: "libsasl2 chose \(String(cString: chosen))")
        }
        isComplete = rc == SASL_OK
        return Self.copy(out, outLen) ?? []
    }

    public func step(_ challenge: [UInt8]) throws(SASLError) -> [UInt8]? {
        if isComplete {
            if challenge.isEmpty { return nil }
            throw SASLError(.protocolViolation, mechanism: mechanism, detail: "server sent \(challenge.count) bytes after the exchange completed")
        }
        var out: UnsafePointer<CChar>?
        var outLen: UInt32 = 0
        var prompts: UnsafeMutablePointer<sasl_interact_t>?
        let rc = challenge.withUnsafeBytes { buf in
            sasl_client_step(conn, buf.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32(buf.count), &prompts, &out, &outLen)
        }
        guard rc == SASL_OK || rc == SASL_CONTINUE else { throw failure("sasl_client_step", rc) }
        isComplete = rc == SASL_OK
        let bytes = Self.copy(out, outLen)
        if isComplete, let bytes, bytes.isEmpty { return nil }
        if !isComplete { return bytes ?? [] }
        return bytes
    }

    static func copy(_ p: UnsafePointer<CChar>?, _ n: UInt32) -> [UInt8]? {
        guard let p else { return nil }
        return p.withMemoryRebound(to: UInt8.self, capacity: Int(n)) { Array(UnsafeBufferPointer(start: $0, count: Int(n))) }
    }
}

/// Kerberos for GSSAPI. libsasl2's GSSAPI plugin (Debian libsasl2-modules-gssapi-mit) uses MIT
/// krb5's default credentials: a ticket cache (`KRB5CCNAME`) or, with MIT krb5 1.11+, a client keytab
/// from which krb5 gets tickets by itself (`KRB5_CLIENT_KTNAME`). Both are process-wide, so the proxy
/// supports one client keytab per process: `prepare` sets `KRB5_CLIENT_KTNAME=FILE:<keytabFile>`
/// when it is unset and refuses a second, different keytab. The keytab should hold only the
/// configured principal (krb5 uses its first entry). `/etc/krb5.conf` (or `KRB5_CONFIG`) must name
/// the realm's KDC. Call it at startup, before the loops run (setenv is not thread-safe).
public enum GSSAPIEnvironment {
    nonisolated(unsafe) private static var lock = pthread_mutex_t()
    nonisolated(unsafe) private static var lockReady = pthread_once_t()

    public static func prepare(keytabFile: String?) throws(SASLError) {
        guard let keytabFile else { return }
        guard access(keytabFile, R_OK) == 0 else {
            throw SASLError(.credentials, mechanism: .gssapi, detail: "keytab \(keytabFile) is not readable: \(String(cString: strerror(errno)))")
        }
        pthread_once(&lockReady) { pthread_mutex_init(&GSSAPIEnvironment.lock, nil) }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let wanted = "FILE:" + keytabFile
        if let current = getenv("KRB5_CLIENT_KTNAME").map({ String(cString: $0) }) {
            if current == wanted || current == keytabFile { return }
            throw SASLError(.credentials, mechanism: .gssapi,
                            detail: "KRB5_CLIENT_KTNAME is \(current); one client keytab per process is supported, not also \(keytabFile)")
        }
        setenv("KRB5_CLIENT_KTNAME", wanted, 1)
    }
}
