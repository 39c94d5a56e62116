#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Dispatch
import Logging
import Prometheus
import ProxyCore
import ProxyRuntime
import Reactor

/// Starts the proxy with a validated config and serves until SIGTERM/SIGINT. Shared by `run`
/// (`kafka-proxy --config`) and `server` (grepplabs flags), so both behave the same.
enum ProxyLauncher {
    /// Where reloads come from: the file watched (inotify) and re-read on SIGHUP, and how to turn
    /// it into a config (the file alone, or the file with flags applied).
    struct ReloadSource: Sendable {
        var path: String
        var load: @Sendable () throws(ConfigErrors) -> LoadedConfig

        init(path: String, load: @escaping @Sendable () throws(ConfigErrors) -> LoadedConfig) {
            self.path = path
            self.load = load
        }
    }

    /// `reload` nil: no config file, nothing to watch; SIGHUP only logs that.
    /// `digest`: of the file the config came from; nil without a file.
    static func run(config: ProxyConfig, digest: ConfigDigest?, shutdownTimeout: Int, reload: ReloadSource?) throws {
        MallocArenas.limit()
        let logSettings = LogSettings(config.logging)
        LoggingSystem.bootstrap { label in ReloadableLogHandler(label: label, settings: logSettings) }
        let logger = Logger(label: "kafka-proxy")
        let registry = PrometheusCollectorRegistry()
        // SASL (issue 5): config advisories, libsasl2 and the GSSAPI keytab, before the loops run.
        SASLStartup.prepare(config, logger: logger)
        logger.info("\(BuildInfo.line)")
        let server: ProxyServer
        do {
            server = try ProxyServer(config: config, digest: digest, logger: logger, registry: registry,
                                     onLoggingChange: { logSettings.apply($0) })
            try server.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        let watcher: ConfigWatcher?
        if let reload {
            do {
                watcher = try ConfigWatcher(path: reload.path, logger: logger) {
                    server.reload(trigger: "file change", load: reload.load)
                }
                watcher?.start()
            } catch {
                logger.error("config changes will only apply on SIGHUP: \(error)")
                watcher = nil
            }
        } else {
            watcher = nil
        }
        let signals = SignalHandling(logger: logger)
        signals.onHangup {
            guard let reload else {
                logger.info("received SIGHUP: no --config file, nothing to reload")
                return
            }
            logger.info("received SIGHUP: reloading \(reload.path)")
            server.reload(trigger: "SIGHUP", load: reload.load)
        }
        signals.onTerminate { signal in
            logger.info("received \(signal)")
            watcher?.stop()
            server.shutdown(drainTimeoutSeconds: shutdownTimeout) {
                logger.info("stopped")
                exit(0)
            }
        }
        dispatchMain()
    }
}
