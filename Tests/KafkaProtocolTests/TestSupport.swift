import XCTest
@testable import KafkaProtocol

/// Bytes from a hex string; spaces, newlines and `|` separators are ignored, `#` starts a comment
/// running to the end of the line. Vectors are written by hand from the JSON message specs.
func hex(_ s: String) -> [UInt8] {
    var out = [UInt8]()
    for line in s.split(separator: "\n", omittingEmptySubsequences: false) {
        let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let digits = code.filter { $0.isHexDigit }
        precondition(digits.count % 2 == 0, "odd hex digits in: \(line)")
        var i = digits.startIndex
        while i < digits.endIndex {
            let j = digits.index(i, offsetBy: 2)
            out.append(UInt8(digits[i..<j], radix: 16)!)
            i = j
        }
    }
    return out
}

/// Deterministic generator so randomized tests reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func assertThrowsCode(_ code: KafkaProtocolError.Code, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected \(code), nothing thrown", file: file, line: line)
    } catch let e as KafkaProtocolError {
        XCTAssertEqual(e.code, code, "\(e)", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

func assertThrowsProtocolError(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected a KafkaProtocolError", file: file, line: line)
    } catch is KafkaProtocolError {
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
