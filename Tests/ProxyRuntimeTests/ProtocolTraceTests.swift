import KafkaProtocol
import Logging
import ProxyCore
@testable import ProxyRuntime
import XCTest

final class ProtocolTraceTests: XCTestCase {
    private func logger() -> (Logger, LogCapture) {
        let captured = LogCapture()
        return (captured.logger(label: "test"), captured)
    }

    func testOffWritesNothingAndDoesNotEvenTouchTheLogger() {
        let trace = ProtocolTrace(ProxyConfig.Logging(level: .debug))
        XCTAssertFalse(trace.isOn)
        let (log, captured) = logger()
        var evaluated = 0
        func counted() -> Logger { evaluated += 1; return log }
        trace.request(counted(), apiKey: 0, apiVersion: 9, correlationId: 1, bytes: 100)
        trace.response(counted(), request: InflightRequest(correlationId: 1, apiKey: 0, apiVersion: 9, startNanos: 0),
                       bytes: 50, payload: nil)
        XCTAssertEqual(evaluated, 0)
        XCTAssertTrue(captured.events.isEmpty)
    }

    func testOnWritesARequestAndAResponseLineAtTheConfiguredLevel() {
        let trace = ProtocolTrace(ProxyConfig.Logging(level: .info, protocol: true))
        let (log, captured) = logger()
        trace.request(log, apiKey: ApiKey.produce.rawValue, apiVersion: 9, correlationId: 42, bytes: 1187)
        let start = DispatchTime.now().uptimeNanoseconds - 2_500_000
        trace.response(log, request: InflightRequest(correlationId: 42, apiKey: ApiKey.produce.rawValue, apiVersion: 9,
                                                    startNanos: start), bytes: 71, payload: nil)
        let lines = captured.events
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines.map(\.0), [.info, .info])
        XCTAssertEqual(lines[0].1, "request api=Produce version=9 correlationId=42 bytes=1187")
        XCTAssertTrue(lines[1].1.hasPrefix("response api=Produce version=9 correlationId=42 bytes=71 latencyMs=2."), lines[1].1)
        XCTAssertFalse(lines[1].1.contains("errorCode"), "a passed-through Produce response is not decoded")
    }

    func testLevelTraceTurnsItOnAndAReloadSwitchesIt() {
        let trace = ProtocolTrace(ProxyConfig.Logging(level: .trace))
        XCTAssertTrue(trace.isOn)
        let (log, captured) = logger()
        trace.request(log, apiKey: 3, apiVersion: 12, correlationId: 7, bytes: 30)
        XCTAssertEqual(captured.events.first?.0, .trace)
        trace.apply(ProxyConfig.Logging(level: .info))
        XCTAssertFalse(trace.isOn)
        trace.request(log, apiKey: 3, apiVersion: 12, correlationId: 8, bytes: 30)
        XCTAssertEqual(captured.events.count, 1)
    }

    func testResponseLineCarriesTheErrorCodeOfAResponseHeldWhole() {
        let trace = ProtocolTrace(ProxyConfig.Logging(protocol: true))
        let (log, captured) = logger()
        // ApiVersions v3 answer (header v0): correlation id, error_code 35 (UNSUPPORTED_VERSION).
        let payload: [UInt8] = [0, 0, 0, 5, 0, 35, 0]
        trace.response(log, request: InflightRequest(correlationId: 5, apiKey: ApiKey.apiVersions.rawValue, apiVersion: 3,
                                                    startNanos: DispatchTime.now().uptimeNanoseconds),
                       bytes: payload.count + 4, payload: payload)
        XCTAssertTrue(captured.events.first?.1.hasSuffix(" errorCode=35") ?? false,
                      captured.events.first?.1 ?? "")
    }

    func testTopLevelErrorCodes() {
        func code(_ api: ApiKey, _ version: Int16, _ payload: [UInt8]) -> Int16? {
            ProtocolTrace.topLevelErrorCode(apiKey: api.rawValue, apiVersion: version, payload: payload)
        }
        let correlation: [UInt8] = [0, 0, 0, 9]
        XCTAssertEqual(code(.apiVersions, 3, correlation + [0, 0]), 0)
        // InitProducerId v4 is flexible: header tagged fields (none), throttle_time_ms, error_code 15.
        XCTAssertEqual(code(.initProducerId, 4, correlation + [0] + [0, 0, 0, 0] + [0, 15]), 15)
        // v1 is not: throttle_time_ms right after the correlation id.
        XCTAssertEqual(code(.initProducerId, 1, correlation + [0, 0, 0, 0, 0, 47]), 47)
        XCTAssertEqual(code(.syncGroup, 0, correlation + [0, 25]), 25)
        XCTAssertEqual(code(.syncGroup, 3, correlation + [0, 0, 0, 0, 0, 27]), 27)
        XCTAssertEqual(code(.findCoordinator, 2, correlation + [0, 0, 0, 0, 0, 15]), 15)
        XCTAssertNil(code(.findCoordinator, 4, correlation + [0, 0, 0, 0, 0, 0, 0]), "v4+ answers per key")
        XCTAssertNil(code(.metadata, 12, correlation + [0, 0, 0, 0, 0]), "Metadata has no top-level error")
        XCTAssertNil(code(.produce, 9, correlation + [0, 0]))
        XCTAssertNil(code(.initProducerId, 1, correlation + [0, 0]), "too short")
        XCTAssertNil(code(.apiVersions, 3, [0, 0]), "shorter than a correlation id")
    }
}
