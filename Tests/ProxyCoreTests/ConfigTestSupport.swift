import XCTest
@testable import ProxyCore

/// Parses `yaml` expecting failure and returns the errors (fails the test if it parsed).
func configErrors(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigErrors {
    do {
        let config = try ConfigLoader.parse(yaml: yaml, fileName: "config.yaml")
        XCTFail("expected errors, got \(config)", file: file, line: line)
        return ConfigErrors([])
    } catch {
        return error
    }
}

/// Parses `yaml` expecting success; on failure the rendered errors show up in the test log.
func parseConfig(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> ProxyConfig? {
    do {
        return try ConfigLoader.parse(yaml: yaml, fileName: "config.yaml")
    } catch {
        XCTFail("unexpected errors:\n\(error.rendered(source: yaml, fileName: "config.yaml"))", file: file, line: line)
        return nil
    }
}

/// A valid minimal file with `extra` appended, for tests that need one bad key in an otherwise good config.
func minimalConfig(listener: String = "listener: {}", _ extra: String = "") -> String {
    """
    \(listener)
    clusters:
      primary:
        bootstrapServers: ["a:9092"]
    \(extra)
    """
}
