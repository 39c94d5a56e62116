#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fuzz targets, by the name scripts/fuzz passes in KAFKA_FUZZ_TARGET (also the directory of
/// each target's seed corpus under Fuzz/corpus/).
let targets: [String: @Sendable ([UInt8]) -> Void] = [
    "request_framing": FuzzTargets.requestFraming,
    "request_header": FuzzTargets.requestHeader,
    "response_rewrite": FuzzTargets.responseRewrite,
    "response_relay": FuzzTargets.responseRelay,
    "request_relay": FuzzTargets.requestRelay,
    "response_relay_pull": FuzzTargets.responseRelayPull,
    "connection_machine": FuzzTargets.connectionMachine,
    "produce_batches": FuzzTargets.produceBatches,
    "transaction_requests": FuzzTargets.transactionRequests,
    "config_yaml": FuzzTargets.configYAML,
    "topic_names": FuzzTargets.topicNames,
    "group_requests": FuzzTargets.groupRequests,
]

nonisolated(unsafe) var selected: (([UInt8]) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    selected!(bytes)
    return 0
}

/// A property the target checks was violated: print what and abort, so libFuzzer saves the input.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
           file: StaticString = #fileID, line: UInt = #line) {
    if !condition() {
        eprint("KafkaFuzz: property violated at \(file):\(line): \(message())")
        abort()
    }
}

/// Reads small control values off the front of an input.
struct Control {
    private var bytes: ArraySlice<UInt8>
    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    mutating func byte() -> UInt8 {
        guard let b = bytes.first else { return 0 }
        bytes = bytes.dropFirst()
        return b
    }

    var rest: [UInt8] { Array(bytes) }
}

/// Deterministic chunk sizes for splitting a stream (xorshift seeded from the input).
struct Chunker {
    private var state: UInt64
    init(seed: UInt8) { state = 0x9E37_79B9_7F4A_7C15 &+ UInt64(seed) &* 0x100_0000_01B3 }

    mutating func next(max: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return 1 + Int(state % UInt64(max))
    }

    /// `stream` cut into pieces of 1...maxChunk bytes.
    mutating func split(_ stream: [UInt8], maxChunk: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < stream.count {
            let n = min(next(max: maxChunk), stream.count - i)
            out.append(Array(stream[i..<(i + n)]))
            i += n
        }
        return out
    }
}

func eprint(_ message: String) {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
