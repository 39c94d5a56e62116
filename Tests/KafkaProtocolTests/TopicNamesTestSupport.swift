import XCTest
@testable import KafkaProtocol

/// A tiny encoder for hand-made message bodies: the vectors below are written field by field from
/// the JSON message definitions, independently of the walker's descriptions.
struct Msg {
    let flex: Bool
    var bytes: [UInt8] = []

    init(flex: Bool) { self.flex = flex }

    mutating func i8(_ v: Int8) { bytes.append(UInt8(bitPattern: v)) }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func i16(_ v: Int16) { bytes += [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
    mutating func i32(_ v: Int32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> Int32(s))) } }
    mutating func i64(_ v: Int64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> Int64(s))) } }
    mutating func uuid(_ b: UInt8) { bytes += [UInt8](repeating: b, count: 16) }

    mutating func varint(_ v: UInt32) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func str(_ s: String?) {
        guard let s else { if flex { varint(0) } else { i16(-1) }; return }
        let u = Array(s.utf8)
        if flex { varint(UInt32(u.count + 1)) } else { i16(Int16(u.count)) }
        bytes += u
    }

    mutating func data(_ d: [UInt8]?) {
        guard let d else { if flex { varint(0) } else { i32(-1) }; return }
        if flex { varint(UInt32(d.count + 1)) } else { i32(Int32(d.count)) }
        bytes += d
    }

    /// An array count, nil for null.
    mutating func count(_ n: Int?) {
        guard let n else { if flex { varint(0) } else { i32(-1) }; return }
        if flex { varint(UInt32(n + 1)) } else { i32(Int32(n)) }
    }

    mutating func int32s(_ a: [Int32]) { count(a.count); for v in a { i32(v) } }
    mutating func strs(_ a: [String]?) { count(a?.count); for s in a ?? [] { str(s) } }
    /// An empty tagged-field section, in flexible versions only.
    mutating func tags() { if flex { varint(0) } }
}

/// Builds a body for `version` naming `topics` (the builder decides where each name goes).
typealias BodyBuilder = @Sendable (_ m: inout Msg, _ version: Int16, _ topics: [String]) -> Void

let testPrefix = TopicPrefix("dc1.")

func body(_ api: ApiKey, _ version: Int16, _ topics: [String], _ build: BodyBuilder) -> [UInt8] {
    var m = Msg(flex: ApiCatalog.isFlexible(apiKey: api.rawValue, apiVersion: version))
    build(&m, version, topics)
    return m.bytes
}

func mapRequest(_ api: ApiKey, _ version: Int16, _ input: [UInt8], prefix: TopicPrefix = testPrefix,
                context: inout TopicMappingContext) throws -> [UInt8]? {
    try input.withUnsafeBytes { raw in
        try TopicNameMapping.request(apiKey: api.rawValue, apiVersion: version, body: raw, prefix: prefix, context: &context)
            .map { $0.joined(original: raw) }
    }
}

func mapResponse(_ api: ApiKey, _ version: Int16, _ input: [UInt8], prefix: TopicPrefix = testPrefix,
                 context: inout TopicMappingContext) throws -> [UInt8]? {
    try input.withUnsafeBytes { raw in
        try TopicNameMapping.response(apiKey: api.rawValue, apiVersion: version, body: raw, prefix: prefix, context: &context)
            .map { $0.joined(original: raw) }
    }
}

extension XCTestCase {
    /// Every version of a request: the client's names `a`, `b` go up as `dc1.a`, `dc1.b`, every
    /// other byte as it was. Versions in `nameless` carry no names: nothing to change.
    func checkRequest(_ api: ApiKey, _ versions: ClosedRange<Int16>, nameless: ClosedRange<Int16>? = nil,
                      file: StaticString = #filePath, line: UInt = #line, _ build: BodyBuilder) throws {
        for v in versions {
            var context = TopicMappingContext()
            let input = body(api, v, ["a", "b"], build)
            let mapped = try mapRequest(api, v, input, context: &context)
            if nameless?.contains(v) == true {
                XCTAssertNil(mapped, "\(api) v\(v) request", file: file, line: line)
                continue
            }
            XCTAssertEqual(mapped, body(api, v, ["dc1.a", "dc1.b"], build), "\(api) v\(v) request", file: file, line: line)
        }
    }

    /// Every version of a response: `dc1.a`, `dc1.b` come back as `a`, `b`; with `drops`, the
    /// entries of `local` and `dc1.` (outside the prefix, and the prefix alone) are removed.
    func checkResponse(_ api: ApiKey, _ versions: ClosedRange<Int16>, drops: Bool = true, nameless: ClosedRange<Int16>? = nil,
                       file: StaticString = #filePath, line: UInt = #line, _ build: BodyBuilder) throws {
        for v in versions {
            var context = TopicMappingContext()
            let upstream = drops ? ["local", "dc1.a", "dc1.", "dc1.b"] : ["dc1.a", "dc1.b"]
            let input = body(api, v, upstream, build)
            let mapped = try mapResponse(api, v, input, context: &context)
            if nameless?.contains(v) == true {
                XCTAssertNil(mapped, "\(api) v\(v) response", file: file, line: line)
                continue
            }
            XCTAssertEqual(mapped, body(api, v, ["a", "b"], build), "\(api) v\(v) response", file: file, line: line)
        }
    }

    /// Every proper prefix of a mapped message is an error, never a crash or a partial result.
    func checkTruncations(_ api: ApiKey, _ version: Int16, request: Bool, _ input: [UInt8],
                          file: StaticString = #filePath, line: UInt = #line) {
        for n in 0..<input.count {
            var context = TopicMappingContext()
            let cut = Array(input[..<n])
            XCTAssertThrowsError(try request ? mapRequest(api, version, cut, context: &context) : mapResponse(api, version, cut, context: &context),
                                 "\(api) v\(version) cut at \(n) of \(input.count)", file: file, line: line)
        }
    }
}
