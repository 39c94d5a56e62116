import XCTest
@testable import ProxyCore
import SASLSettings

final class ConfigSASLTests: XCTestCase {
    func yaml(_ sasl: String) -> String {
        """
        listener: {}
        clusters:
          primary:
            bootstrapServers: ["a:9092"]
            sasl:
        \(sasl.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
          dr:
            bootstrapServers: ["b:9092"]
        """
    }

    func testNoSaslByDefault() throws {
        let config = try XCTUnwrap(parseConfig(minimalConfig()))
        XCTAssertNil(config.clusters[0].sasl)
        XCTAssertEqual(config.advisories, [])
    }

    func testScramWithPasswordFile() throws {
        let config = try XCTUnwrap(parseConfig(yaml("""
            mechanism: SCRAM-SHA-512
            username: app
            passwordFile: /etc/kafka-proxy/sasl/password
            """)))
        XCTAssertEqual(config.clusters[0].sasl, ProxyConfig.SASL(mechanism: .scramSha512, username: "app",
                                                                 password: .file(path: "/etc/kafka-proxy/sasl/password")))
        XCTAssertNil(config.clusters[1].sasl)
        XCTAssertEqual(config.advisories, [])
    }

    func testInlinePasswordIsAcceptedWithAnAdvisoryAndNeverPrinted() throws {
        let config = try XCTUnwrap(parseConfig(yaml("""
            mechanism: PLAIN
            username: app
            password: hunter2
            """)))
        let sasl = try XCTUnwrap(config.clusters[0].sasl)
        XCTAssertEqual(sasl.password, .inline(Secret("hunter2")))
        XCTAssertEqual(sasl.inlinePasswordLine, 8)
        XCTAssertEqual(config.advisories.count, 1)
        XCTAssertTrue(config.advisories[0].hasPrefix("line 8: clusters.primary.sasl.password"), config.advisories[0])
        for text in [sasl.description, "\(config.clusters[0].sasl!)", config.advisories[0]] {
            XCTAssertFalse(text.contains("hunter2"), text)
        }
    }

    func testAPasswordThatOnlyMovedIsNoChange() throws {
        let sasl = "mechanism: PLAIN\nusername: app\npassword: hunter2"
        let before = try XCTUnwrap(parseConfig(yaml(sasl)))
        let moved = try XCTUnwrap(parseConfig("# a comment above moves every line\n" + yaml(sasl)))
        XCTAssertNotEqual(moved.clusters[0].sasl?.inlinePasswordLine, before.clusters[0].sasl?.inlinePasswordLine)
        XCTAssertEqual(moved, before, "a reload of this file must not reconnect anyone")
        let changed = try XCTUnwrap(parseConfig(yaml("mechanism: PLAIN\nusername: app\npassword: hunter3")))
        XCTAssertNotEqual(changed, before)
    }

    func testGssapiAndOauthBearer() throws {
        let g = try XCTUnwrap(parseConfig(yaml("""
            mechanism: GSSAPI
            principal: app@EXAMPLE.COM
            keytabFile: /etc/kafka-proxy/krb5/app.keytab
            """)))
        XCTAssertEqual(g.clusters[0].sasl, ProxyConfig.SASL(mechanism: .gssapi, principal: "app@EXAMPLE.COM",
                                                            keytabFile: "/etc/kafka-proxy/krb5/app.keytab", serviceName: "kafka"))
        let g2 = try XCTUnwrap(parseConfig(yaml("mechanism: GSSAPI\nprincipal: a@B\nserviceName: kfk")))
        XCTAssertEqual(g2.clusters[0].sasl?.serviceName, "kfk")
        let o = try XCTUnwrap(parseConfig(yaml("mechanism: OAUTHBEARER\ntokenFile: /var/run/secrets/kafka/token")))
        XCTAssertEqual(o.clusters[0].sasl, ProxyConfig.SASL(mechanism: .oauthBearer, tokenFile: "/var/run/secrets/kafka/token"))
    }

    func testUnknownMechanismWithHint() {
        let errors = configErrors(yaml("mechanism: SCRAM-SHA-265\nusername: a\npasswordFile: /p"))
        XCTAssertEqual(errors.errors.count, 1)
        XCTAssertEqual(errors.errors[0].path, "clusters.primary.sasl.mechanism")
        XCTAssertEqual(errors.errors[0].line, 6)
        XCTAssertTrue(errors.errors[0].message.contains("PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|GSSAPI|OAUTHBEARER"), errors.errors[0].message)
        XCTAssertTrue(errors.errors[0].message.contains("did you mean 'SCRAM-SHA-256'"), errors.errors[0].message)
    }

    func testRequiredFieldsPerMechanism() {
        let scram = configErrors(yaml("mechanism: SCRAM-SHA-256"))
        XCTAssertEqual(scram.errors.map(\.path).sorted(), ["clusters.primary.sasl.passwordFile", "clusters.primary.sasl.username"])
        XCTAssertTrue(scram.errors.allSatisfy { $0.code == .missingKey && $0.line == 6 })
        let gss = configErrors(yaml("mechanism: GSSAPI"))
        XCTAssertEqual(gss.errors.map(\.path), ["clusters.primary.sasl.principal"])
        let oauth = configErrors(yaml("mechanism: OAUTHBEARER"))
        XCTAssertEqual(oauth.errors.map(\.path), ["clusters.primary.sasl.tokenFile"])
        let none = configErrors(yaml("username: app"))
        XCTAssertEqual(none.errors.map(\.path), ["clusters.primary.sasl.mechanism"])
    }

    func testFieldsOfOtherMechanismsAndBothPasswordsAreErrors() {
        let errors = configErrors(yaml("""
            mechanism: PLAIN
            username: app
            password: x
            passwordFile: /p
            tokenFile: /t
            """))
        XCTAssertEqual(errors.errors.map(\.code), [.conflict, .invalidValue])
        XCTAssertEqual(errors.errors.map(\.line), [9, 10])
        XCTAssertTrue(errors.errors[1].message.contains("tokenFile applies to OAUTHBEARER only"), errors.errors[1].message)
        XCTAssertFalse(errors.description.contains("password: x"), errors.description)
        let oauth = configErrors(yaml("mechanism: OAUTHBEARER\ntokenFile: /t\nusername: app"))
        XCTAssertEqual(oauth.errors.map(\.path), ["clusters.primary.sasl.username"])
    }

    func testUnknownKeyAndTypeErrors() {
        let errors = configErrors(yaml("mechanism: PLAIN\nusername: app\npasswordFle: /p"))
        XCTAssertTrue(errors.errors.contains { $0.code == .unknownKey && $0.message.contains("did you mean 'passwordFile'") },
                      "\(errors.errors)")
        let typed = configErrors(yaml("mechanism: PLAIN\nusername: [a]\npasswordFile: /p"))
        XCTAssertEqual(typed.errors.map(\.code), [.typeMismatch])
        let notMap = configErrors(minimalConfig().replacingOccurrences(of: "bootstrapServers: [\"a:9092\"]", with: "bootstrapServers: [\"a:9092\"]\n    sasl: PLAIN"))
        XCTAssertEqual(notMap.errors.map(\.code), [.typeMismatch])
    }
}
