import XCTest
@testable import ProxyCore

/// `clusters.<name>.topicPrefix`: Kafka's topic-name rules, reported where the value is.
final class ConfigTopicPrefixTests: XCTestCase {
    private func yaml(_ prefix: String) -> String {
        """
        listener: {}
        clusters:
          primary:
            bootstrapServers: ["a:9092"]
          dr:
            bootstrapServers: ["b:9092"]
            topicPrefix: \(prefix)
        """
    }

    func testPrefixIsKeptPerCluster() throws {
        let config = try XCTUnwrap(parseConfig(yaml("\"primary.\"")))
        XCTAssertNil(config.cluster(named: "primary")?.topicPrefix)
        XCTAssertEqual(config.cluster(named: "dr")?.topicPrefix, "primary.")
        XCTAssertTrue(config.mapsTopicNames)
        XCTAssertEqual(config.advisories, [])
        XCTAssertFalse(try XCTUnwrap(parseConfig(minimalConfig())).mapsTopicNames)
    }

    func testIllegalCharacterIsAnErrorAtTheValue() {
        let errors = configErrors(yaml("\"dc/1.\"")).errors
        XCTAssertEqual(errors.map(\.description), [
            "7:18: error: clusters.dr.topicPrefix: 'dc/1.' contains '/'; topic names allow only ASCII letters, digits, '.', '_' and '-'",
        ])
        XCTAssertEqual(configErrors(yaml("\"prim ary.\"")).errors.map(\.code), [.invalidValue])
        XCTAssertEqual(configErrors(yaml("\"dc\u{e9}.\"")).errors.map(\.code), [.invalidValue])
    }

    func testEmptyOrNotAStringIsAnError() {
        XCTAssertEqual(configErrors(yaml("\"\"")).errors.map(\.description),
                       ["7:18: error: clusters.dr.topicPrefix must not be empty"])
        XCTAssertEqual(configErrors(yaml("[a]")).errors.map(\.code), [.typeMismatch])
    }

    func testPrefixMustLeaveRoomForAName() throws {
        let longest = String(repeating: "p", count: 248)
        XCTAssertEqual(try XCTUnwrap(parseConfig(yaml(longest))).cluster(named: "dr")?.topicPrefix, longest)
        XCTAssertEqual(configErrors(yaml(longest + "p")).errors.map(\.description), [
            "7:18: error: clusters.dr.topicPrefix is 249 characters; with a topic name it must fit Kafka's 249, so at most 248",
        ])
    }

    func testDotAndUnderscoreTogetherIsAnAdvisory() throws {
        let config = try XCTUnwrap(parseConfig(yaml("dc_1.")))
        XCTAssertEqual(config.advisories, [
            "clusters.dr.topicPrefix 'dc_1.' mixes '.' and '_': Kafka's metric names do not tell them apart, so topics differing only there collide",
        ])
    }

    func testPrinterShowsThePrefix() throws {
        let config = try XCTUnwrap(parseConfig(yaml("primary.")))
        let printed = ConfigPrinter.yaml(config)
        XCTAssertTrue(printed.contains("    topicPrefix: \"primary.\"\n"), printed)
        XCTAssertEqual(try ConfigLoader.parse(yaml: printed, fileName: "printed.yaml").clusters, config.clusters)
    }

    func testChangedKeysNameWhatAReloadChanged() throws {
        let config = try XCTUnwrap(parseConfig(yaml("primary.")))
        let before = try XCTUnwrap(config.cluster(named: "dr"))
        XCTAssertEqual(before.changedKeys(from: before), [])
        var after = before
        after.topicPrefix = "dc1."
        XCTAssertEqual(after.changedKeys(from: before), ["topicPrefix"])
        after.bootstrapServers = [ProxyConfig.HostPort(host: "dr-1", port: 9092)]
        XCTAssertEqual(after.changedKeys(from: before), ["bootstrapServers", "topicPrefix"])
    }
}
