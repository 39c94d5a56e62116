import ArgumentParser
import Logging
import Prometheus
import ProxyCore
import ProxyRuntime

@main
struct KafkaProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-proxy",
        abstract: "A Kafka wire-protocol proxy that runs next to Kafka clients.",
        version: BuildInfo.line,
        subcommands: [Run.self, Check.self, Server.self, PrintConfig.self, Version.self],
        defaultSubcommand: Run.self
    )
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and git commit and exit (same as --version).")

    func run() {
        print(BuildInfo.line)
    }
}

struct ConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path of the YAML config file.")
    var config: String
}

/// Reads and validates a config file; prints compiler-style diagnostics on failure.
enum ConfigFile {
    static func load(_ path: String) -> Result<LoadedConfig, ConfigErrors> {
        do {
            return .success(try ConfigLoader.loadWithDigest(path: path))
        } catch {
            return .failure(error)
        }
    }

    /// The loader keeps the source, so the description is the full compiler-style report.
    static func report(_ errors: ConfigErrors, path: String) {
        ProcessIO.writeToStandardError(errors.description)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a config file and exit.",
        discussion: "The file may also be a Kubernetes ConfigMap manifest: its data.kafka-proxy.yaml entry is checked.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        do throws(ConfigErrors) {
            let (config, manifest) = try ConfigLoader.loadConfigOrManifest(path: options.config)
            let checked = manifest.map { "ConfigMap \($0.name.map { "\($0), " } ?? "")data.\($0.entry): " } ?? ""
            print("\(options.config): ok (\(checked)active cluster \(config.activeCluster), \(config.clusters.count) cluster(s))")
            for advisory in config.advisories { ProcessIO.writeToStandardError("\(options.config): warning: \(advisory)\n") }
        } catch {
            ConfigFile.report(error, path: options.config)
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
        let config: LoadedConfig
        switch ConfigFile.load(options.config) {
        case .success(let loaded): config = loaded
        case .failure(let errors):
            ConfigFile.report(errors, path: options.config)
            throw ExitCode(1)
        }
        let path = options.config
        try ProxyLauncher.run(config: config.config, digest: config.digest, shutdownTimeout: shutdownTimeout,
                              reload: ProxyLauncher.ReloadSource(path: path) { () throws(ConfigErrors) -> LoadedConfig in
                                  try ConfigLoader.loadWithDigest(path: path)
                              })
    }
}
