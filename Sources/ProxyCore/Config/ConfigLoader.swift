import Foundation
import Yams

/// Turns a YAML file into a validated `ProxyConfig`, or into every error found in it.
public enum ConfigLoader {
    public static func parse(yaml: String, fileName: String = "config") throws(ConfigErrors) -> ProxyConfig {
        let diagnostics = ConfigDiagnostics()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            // Nothing below a syntax error can be trusted, so it is the only error reported.
            throw ConfigErrors([YAMLSyntaxErrors.translate(error)], source: yaml, fileName: fileName)
        }
        let config = RootSection.decode(root, diagnostics)
        guard diagnostics.isEmpty, let config else {
            var errors = diagnostics.sortedErrors()
            if errors.isEmpty {
                // A section returned nil without reporting: a bug here, but never hand out a half config.
                errors = [ConfigError(code: .invalidValue, path: "", message: "the configuration is invalid")]
            }
            throw ConfigErrors(errors, source: yaml, fileName: fileName)
        }
        return config
    }

    /// Reads `path` (the only I/O in ProxyCore) and parses it; errors render with `path` as the file name.
    public static func load(path: String) throws(ConfigErrors) -> ProxyConfig {
        let source = try read(path)
        return try parse(yaml: source, fileName: path)
    }

    static func read(_ path: String) throws(ConfigErrors) -> String {
        func fail(_ reason: String) -> ConfigErrors {
            ConfigErrors([ConfigError(code: .unreadableFile, path: "",
                                      message: "cannot read config file '\(path)': \(reason)")],
                         source: nil, fileName: path)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw fail("no such file")
        }
        if isDirectory.boolValue { throw fail("it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail(FileManager.default.isReadableFile(atPath: path) ? "read failed" : "permission denied")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw fail("the file is not valid UTF-8")
        }
        return text
    }
}
