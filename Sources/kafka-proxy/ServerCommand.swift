import ArgumentParser
import ProxyCore

/// `kafka-proxy server`: grepplabs/kafka-proxy's command line, mapped onto the config model.
struct Server: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run with grepplabs/kafka-proxy's flags (drop-in for its `server` command).",
        discussion: """
        Accepts --bootstrap-server-mapping, --dynamic-listeners-disable, --dynamic-sequential-min-port, \
        --dynamic-sequential-max-ports, --tls-enable, --tls-ca-chain-cert-file, --tls-client-cert-file, \
        --tls-client-key-file, --tls-insecure-skip-verify, --tls-system-cert-pool, --tls-refresh, --sasl-enable, \
        --sasl-username, --sasl-password (or SASL_PASSWORD), --sasl-method, --http-listen-address, \
        --http-metrics-path, --http-health-path, --log-format and --log-level. Flags that cannot be honoured \
        are refused with the reason; docs/kafka-proxy-compatibility.md has the table.

        --config FILE: the file is the base and the flags override it (cluster flags apply to the file's \
        first cluster); the file is watched and reloaded as with `kafka-proxy --config`.
        --print-config: print the effective config (secrets redacted) and exit.
        --shutdown-timeout SECONDS: drain bound after SIGTERM (default 10).
        """
    )

    @Argument(parsing: .captureForPassthrough, help: "grepplabs/kafka-proxy server flags, --config FILE, --print-config.")
    var arguments: [String] = []

    func run() throws {
        let flags = try EffectiveConfig.parseFlags(arguments, command: "kafka-proxy server")
        if flags.help {
            print(Self.helpMessage())
            return
        }
        let (config, digest) = try EffectiveConfig.resolveWithDigest(flags, command: "kafka-proxy server")
        if flags.printConfig {
            print(EffectiveConfig.printed(config, flags: flags), terminator: "")
            return
        }
        var reload: ProxyLauncher.ReloadSource?
        if let path = flags.configPath {
            // The digest stays the file's: the flags are the same for every pod of a Deployment.
            reload = ProxyLauncher.ReloadSource(path: path) { () throws(ConfigErrors) -> LoadedConfig in
                let file = try ConfigLoader.loadWithDigest(path: path)
                return LoadedConfig(config: try flags.config(base: file.config), digest: file.digest)
            }
        }
        try ProxyLauncher.run(config: config, digest: digest, shutdownTimeout: flags.shutdownTimeout ?? 10, reload: reload)
    }
}

/// `kafka-proxy print-config --config FILE` (also takes the `server` flags).
struct PrintConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print-config",
        abstract: "Print the effective config as YAML, secrets redacted, and exit.",
        discussion: """
        kafka-proxy print-config --config FILE
        kafka-proxy print-config [--config FILE] <kafka-proxy server flags>   (same as server ... --print-config)
        Inline SASL passwords are shown as <redacted>; files are shown by path and never read.
        """
    )

    @Argument(parsing: .captureForPassthrough, help: "--config FILE and/or kafka-proxy server flags.")
    var arguments: [String] = []

    func run() throws {
        let flags = try EffectiveConfig.parseFlags(arguments, command: "kafka-proxy print-config")
        if flags.help {
            print(Self.helpMessage())
            return
        }
        let config = try EffectiveConfig.resolve(flags, command: "kafka-proxy print-config")
        print(EffectiveConfig.printed(config, flags: flags), terminator: "")
    }
}

/// Flags (+ optional file) to a validated config, with errors printed compiler-style.
enum EffectiveConfig {
    static func parseFlags(_ arguments: [String], command: String) throws -> LegacyFlags {
        do {
            return try LegacyFlags.parse(arguments, environment: ProcessIO.environment())
        } catch {
            report(error, command: command)
            throw ExitCode(1)
        }
    }

    static func resolve(_ flags: LegacyFlags, command: String) throws -> ProxyConfig {
        try resolveWithDigest(flags, command: command).config
    }

    /// The effective config, and the digest of its file (nil without `--config`).
    static func resolveWithDigest(_ flags: LegacyFlags, command: String) throws -> (config: ProxyConfig, digest: ConfigDigest?) {
        var base: LoadedConfig?
        if let path = flags.configPath {
            switch ConfigFile.load(path) {
            case .success(let loaded): base = loaded
            case .failure(let errors):
                ConfigFile.report(errors, path: path)
                throw ExitCode(1)
            }
        }
        do {
            return (try flags.config(base: base?.config), base?.digest)
        } catch {
            report(error, command: command)
            throw ExitCode(1)
        }
    }

    static func printed(_ config: ProxyConfig, flags: LegacyFlags) -> String {
        var header = ["Effective kafka-proxy configuration; secrets are redacted."]
        switch (flags.configPath, flags.onlyConfigFile) {
        case (let path?, true): header.append("Source: \(path)")
        case (let path?, false): header.append("Source: \(path), overridden by command-line flags")
        case (nil, _): header.append("Source: command-line flags")
        }
        return ConfigPrinter.yaml(config, header: header)
    }

    private static func report(_ errors: ConfigErrors, command: String) {
        let text = ConfigErrors(errors.errors, source: nil, fileName: command).description
        ProcessIO.writeToStandardError(text)
    }
}
