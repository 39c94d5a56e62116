import ProxyYAML

/// A Kubernetes ConfigMap manifest carrying the config as a data entry (config/kubernetes/
/// configmap.yaml), so `check` can validate the file an operator is about to `kubectl apply`
/// instead of failing on `apiVersion`.
public struct ConfigMapManifest: Sendable, Equatable {
    /// The data key the Deployment mounts as the config file.
    public static let entryName = "kafka-proxy.yaml"

    /// `metadata.name`, when the manifest has one.
    public var name: String?
    /// The data key that was read.
    public var entry: String
    /// The entry's text: the config itself.
    public var text: String
    /// Where the entry's lines are in the manifest: its first line and the indentation every line
    /// lost. Nil when its lines are not the manifest's lines one for one (a quoted or folded value).
    var placement: Placement?

    struct Placement: Sendable, Equatable {
        var firstLine: Int
        var indent: Int
    }

    /// Nil when `source` is not a Kubernetes manifest (a plain config). A manifest of another kind,
    /// or a ConfigMap without a usable entry, is an error that says so.
    public static func recognise(_ source: String, fileName: String) throws(ConfigErrors) -> ConfigMapManifest? {
        // A file that does not compose is left to the config parser, which reports the syntax error.
        guard let root = try? YAMLComposer.compose(source), let pairs = root.mapping else { return nil }
        func value(_ key: String, in pairs: [YAMLPair]) -> YAMLNode? {
            pairs.first { $0.key.scalar?.string == key }?.value
        }
        guard let kindNode = value("kind", in: pairs), value("apiVersion", in: pairs) != nil else { return nil }
        func fail(_ message: String, at node: YAMLNode?) -> ConfigErrors {
            ConfigErrors([ConfigError(code: .invalidValue, path: "", message: message,
                                      line: node?.mark.line, column: node?.mark.column)],
                         source: source, fileName: fileName)
        }
        let kind = kindNode.scalar?.string ?? ""
        guard kind == "ConfigMap" else {
            throw fail("this is a Kubernetes \(kind.isEmpty ? "manifest" : kind) manifest, not a kafka-proxy config; "
                + "check reads a config file, or a ConfigMap with the config in data.\(entryName)", at: kindNode)
        }
        let name = value("metadata", in: pairs)?.mapping.flatMap { value("name", in: $0) }?.scalar?.string
        guard let dataNode = value("data", in: pairs) else {
            throw fail("this ConfigMap has no data section: the config belongs in data.\(entryName)", at: kindNode)
        }
        guard let data = dataNode.mapping else {
            throw fail("data of this ConfigMap must be a mapping of file names to contents", at: dataNode)
        }
        let keys = data.compactMap { $0.key.scalar?.string }
        // The Deployment mounts kafka-proxy.yaml; a ConfigMap with a single entry of another name is that entry.
        let chosen = data.first { $0.key.scalar?.string == entryName } ?? (data.count == 1 ? data.first : nil)
        guard let chosen, let entry = chosen.key.scalar?.string else {
            let listed = keys.isEmpty ? "none" : keys.map { "'\($0)'" }.joined(separator: ", ")
            throw fail("this ConfigMap has no data.\(entryName) entry (its entries: \(listed))", at: dataNode)
        }
        guard let scalar = chosen.value.scalar else {
            throw fail("data.\(entry) must be the config file's text (a block scalar: `\(entry): |`)", at: chosen.value)
        }
        var manifest = ConfigMapManifest(name: name, entry: entry, text: scalar.string)
        if scalar.style == .literal {
            manifest.placement = literalPlacement(source, mark: chosen.value.mark)
        }
        return manifest
    }

    /// A literal block (`key: |`) keeps its lines: line k of the text is line k after the indicator,
    /// less the block's indentation (that of its first non-blank line). An explicit indentation
    /// indicator (`|2`) is rare enough to fall back to unplaced errors.
    private static func literalPlacement(_ source: String, mark: YAMLMark) -> Placement? {
        let lines = ConfigErrors.splitLines(source)
        guard mark.line >= 1, mark.line < lines.count else { return nil }
        let header = lines[mark.line - 1].unicodeScalars.dropFirst(mark.column - 1)
        guard header.first == "|" else { return nil }
        let indicators = header.dropFirst().prefix { $0 != " " && $0 != "#" }
        guard indicators.allSatisfy({ $0 == "-" || $0 == "+" }) else { return nil }
        for line in lines[mark.line...] {
            let indent = line.unicodeScalars.prefix { $0 == " " }.count
            if indent < line.unicodeScalars.count {
                return Placement(firstLine: mark.line + 1, indent: indent)
            }
        }
        return nil
    }

    /// Errors found in `text`, re-pointed at the manifest where its lines are known.
    func locate(_ errors: ConfigErrors, manifestSource: String, fileName: String) -> ConfigErrors {
        let entryPath = "data.\(entry)"
        guard let placement else {
            return ConfigErrors(errors.errors, source: text, fileName: "\(fileName) (\(entryPath))")
        }
        let moved = errors.errors.map { error -> ConfigError in
            var error = error
            if let line = error.line {
                error.line = placement.firstLine + line - 1
                error.column = (error.column ?? 1) + placement.indent
            }
            return error
        }
        return ConfigErrors(moved, source: manifestSource, fileName: fileName)
    }
}

extension ConfigLoader {
    /// As `load(path:)`, and a Kubernetes ConfigMap manifest is checked through its
    /// `data.kafka-proxy.yaml` entry (errors point at the manifest's lines). For `check`: the
    /// proxy itself reads the mounted file, never a manifest.
    public static func loadConfigOrManifest(path: String) throws(ConfigErrors) -> (ProxyConfig, ConfigMapManifest?) {
        let bytes = try readBytes(path)
        guard let source = String(validating: bytes, as: UTF8.self) else {
            throw unreadable(path, "the file is not valid UTF-8")
        }
        guard let manifest = try ConfigMapManifest.recognise(source, fileName: path) else {
            return (try parse(yaml: source, fileName: path), nil)
        }
        do throws(ConfigErrors) {
            return (try parse(yaml: manifest.text, fileName: path), manifest)
        } catch {
            throw manifest.locate(error, manifestSource: source, fileName: path)
        }
    }
}
