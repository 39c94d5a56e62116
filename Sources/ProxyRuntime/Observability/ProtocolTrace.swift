import Dispatch
import KafkaProtocol
import Logging
import ProxyCore
import Synchronization

/// Request tracing (`logging.protocol: true`, or level trace): one line per client request and
/// one per response, so a client's protocol problem can be read from the proxy's log.
///
/// A connection makes two calls, `request` and `response`, on its hot path. Off, each is one
/// relaxed atomic load and a branch: no string is built and nothing is allocated, so pass-through
/// stays allocation-free (the logger is an autoclosure, so not even it is copied); the line is
/// built out of line only when tracing is on. Shared by all connections; a reload switches it.
final class ProtocolTrace: Sendable {
    /// 0: off; otherwise the index + 1 of the level the lines are written at.
    private let state: Atomic<UInt8>

    init(_ logging: ProxyConfig.Logging) {
        state = Atomic(Self.code(logging))
    }

    func apply(_ logging: ProxyConfig.Logging) {
        state.store(Self.code(logging), ordering: .relaxed)
    }

    var isOn: Bool { state.load(ordering: .relaxed) != 0 }

    /// A request the client sent (`bytes`: the whole frame, size prefix included).
    @inline(__always)
    func request(_ logger: @autoclosure () -> Logger, apiKey: Int16, apiVersion: Int16, correlationId: Int32, bytes: Int) {
        let code = state.load(ordering: .relaxed)
        guard code != 0 else { return }
        writeRequest(logger(), level: code, apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, bytes: bytes)
    }

    /// The response matched to `request`; `payload` when the proxy holds the whole response (its
    /// top-level error code is then read, where the API has one).
    @inline(__always)
    func response(_ logger: @autoclosure () -> Logger, request: InflightRequest, bytes: Int, payload: [UInt8]?) {
        let code = state.load(ordering: .relaxed)
        guard code != 0 else { return }
        writeResponse(logger(), level: code, request: request, bytes: bytes, payload: payload)
    }

    @inline(never)
    private func writeRequest(_ logger: Logger, level: UInt8, apiKey: Int16, apiVersion: Int16,
                              correlationId: Int32, bytes: Int) {
        logger.log(level: Self.level(level),
                   "request api=\(ProxyMetrics.apiName(apiKey)) version=\(apiVersion) correlationId=\(correlationId) bytes=\(bytes)")
    }

    @inline(never)
    private func writeResponse(_ logger: Logger, level: UInt8, request: InflightRequest, bytes: Int, payload: [UInt8]?) {
        let nanos = DispatchTime.now().uptimeNanoseconds &- request.startNanos
        let micros = nanos / 1_000
        let fraction = String(micros % 1_000)
        let latency = "\(micros / 1_000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
        var line = "response api=\(ProxyMetrics.apiName(request.apiKey)) version=\(request.apiVersion) correlationId=\(request.correlationId) bytes=\(bytes) latencyMs=\(latency)"
        if let payload, let errorCode = Self.topLevelErrorCode(apiKey: request.apiKey, apiVersion: request.apiVersion, payload: payload) {
            line += " errorCode=\(errorCode)"
        }
        logger.log(level: Self.level(level), "\(line)")
    }

    /// The response-wide error code of the responses the proxy holds whole (the ones it may
    /// rewrite), where the API has one; nil for Metadata (errors per topic), FindCoordinator v4+
    /// (per key) and a short payload. `payload`: the frame after its size prefix.
    static func topLevelErrorCode(apiKey: Int16, apiVersion: Int16, payload: [UInt8]) -> Int16? {
        // What comes before the error code in the body: nothing, or throttle_time_ms (4 bytes).
        let skip: Int
        switch apiKey {
        case ApiKey.apiVersions.rawValue:
            skip = 0
        case ApiKey.syncGroup.rawValue:
            skip = apiVersion >= 1 ? 4 : 0
        case ApiKey.findCoordinator.rawValue:
            guard apiVersion <= 3 else { return nil }
            skip = apiVersion >= 1 ? 4 : 0
        case ApiKey.initProducerId.rawValue, ApiKey.describeCluster.rawValue:
            skip = 4
        default:
            return nil
        }
        var reader = ByteReader(payload, from: 4)  // after the correlation id
        if ApiCatalog.responseHeaderVersion(apiKey: apiKey, apiVersion: apiVersion) >= 1 {
            guard (try? reader.skipTaggedFields()) != nil else { return nil }
        }
        guard (try? reader.skip(skip)) != nil, let code = try? reader.readInt16() else { return nil }
        return code
    }

    private static func code(_ logging: ProxyConfig.Logging) -> UInt8 {
        guard logging.tracesProtocol else { return 0 }
        return UInt8(Logger.Level.allCases.firstIndex(of: Logger.Level(logging.level))!) + 1
    }

    private static func level(_ code: UInt8) -> Logger.Level {
        Logger.Level.allCases[Int(code) - 1]
    }
}
