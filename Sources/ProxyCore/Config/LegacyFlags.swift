import SASLSettings

/// The command-line flags of grepplabs/kafka-proxy's `server` command, so an existing sidecar can
/// swap binaries without rewriting its arguments, plus `--config FILE` so it can move to a config
/// file (and hot reload) one flag at a time.
///
/// Two pure steps: `parse` turns arguments into `LegacyFlags` (syntax: pflag style `--name value`,
/// `--name=value`, booleans `--name` / `--name=false`); `config(base:)` maps them onto a
/// `ProxyConfig`, on top of the `--config` file when there is one. Whatever cannot be honoured is
/// refused with the reason, never silently dropped. docs/kafka-proxy-compatibility.md has the table.
public struct LegacyFlags: Equatable, Sendable {
    /// `remotehost:port,localhost:port[,advertisedhost:port]`.
    public struct Mapping: Equatable, Sendable {
        public var remote: ProxyConfig.HostPort
        public var local: ProxyConfig.HostPort
        public var advertised: ProxyConfig.HostPort?
        public var text: String

        public init(remote: ProxyConfig.HostPort, local: ProxyConfig.HostPort, advertised: ProxyConfig.HostPort? = nil,
                    text: String) {
            self.remote = remote
            self.local = local
            self.advertised = advertised
            self.text = text
        }
    }

    /// The name of the one cluster built from flags when there is no `--config` file.
    public static let defaultClusterName = "default"
    /// grepplabs' default `--http-listen-address` (all interfaces, so kubelet probes reach it).
    public static let defaultAdminListen = ProxyConfig.HostPort(host: "0.0.0.0", port: 9080)
    /// Broker listener ports taken from `--dynamic-sequential-min-port` when no maximum is given.
    public static let defaultSequentialPorts = 64
    /// grepplabs reads the SASL password from this variable when `--sasl-password` is absent.
    public static let saslPasswordVariable = "SASL_PASSWORD"

    // kafka-proxy-swift's own options.
    public var configPath: String?
    public var printConfig = false
    public var help = false
    public var shutdownTimeout: Int?

    // grepplabs flags.
    public var mappings: [Mapping] = []
    public var dynamicListenersDisable = false
    public var dynamicSequentialMinPort: UInt16?
    public var dynamicSequentialMaxPorts: UInt16?
    public var tlsEnable: Bool?
    public var tlsCAChainCertFile: String?
    public var tlsClientCertFile: String?
    public var tlsClientKeyFile: String?
    public var tlsInsecureSkipVerify: Bool?
    public var tlsSystemCertPool: Bool?
    public var saslEnable: Bool?
    public var saslUsername: String?
    public var saslPassword: String?
    public var saslMethod: String?
    /// Taken from the environment by `parse` (`SASL_PASSWORD`); used only when nothing else sets a password.
    public var saslPasswordFromEnvironment: String?
    public var httpListenAddress: ProxyConfig.HostPort?
    public var httpMetricsPath: String?
    public var httpHealthPath: String?
    public var forbiddenApiKeys: [Int] = []
    public var logFormat: ProxyConfig.LogFormat?
    public var logLevel: ProxyConfig.LogLevel?

    public init() {}

    /// True when the arguments carry nothing but `--config` (and the proxy's own options).
    public var onlyConfigFile: Bool {
        var bare = LegacyFlags()
        bare.configPath = configPath
        bare.printConfig = printConfig
        bare.help = help
        bare.shutdownTimeout = shutdownTimeout
        bare.saslPasswordFromEnvironment = saslPasswordFromEnvironment
        return self == bare
    }
}

extension ConfigError.Code {
    public static let unknownFlag = ConfigError.Code(rawValue: "unknown_flag")
    public static let unsupportedFlag = ConfigError.Code(rawValue: "unsupported_flag")
}

// MARK: - parsing

extension LegacyFlags {
    /// Name used as the "file" in rendered flag errors: `kafka-proxy server: error: ...`.
    public static let errorSource = "kafka-proxy server"

    private enum Kind { case bool, value }

    private static let known: [String: Kind] = [
        "config": .value, "print-config": .bool, "help": .bool, "shutdown-timeout": .value,
        "bootstrap-server-mapping": .value, "dynamic-listeners-disable": .bool,
        "dynamic-sequential-min-port": .value, "dynamic-sequential-max-ports": .value,
        "tls-enable": .bool, "tls-ca-chain-cert-file": .value, "tls-client-cert-file": .value,
        "tls-client-key-file": .value, "tls-insecure-skip-verify": .bool, "tls-system-cert-pool": .bool,
        "tls-refresh": .value,
        "sasl-enable": .bool, "sasl-username": .value, "sasl-password": .value, "sasl-method": .value,
        "http-listen-address": .value, "http-metrics-path": .value, "http-health-path": .value,
        "forbidden-api-keys": .value, "log-format": .value, "log-level": .value,
    ]

    /// Parses `arguments` (everything after `server`). `environment` supplies `SASL_PASSWORD`.
    public static func parse(_ arguments: [String], environment: [String: String] = [:]) throws(ConfigErrors) -> LegacyFlags {
        var flags = LegacyFlags()
        var errors: [ConfigError] = []
        func fail(_ code: ConfigError.Code, _ flag: String, _ message: String) {
            errors.append(ConfigError(code: code, path: flag, message: message))
        }
        func fail(_ flag: String, _ message: String) {
            fail(.invalidValue, flag, message)
        }

        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "-h" { flags.help = true; continue }
            if argument == "-c" {
                if index < arguments.count { flags.configPath = arguments[index]; index += 1 } else {
                    fail("--config", "-c needs a value (the config file)")
                }
                continue
            }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                fail("", "unexpected argument '\(argument)': flags are written --name value or --name=value")
                continue
            }
            let body = argument.dropFirst(2)
            let name: String
            var inlineValue: String?
            if let equals = body.firstIndex(of: "=") {
                name = String(body[..<equals])
                inlineValue = String(body[body.index(after: equals)...])
            } else {
                name = String(body)
            }
            let flag = "--" + name

            guard let kind = known[name] else {
                // Skip a separate value so one unknown flag gives one error, not two.
                if inlineValue == nil, index < arguments.count, !arguments[index].hasPrefix("-"),
                   !booleanGrepplabsFlags.contains(name) {
                    index += 1
                }
                if let reason = unsupportedReason(name) {
                    fail(.unsupportedFlag, flag, "\(flag) is not supported: \(reason)")
                } else {
                    fail(.unknownFlag, flag,
                         "unknown flag \(flag)\(Suggestions.closest(to: name, among: known.keys.sorted()).map { " (did you mean '--\($0)'?)" } ?? ""); kafka-proxy server understands the grepplabs/kafka-proxy flags listed in docs/kafka-proxy-compatibility.md")
                }
                continue
            }

            var value: String
            switch kind {
            case .bool:
                guard let text = inlineValue else {
                    value = "true"
                    break
                }
                value = text
            case .value:
                if let inlineValue {
                    value = inlineValue
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                } else {
                    fail(flag, "\(flag) needs a value")
                    continue
                }
            }

            func bool() -> Bool? {
                switch value.lowercased() {
                case "true", "1", "t": return true
                case "false", "0", "f": return false
                default:
                    fail(flag, "\(flag) takes true or false, got '\(value)'")
                    return nil
                }
            }
            func nonEmpty() -> String? {
                if value.isEmpty { fail(flag, "\(flag) must not be empty"); return nil }
                return value
            }
            func port(allowZero: Bool) -> UInt16?? {
                guard let number = Int(value), (allowZero ? 0 : 1)...65535 ~= number else {
                    fail(flag, "\(flag) must be a port number between \(allowZero ? 0 : 1) and 65535, got '\(value)'")
                    return nil
                }
                return .some(number == 0 ? nil : UInt16(number))
            }

            switch name {
            case "config": flags.configPath = nonEmpty()
            case "print-config": if let b = bool() { flags.printConfig = b }
            case "help": if let b = bool() { flags.help = b }
            case "shutdown-timeout":
                if let seconds = Int(value), seconds >= 0 { flags.shutdownTimeout = seconds } else {
                    fail(flag, "\(flag) must be a number of seconds, got '\(value)'")
                }
            case "bootstrap-server-mapping":
                switch parseMapping(value) {
                case .success(let mapping): flags.mappings.append(mapping)
                case .failure(let error): fail(flag, "\(flag) '\(value)': \(error.message)")
                }
            case "dynamic-listeners-disable": if let b = bool() { flags.dynamicListenersDisable = b }
            case "dynamic-sequential-min-port": if let p = port(allowZero: true) { flags.dynamicSequentialMinPort = p }
            case "dynamic-sequential-max-ports": if let p = port(allowZero: true) { flags.dynamicSequentialMaxPorts = p }
            case "tls-enable": flags.tlsEnable = bool()
            case "tls-ca-chain-cert-file": flags.tlsCAChainCertFile = nonEmpty()
            case "tls-client-cert-file": flags.tlsClientCertFile = nonEmpty()
            case "tls-client-key-file": flags.tlsClientKeyFile = nonEmpty()
            case "tls-insecure-skip-verify": flags.tlsInsecureSkipVerify = bool()
            case "tls-system-cert-pool": flags.tlsSystemCertPool = bool()
            case "tls-refresh": break // certificate files are always polled (every 2 s)
            case "sasl-enable": flags.saslEnable = bool()
            case "sasl-username": flags.saslUsername = nonEmpty()
            case "sasl-password": flags.saslPassword = nonEmpty()
            case "sasl-method": flags.saslMethod = nonEmpty()
            case "http-listen-address":
                switch parseAddress(value) {
                case .success(let address): flags.httpListenAddress = address
                case .failure(let error): fail(flag, "\(flag) '\(value)': \(error.message)")
                }
            case "http-metrics-path": flags.httpMetricsPath = value
            case "http-health-path": flags.httpHealthPath = value
            case "forbidden-api-keys":
                for part in value.split(separator: ",", omittingEmptySubsequences: true) {
                    let text = part.filter { $0 != " " }
                    if let key = Int(text), key >= 0 { flags.forbiddenApiKeys.append(key) } else {
                        fail(flag, "\(flag) takes API keys (numbers) separated by commas, got '\(part)'")
                    }
                }
            case "log-format":
                switch value.lowercased() {
                case "text": flags.logFormat = .text
                case "json": flags.logFormat = .json
                default: fail(flag, "\(flag) must be text or json, got '\(value)'")
                }
            case "log-level":
                switch value.lowercased() {
                case "trace": flags.logLevel = .trace
                case "debug": flags.logLevel = .debug
                case "info": flags.logLevel = .info
                case "warn", "warning": flags.logLevel = .warning
                // The proxy has no levels above error; fatal and panic keep only errors, as in grepplabs.
                case "error", "fatal", "panic": flags.logLevel = .error
                default: fail(flag, "\(flag) must be one of trace, debug, info, warning, error, fatal, panic; got '\(value)'")
                }
            default:
                preconditionFailure("flag \(name) is in the table but not handled")
            }
        }
        if let password = environment[saslPasswordVariable], !password.isEmpty {
            flags.saslPasswordFromEnvironment = password
        }
        guard errors.isEmpty else { throw ConfigErrors(errors, source: nil, fileName: errorSource) }
        return flags
    }

    /// `host:port`, `[v6]:port`, or `:port` (all interfaces, as Go's listeners read it).
    static func parseAddress(_ text: String) -> Result<ProxyConfig.HostPort, FlagSyntaxError> {
        let spelled = text.hasPrefix(":") ? "0.0.0.0" + text : text
        do {
            return .success(try ProxyConfig.HostPort(parsing: spelled))
        } catch {
            return .failure(FlagSyntaxError("not a valid host:port: \(error.message)"))
        }
    }

    static func parseMapping(_ text: String) -> Result<Mapping, FlagSyntaxError> {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0).trimmingSpaces()
        }
        guard parts.count == 2 || parts.count == 3 else {
            return .failure(FlagSyntaxError("expected 'remotehost:remoteport,localhost:localport[,advertisedhost:advertisedport]'"))
        }
        let names = ["remote", "local", "advertised"]
        var addresses: [ProxyConfig.HostPort] = []
        for (index, part) in parts.enumerated() {
            let address: ProxyConfig.HostPort
            switch index == 0 ? remote(part) : parseAddress(part) {
            case .success(let value): address = value
            case .failure(let error): return .failure(FlagSyntaxError("the \(names[index]) address '\(part)' is \(error.message)"))
            }
            addresses.append(address)
        }
        return .success(Mapping(remote: addresses[0], local: addresses[1],
                                advertised: addresses.count == 3 ? addresses[2] : nil, text: text))
    }

    private static func remote(_ text: String) -> Result<ProxyConfig.HostPort, FlagSyntaxError> {
        do {
            return .success(try ProxyConfig.HostPort(parsing: text))
        } catch {
            return .failure(FlagSyntaxError("not a valid host:port: \(error.message)"))
        }
    }

    // MARK: grepplabs flags that are refused, with the reason

    private static let booleanGrepplabsFlags: Set<String> = [
        "deterministic-listeners", "proxy-listener-tls-enable", "proxy-listener-keep-alive", "auth-local-enable",
        "auth-gateway-client-enable", "auth-gateway-server-enable", "producer-acks-0-disabled",
        "tls-same-client-cert-enable", "sasl-aws-identity-lookup", "sasl-plugin-enable", "gssapi-disable-pa-fx-fast",
        "http-disable", "debug-enable", "kafka-keep-alive",
    ]

    private static let grepplabsFlagNames: Set<String> = booleanGrepplabsFlags.union([
        "default-listener-ip", "dynamic-advertised-listener", "external-server-mapping", "dial-address-mapping",
        "proxy-request-buffer-size", "proxy-response-buffer-size", "proxy-listener-read-buffer-size",
        "proxy-listener-write-buffer-size", "proxy-listener-tls-refresh", "proxy-listener-cert-file",
        "proxy-listener-key-file", "proxy-listener-key-password", "proxy-listener-ca-chain-cert-file",
        "proxy-listener-crl-file", "proxy-listener-cipher-suites", "proxy-listener-curve-preferences",
        "proxy-listener-tls-required-client-subject", "auth-local-command", "auth-local-mechanism",
        "auth-local-param", "auth-local-log-level", "auth-local-timeout", "auth-gateway-client-command",
        "auth-gateway-client-param", "auth-gateway-client-log-level", "auth-gateway-client-method",
        "auth-gateway-client-magic", "auth-gateway-client-timeout", "auth-gateway-server-command",
        "auth-gateway-server-param", "auth-gateway-server-log-level", "auth-gateway-server-method",
        "auth-gateway-server-magic", "auth-gateway-server-timeout", "kafka-client-id", "kafka-max-open-requests",
        "kafka-dial-timeout", "kafka-write-timeout", "kafka-read-timeout", "kafka-connection-read-buffer-size",
        "kafka-connection-write-buffer-size", "tls-client-key-password", "sasl-jaas-config-file",
        "gssapi-auth-type", "gssapi-servicename", "gssapi-username", "gssapi-password", "gssapi-realm",
        "gssapi-krb5", "gssapi-keytab", "gssapi-spn-host-mapping", "sasl-aws-region", "sasl-aws-profile",
        "sasl-aws-role-arn", "sasl-plugin-command", "sasl-plugin-mechanism", "sasl-plugin-param",
        "sasl-plugin-log-level", "sasl-plugin-timeout", "debug-listen-address", "log-level-fieldname",
        "log-time-fieldname", "log-msg-fieldname", "forward-proxy",
    ])

    /// Why a grepplabs flag outside the supported set is refused; nil for a name grepplabs does not have.
    static func unsupportedReason(_ name: String) -> String? {
        guard grepplabsFlagNames.contains(name) else { return nil }
        switch name {
        case "default-listener-ip":
            return "every listener binds listener.host, the local host of --bootstrap-server-mapping"
        case "dynamic-advertised-listener":
            return "broker listeners are advertised with the advertised host of --bootstrap-server-mapping (listener.advertisedHost)"
        case "external-server-mapping", "dial-address-mapping":
            return "the proxy dials the addresses the brokers advertise; address rewriting on the dial side is not implemented"
        case "deterministic-listeners":
            return "broker ports are always deterministic: the n-th broker in node id order takes the n-th port of listener.brokerPorts"
        case "tls-client-key-password":
            return "the password of an encrypted client key is read from a file: clusters.<name>.tls.keyPasswordFile (use --config)"
        case "sasl-jaas-config-file":
            return "give --sasl-username and --sasl-password, or clusters.<name>.sasl.passwordFile in a --config file"
        case "http-disable":
            return "the admin HTTP endpoint (/healthz, /readyz, /status, /metrics) is always on"
        case "debug-enable", "debug-listen-address":
            return "there is no debug endpoint; /status on the admin address shows the proxy's state"
        case "log-level-fieldname", "log-time-fieldname", "log-msg-fieldname":
            return "the JSON log format has fixed field names"
        case "producer-acks-0-disabled", "forward-proxy":
            return "not implemented"
        default:
            break
        }
        if name.hasSuffix("buffer-size") || name.hasSuffix("keep-alive") {
            return "connection tuning is not configurable; the tunables are under limits in a --config file"
        }
        if name.hasPrefix("proxy-listener-tls") || name.hasPrefix("proxy-listener-cert") || name.hasPrefix("proxy-listener-key")
            || name.hasPrefix("proxy-listener-ca") {
            return "TLS towards clients is configured in a --config file: listener.tls (certFile, keyFile, keyPasswordFile, clientCAFile)"
        }
        if name.hasPrefix("proxy-listener-") {
            return "not implemented (ciphers, curves, CRLs and subject checks are not configurable)"
        }
        if name.hasPrefix("auth-") {
            return "client authentication plugins are not implemented (clients connect to the proxy without SASL)"
        }
        if name.hasPrefix("gssapi-") {
            return "GSSAPI is configured in a --config file: clusters.<name>.sasl with mechanism GSSAPI, principal, keytabFile, serviceName"
        }
        if name.hasPrefix("sasl-aws-") {
            return "AWS_MSK_IAM is not implemented"
        }
        if name.hasPrefix("sasl-plugin-") {
            return "SASL plugins are not implemented; OAUTHBEARER reads its token from clusters.<name>.sasl.tokenFile (use --config)"
        }
        if name.hasPrefix("kafka-") || name.hasPrefix("proxy-") {
            return "connection tuning is not configurable; the tunables are under limits in a --config file"
        }
        return "not implemented"
    }
}

// MARK: - mapping onto ProxyConfig

extension LegacyFlags {
    /// The effective config: `base` (the `--config` file, nil without one) with the flags applied.
    /// Cluster flags (remote address, TLS, SASL) apply to the first cluster of the file (the only
    /// cluster without one). The result is validated like a config file.
    public func config(base: ProxyConfig?) throws(ConfigErrors) -> ProxyConfig {
        var errors: [ConfigError] = []
        func fail(_ code: ConfigError.Code, _ flag: String, _ message: String) {
            errors.append(ConfigError(code: code, path: flag, message: message))
        }
        func fail(_ flag: String, _ message: String) {
            fail(.invalidValue, flag, message)
        }

        // Refused outright.
        if !forbiddenApiKeys.isEmpty {
            fail(.unsupportedFlag, "--forbidden-api-keys",
                 "--forbidden-api-keys is not supported: the proxy relays every API a broker offers and has no per-API block list; remove the flag (or block the API with broker ACLs)")
        }
        if let path = httpMetricsPath, path != "/metrics" {
            fail(.unsupportedFlag, "--http-metrics-path",
                 "--http-metrics-path '\(path)' is not supported: metrics are served on the fixed path /metrics")
        }
        if let path = httpHealthPath, path != "/health", path != "/healthz" {
            fail(.unsupportedFlag, "--http-health-path",
                 "--http-health-path '\(path)' is not supported: health is served on the fixed paths /healthz and /health (readiness on /readyz)")
        }
        if mappings.count > 1 {
            let locals = mappings.map(\.local.description).joined(separator: ", ")
            var message = "--bootstrap-server-mapping is given \(mappings.count) times (\(locals)): this proxy listens on one bootstrap address and gives every broker its own port from listener.brokerPorts itself, so it cannot pin a broker to a local address. Keep one mapping (clients bootstrap from its local address and learn the brokers through it) and choose the broker ports with --dynamic-sequential-min-port"
            if dynamicListenersDisable { message += " (broker listeners are always created; --dynamic-listeners-disable only works with one mapping)" }
            fail(.unsupportedFlag, "--bootstrap-server-mapping", message + ".")
        }
        if base == nil && mappings.isEmpty {
            fail(.missingKey, "--bootstrap-server-mapping",
                 "--bootstrap-server-mapping is required (or --config FILE): it names the Kafka bootstrap server and the local address clients connect to")
        }
        if dynamicSequentialMaxPorts != nil && dynamicSequentialMinPort == nil {
            fail("--dynamic-sequential-max-ports", "--dynamic-sequential-max-ports needs --dynamic-sequential-min-port")
        }
        guard errors.isEmpty else { throw ConfigErrors(errors, source: nil, fileName: Self.errorSource) }

        var config = base ?? ProxyConfig(
            listener: ProxyConfig.Listener(),
            admin: ProxyConfig.Admin(listen: Self.defaultAdminListen),
            activeCluster: Self.defaultClusterName,
            clusters: [ProxyConfig.Cluster(name: Self.defaultClusterName,
                                           bootstrapServers: mappings.map(\.remote))]
        )

        // Listener and the cluster's bootstrap server.
        if let mapping = mappings.first {
            let local = mapping.local
            config.listener.host = local.host
            if let advertised = mapping.advertised {
                if advertised.port != local.port {
                    fail(.unsupportedFlag, "--bootstrap-server-mapping",
                         "--bootstrap-server-mapping '\(mapping.text)': the advertised port \(advertised.port) differs from the local port \(local.port); this proxy advertises the ports it listens on, so only the advertised host can differ")
                }
                if HostSyntax.isWildcard(advertised.host) {
                    fail("--bootstrap-server-mapping",
                         "--bootstrap-server-mapping '\(mapping.text)': the advertised host \(advertised.host) is a wildcard; clients need a host they can connect to")
                }
                config.listener.advertisedHost = advertised.host
            } else if HostSyntax.isWildcard(local.host) {
                fail("--bootstrap-server-mapping",
                     "--bootstrap-server-mapping '\(mapping.text)': the local address binds all interfaces (\(local.host)), so clients need to be told a host to connect to: add it as a third element, e.g. '\(mapping.remote),\(local),my-host:\(local.port)'")
            } else {
                config.listener.advertisedHost = local.host
            }
            config.listener.bootstrapPort = local.port
            config.clusters[0].bootstrapServers = [mapping.remote]
        }

        // Broker listener ports.
        if let low = dynamicSequentialMinPort {
            let count = Int(dynamicSequentialMaxPorts ?? UInt16(Self.defaultSequentialPorts))
            let high = UInt16(min(65535, Int(low) + count - 1))
            config.listener.brokerPorts = low...high
            if config.listener.brokerPorts.contains(config.listener.bootstrapPort) {
                fail("--dynamic-sequential-min-port",
                     "--dynamic-sequential-min-port \(low) gives broker ports \(low)-\(high), which contain the bootstrap port \(config.listener.bootstrapPort); pick a range that leaves it out")
            }
        } else if base == nil && config.listener.brokerPorts.contains(config.listener.bootstrapPort) {
            let ports = config.listener.brokerPorts
            fail("--dynamic-sequential-min-port",
                 "the local port \(config.listener.bootstrapPort) of --bootstrap-server-mapping falls inside the default broker ports \(ports.lowerBound)-\(ports.upperBound); set --dynamic-sequential-min-port to a range that leaves it out")
        }

        applyTLS(to: &config.clusters[0], fail)
        applySASL(to: &config.clusters[0], fail)

        if let address = httpListenAddress { config.admin.listen = address }
        if let format = logFormat { config.logging.format = format }
        if let level = logLevel { config.logging.level = level }

        guard errors.isEmpty else { throw ConfigErrors(errors, source: nil, fileName: Self.errorSource) }

        // Everything else a config file is checked for (port clashes, ranges, ...), by the same loader.
        do {
            _ = try ConfigLoader.parse(yaml: ConfigPrinter.yamlRevealingSecrets(config), fileName: Self.errorSource)
        } catch {
            // Messages only: the rendered source lines could show an inline password.
            throw ConfigErrors(error.errors.map {
                ConfigError(code: $0.code, path: $0.path, message: "the flags give an invalid configuration: \($0.message)")
            }, source: nil, fileName: Self.errorSource)
        }
        return config
    }

    private func applyTLS(to cluster: inout ProxyConfig.Cluster, _ fail: (ConfigError.Code, String, String) -> Void) {
        let settings: [(String, Bool)] = [
            ("--tls-ca-chain-cert-file", tlsCAChainCertFile != nil), ("--tls-client-cert-file", tlsClientCertFile != nil),
            ("--tls-client-key-file", tlsClientKeyFile != nil), ("--tls-insecure-skip-verify", tlsInsecureSkipVerify != nil),
            ("--tls-system-cert-pool", tlsSystemCertPool != nil),
        ]
        let given = settings.filter(\.1).map(\.0)
        var tls: ProxyConfig.ClusterTLS
        switch (tlsEnable, cluster.tls) {
        case (true?, let existing):
            tls = existing ?? ProxyConfig.ClusterTLS()
            tls.enabled = true
        case (false?, nil):
            return
        case (false?, var existing?):
            existing.enabled = false
            tls = existing
        case (nil, let existing?):
            tls = existing
        case (nil, nil):
            if !given.isEmpty {
                fail(.invalidValue, given[0], "\(given.joined(separator: ", ")) need --tls-enable (without it grepplabs/kafka-proxy ignores them; add --tls-enable or drop them)")
            }
            return
        }
        if let file = tlsCAChainCertFile { tls.caFile = file }
        if let file = tlsClientCertFile { tls.certFile = file }
        if let file = tlsClientKeyFile { tls.keyFile = file }
        if let skip = tlsInsecureSkipVerify { tls.insecureSkipVerify = skip }
        if tlsSystemCertPool == true && tlsCAChainCertFile != nil {
            fail(.unsupportedFlag, "--tls-system-cert-pool",
                 "--tls-system-cert-pool with --tls-ca-chain-cert-file is not supported: a CA file replaces the system trust store (leave out --tls-ca-chain-cert-file to use the system store)")
        }
        switch (tls.certFile, tls.keyFile) {
        case (.some, nil): fail(.invalidValue, "--tls-client-cert-file", "--tls-client-cert-file needs --tls-client-key-file")
        case (nil, .some): fail(.invalidValue, "--tls-client-key-file", "--tls-client-key-file needs --tls-client-cert-file")
        default: break
        }
        cluster.tls = tls
    }

    private func applySASL(to cluster: inout ProxyConfig.Cluster, _ fail: (ConfigError.Code, String, String) -> Void) {
        let given = [("--sasl-username", saslUsername != nil), ("--sasl-password", saslPassword != nil),
                     ("--sasl-method", saslMethod != nil)].filter(\.1).map(\.0)
        if saslEnable == false {
            cluster.sasl = nil
            return
        }
        if saslEnable == nil && cluster.sasl == nil {
            if !given.isEmpty {
                fail(.invalidValue, given[0], "\(given.joined(separator: ", ")) need --sasl-enable (without it grepplabs/kafka-proxy ignores them; add --sasl-enable or drop them)")
            }
            return
        }
        if saslEnable == nil && given.isEmpty { return }   // the file's SASL settings, untouched

        let existing = cluster.sasl
        var mechanism = existing?.mechanism ?? .plain
        if let method = saslMethod {
            switch method.uppercased() {
            case "PLAIN": mechanism = .plain
            case "SCRAM-SHA-256": mechanism = .scramSha256
            case "SCRAM-SHA-512": mechanism = .scramSha512
            case "GSSAPI":
                fail(.unsupportedFlag, "--sasl-method",
                     "--sasl-method GSSAPI is not supported as a flag: configure it in a --config file (clusters.<name>.sasl: mechanism GSSAPI, principal, keytabFile, serviceName)")
                return
            case "AWS_MSK_IAM":
                fail(.unsupportedFlag, "--sasl-method", "--sasl-method AWS_MSK_IAM is not implemented")
                return
            default:
                fail(.invalidValue, "--sasl-method", "--sasl-method must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got '\(method)'")
                return
            }
        }
        guard [.plain, .scramSha256, .scramSha512].contains(mechanism) else {
            fail(.invalidValue, given.first ?? "--sasl-enable",
                 "the --config file sets SASL mechanism \(mechanism.rawValue) for cluster \(cluster.name); --sasl-username/--sasl-password apply to PLAIN and SCRAM only (give --sasl-method to switch)")
            return
        }
        // From another mechanism in the file: start clean, the file's keys do not apply.
        let keep = existing.map { [.plain, .scramSha256, .scramSha512].contains($0.mechanism) } ?? false
        var sasl = ProxyConfig.SASL(mechanism: mechanism)
        sasl.username = saslUsername ?? (keep ? existing?.username : nil)
        if let password = saslPassword {
            sasl.password = .inline(Secret(password))
        } else if keep, let password = existing?.password {
            sasl.password = password
            sasl.inlinePasswordLine = existing?.inlinePasswordLine
        } else if let password = saslPasswordFromEnvironment {
            sasl.password = .inline(Secret(password))
        }
        if sasl.username == nil {
            fail(.missingKey, "--sasl-username", "--sasl-enable (\(mechanism.rawValue)) needs --sasl-username")
        }
        if sasl.password == nil {
            fail(.missingKey, "--sasl-password",
                 "--sasl-enable (\(mechanism.rawValue)) needs --sasl-password (or the \(Self.saslPasswordVariable) environment variable)")
        }
        cluster.sasl = sasl
    }
}

/// Why one flag value is malformed; phrased to follow "'value' is ".
struct FlagSyntaxError: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}

private extension String {
    func trimmingSpaces() -> String {
        var result = Substring(self)
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return String(result)
    }
}
