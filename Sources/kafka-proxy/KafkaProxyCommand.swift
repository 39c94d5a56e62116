import ArgumentParser
import Foundation
import Logging
import Prometheus
import ProxyCore
import ProxyRuntime

@main
struct KafkaProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-proxy",
        abstract: "A Kafka wire-protocol proxy that runs next to Kafka clients.",
        subcommands: [Run.self, Check.self],
        defaultSubcommand: Run.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path of the YAML config file.")
    var config: String
}

/// Reads and validates a config file; prints compiler-style diagnostics on failure.
enum ConfigFile {
    static func load(_ path: String) -> Result<ProxyConfig, ConfigErrors> {
        do {
            return .success(try ConfigLoader.load(path: path))
        } catch {
            return .failure(error)
        }
    }

    /// The loader keeps the source, so the description is the full compiler-style report.
    static func report(_ errors: ConfigErrors, path: String) {
        FileHandle.standardError.write(Data(errors.description.utf8))
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config file and exit.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        switch ConfigFile.load(options.config) {
        case .success(let config):
            print("\(options.config): ok (active cluster \(config.activeCluster), \(config.clusters.count) cluster(s))")
        case .failure(let errors):
            ConfigFile.report(errors, path: options.config)
            throw ExitCode(1)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy (the default).")

    @OptionGroup var options: ConfigOption

    @Option(help: "Seconds to let in-flight requests finish after SIGTERM.")
    var shutdownTimeout: Int = 10

    func run() throws {
        let config: ProxyConfig
        switch ConfigFile.load(options.config) {
        case .success(let loaded): config = loaded
        case .failure(let errors):
            ConfigFile.report(errors, path: options.config)
            throw ExitCode(1)
        }
        let logSettings = LogSettings(config.logging)
        LoggingSystem.bootstrap { label in ReloadableLogHandler(label: label, settings: logSettings) }
        let logger = Logger(label: "kafka-proxy")
        let registry = PrometheusCollectorRegistry()
        // SASL (issue 5): config advisories, libsasl2 and the GSSAPI keytab, before the loops run.
        SASLStartup.prepare(config, logger: logger)
        let server: ProxyServer
        do {
            server = try ProxyServer(config: config, logger: logger, registry: registry,
                                     onLoggingChange: { logSettings.apply($0) })
            try server.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        let path = options.config
        let watcher: ConfigWatcher?
        do {
            watcher = try ConfigWatcher(path: path, logger: logger) { server.reload(path: path, trigger: "file change") }
            watcher?.start()
        } catch {
            logger.error("config changes will only apply on SIGHUP: \(error)")
            watcher = nil
        }
        let signals = SignalHandling(logger: logger)
        signals.onHangup {
            logger.info("received SIGHUP: reloading \(path)")
            server.reload(path: path, trigger: "SIGHUP")
        }
        signals.onTerminate { signal in
            logger.info("received \(signal)")
            watcher?.stop()
            server.shutdown(drainTimeoutSeconds: shutdownTimeout) {
                logger.info("stopped")
                Foundation.exit(0)
            }
        }
        dispatchMain()
    }
}
