import ProxyYAML
import XCTest

final class YAMLComposerTests: XCTestCase {
    private func compose(_ text: String) throws -> YAMLNode {
        let node = try YAMLComposer.compose(text)
        return try XCTUnwrap(node)
    }

    private func error(_ text: String) -> YAMLError? {
        do {
            _ = try YAMLComposer.compose(text)
            XCTFail("no error for \(text.debugDescription)")
            return nil
        } catch {
            return error
        }
    }

    func testEmptyAndCommentOnlyStreamsHaveNoDocument() throws {
        XCTAssertNil(try YAMLComposer.compose(""))
        XCTAssertNil(try YAMLComposer.compose("# nothing here\n\n"))
    }

    func testMappingKeepsFileOrderAndMarks() throws {
        let root = try compose("b: 1\na:\n  - x\n  - 'y'\nc: {d: \"e\"}\n")
        let pairs = try XCTUnwrap(root.mapping)
        XCTAssertEqual(pairs.map { $0.key.scalar?.string }, ["b", "a", "c"])
        XCTAssertEqual(pairs[0].key.mark, YAMLMark(line: 1, column: 1))
        XCTAssertEqual(pairs[0].value.mark, YAMLMark(line: 1, column: 4))
        let list = try XCTUnwrap(pairs[1].value.sequence)
        XCTAssertEqual(list.map { $0.scalar }, [YAMLScalar("x"), YAMLScalar("y", style: .singleQuoted)])
        XCTAssertEqual(list[1].mark, YAMLMark(line: 4, column: 5))
        let inner = try XCTUnwrap(pairs[2].value.mapping)
        XCTAssertEqual(inner[0].value.scalar, YAMLScalar("e", style: .doubleQuoted))
    }

    func testScalarStylesAndTagsAreKeptNotResolved() throws {
        let root = try compose("p: 9092\nq: \"9092\"\nl: |\n  one\n  two\nf: >\n  one\n  two\nt: !!str 7\nn: ~\nu: 104_857_600\n")
        let values = try XCTUnwrap(root.mapping).map { $0.value.scalar! }
        XCTAssertEqual(values[0], YAMLScalar("9092"))
        XCTAssertEqual(values[1], YAMLScalar("9092", style: .doubleQuoted))
        XCTAssertEqual(values[2], YAMLScalar("one\ntwo\n", style: .literal))
        XCTAssertEqual(values[3], YAMLScalar("one two\n", style: .folded))
        XCTAssertEqual(values[4], YAMLScalar("7", tag: "tag:yaml.org,2002:str"))
        XCTAssertEqual(values[5], YAMLScalar("~"))
        XCTAssertEqual(values[6], YAMLScalar("104_857_600"))
    }

    func testColumnsCountCharactersNotBytes() throws {
        let root = try compose("name: \"é☃\"\nx: [\"ü\", bad]\n")
        let list = try XCTUnwrap(root.mapping?[1].value.sequence)
        XCTAssertEqual(list[1].mark, YAMLMark(line: 2, column: 10))
    }

    func testAliasesResolveToTheAnchoredNodeAtTheUseSite() throws {
        let root = try compose("base: &b {host: h, port: 1}\ncopy: *b\nname: &n x\nagain: *n\n")
        let pairs = try XCTUnwrap(root.mapping)
        XCTAssertEqual(pairs[1].value.mapping?.map { $0.value.scalar?.string }, ["h", "1"])
        XCTAssertEqual(pairs[1].value.mark, YAMLMark(line: 2, column: 7))
        XCTAssertEqual(pairs[3].value.scalar?.string, "x")
    }

    func testUndefinedAndSelfReferencingAliasesAreErrors() {
        XCTAssertEqual(error("a: *nope\n"), .undefinedAlias(name: "nope", mark: YAMLMark(line: 1, column: 4)))
        // An anchor is defined once its node is complete, so a node cannot contain itself.
        XCTAssertEqual(error("a: &x [1, *x]\n"), .undefinedAlias(name: "x", mark: YAMLMark(line: 1, column: 11)))
    }

    func testDuplicateKeysPointAtTheRepeat() {
        XCTAssertEqual(error("a: 1\n# c\nb: 2\na: 3\n"),
                       .duplicateKey(key: "a", first: YAMLMark(line: 1, column: 1), mark: YAMLMark(line: 4, column: 1)))
        XCTAssertEqual(error("x: {host: a, host: b}\n"),
                       .duplicateKey(key: "host", first: YAMLMark(line: 1, column: 5), mark: YAMLMark(line: 1, column: 14)))
        // The same key in different mappings is fine.
        XCTAssertNoThrow(try YAMLComposer.compose("a: {k: 1}\nb: {k: 2}\n"))
    }

    func testSecondDocumentIsAnError() {
        XCTAssertEqual(error("a: 1\n---\nb: 2\n"), .secondDocument(mark: YAMLMark(line: 2, column: 1)))
        XCTAssertNoThrow(try YAMLComposer.compose("---\na: 1\n...\n"))
    }

    func testSyntaxErrorsCarryProblemContextAndMark() {
        guard case let .syntax(problem, mark, context, contextMark) = error("a: [1, 2\nb: 3\n") else {
            return XCTFail("not a syntax error")
        }
        XCTAssertFalse(problem.isEmpty)
        XCTAssertNotNil(mark)
        XCTAssertEqual(context, "while parsing a flow sequence")
        XCTAssertEqual(contextMark, YAMLMark(line: 1, column: 4))

        guard case let .syntax(_, tabMark, _, _) = error("a:\n\tb: 1\n") else { return XCTFail("tab accepted") }
        XCTAssertEqual(tabMark?.line, 2)
    }

    func testControlCharacterIsAReaderErrorWithAPosition() {
        guard case let .syntax(problem, mark, _, _) = error("a: 1\nb: x\u{7}y\n") else {
            return XCTFail("control character accepted")
        }
        XCTAssertTrue(problem.contains("control characters"), problem)
        XCTAssertTrue(problem.contains("0x7"), problem)
        XCTAssertEqual(mark, YAMLMark(line: 2, column: 5))
    }

    func testNestingBeyondTheLimitIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        guard case .tooDeep(let mark) = error(deep) else { return XCTFail("no depth error") }
        XCTAssertEqual(mark, YAMLMark(line: 1, column: YAMLComposer.maxDepth + 1))
        let ok = String(repeating: "[", count: YAMLComposer.maxDepth) + String(repeating: "]", count: YAMLComposer.maxDepth)
        XCTAssertNoThrow(try YAMLComposer.compose(ok))
    }

    func testEverySplitOfAValidDocumentParsesOrFailsWithoutCrashing() {
        // Truncations of a real config at every byte: each is an error or a (smaller) document.
        let text = "listener:\n  host: \"127.0.0.1\"\n  brokerPorts: 9101-9103\nclusters:\n  a: {bootstrapServers: [\"x:1\", y:2]}\n  b: &b\n    tls: {enabled: true}\n  c: *b\n"
        let bytes = Array(text.utf8)
        for end in 0...bytes.count {
            _ = try? YAMLComposer.compose(String(decoding: bytes[..<end], as: UTF8.self))
        }
    }
}
