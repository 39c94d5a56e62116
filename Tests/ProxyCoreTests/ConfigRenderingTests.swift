import XCTest
@testable import ProxyCore

final class ConfigRenderingTests: XCTestCase {
    func testRendersCompilerStyleWithLineContext() {
        let yaml = """
        listener: {}
        clusters:
          primary:
            bootstrapServers: ["a:9092"]
            bootstrapServer: ["a:9092"]
        """
        let errors = configErrors(yaml)
        XCTAssertEqual(errors.rendered(source: yaml, fileName: "config.yaml"), """
        config.yaml:5:5: error: unknown key 'bootstrapServer' in clusters.primary (did you mean 'bootstrapServers'?)
            5 |     bootstrapServer: ["a:9092"]
              |     ^

        """)
        // The loader keeps the source, so printing the error is enough.
        XCTAssertEqual(errors.description, errors.rendered(source: yaml, fileName: "config.yaml"))
    }

    func testRendersSeveralErrorsAndUnlocatedOnes() {
        let yaml = "clusters:\n  c:\n    bootstrapServers: [\"a:9092\"]\nlogging: {level: loud}\n"
        let errors = configErrors(yaml)
        XCTAssertEqual(errors.rendered(source: yaml, fileName: "p.yaml"), """
        p.yaml: error: missing required key 'listener'
        p.yaml:4:18: error: logging.level must be one of trace|debug|info|warning|error, got 'loud'
            4 | logging: {level: loud}
              |                  ^

        """)
        // What /status shows of a rejected reload: the report's first lines, without the source.
        var named = errors
        named.fileName = "p.yaml"
        XCTAssertEqual(named.headlines, [
            "p.yaml: error: missing required key 'listener'",
            "p.yaml:4:18: error: logging.level must be one of trace|debug|info|warning|error, got 'loud'",
        ])
    }

    func testGutterWidensForLongFilesAndCaretKeepsTabs() {
        let errors = ConfigErrors([
            ConfigError(code: .invalidValue, path: "x", message: "m", line: 123456, column: 3),
            ConfigError(code: .invalidValue, path: "x", message: "n", line: 2, column: 4),
        ])
        let source = "a\n\tb c\n"
        XCTAssertEqual(errors.rendered(source: source, fileName: "f"), """
        f:123456:3: error: m
        f:2:4: error: n
             2 | \tb c
               | \t  ^

        """)
    }

    func testBadYAMLHasLineAndColumn() {
        let yaml = """
        listener:
          host: 127.0.0.1
         bootstrapPort: 9092
        clusters: {}
        """
        let errors = configErrors(yaml).errors
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(errors[0].code, .yamlSyntax)
        XCTAssertEqual(errors[0].line, 3)
        XCTAssertEqual(errors[0].column, 2)
        XCTAssertTrue(errors[0].message.hasPrefix("invalid YAML: "), errors[0].message)
    }

    func testUnclosedFlowSequenceIsReported() {
        let yaml = "listener: {}\nclusters:\n  c:\n    bootstrapServers: [\"a:9092\"\n"
        let errors = configErrors(yaml)
        XCTAssertEqual(errors.errors.map(\.code), [.yamlSyntax])
        let rendered = errors.rendered(source: yaml, fileName: "c.yaml")
        XCTAssertTrue(rendered.hasPrefix("c.yaml:"), rendered)
        XCTAssertTrue(rendered.contains(" | "), rendered)
    }

    func testSecondDocumentIsRejected() {
        let errors = configErrors("listener: {}\n---\nx: 1\n").errors
        XCTAssertEqual(errors, [ConfigError(code: .yamlSyntax, path: "",
                                            message: "invalid YAML: the file must hold a single document, found a second one",
                                            line: 2, column: 1)])
    }

    func testTabIndentationIsASyntaxError() {
        let errors = configErrors("listener:\n\thost: x\n").errors
        XCTAssertEqual(errors.map(\.code), [.yamlSyntax])
        XCTAssertEqual(errors.first?.line, 2)
    }

    func testLineEndingsAreCountedAsLibyamlCountsThem() {
        // CR LF (a ConfigMap edited on Windows) and a lone CR: the excerpt must show the line the mark names.
        for newline in ["\r\n", "\r"] {
            let yaml = ["listener: {}", "clusters:", "  c:", "    bootstrapServers: 7"].joined(separator: newline)
            let errors = configErrors(yaml)
            XCTAssertEqual(errors.errors.first?.line, 4, newline.debugDescription)
            let rendered = errors.rendered(source: yaml, fileName: "c.yaml")
            XCTAssertTrue(rendered.contains("    bootstrapServers: 7"), rendered)
        }
        XCTAssertEqual(ConfigErrors.splitLines("a\r\nb\rc\nd\u{2028}e"), ["a", "b", "c", "d", "e"])
    }
}
