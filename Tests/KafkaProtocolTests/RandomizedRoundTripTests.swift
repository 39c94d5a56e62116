import XCTest
@testable import KafkaProtocol

/// encode -> decode -> encode over random structs, and mutation fuzzing of the hand-made vectors.
final class RandomizedRoundTripTests: XCTestCase {
    var rng = SplitMix64(seed: 0xC0DEC)

    func int32() -> Int32 { Int32.random(in: -5...100_000, using: &rng) }
    func int16() -> Int16 { Int16.random(in: -1...200, using: &rng) }
    func bool() -> Bool { Bool.random(using: &rng) }
    func string() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789.-é漢")
        return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }
    func nullableString() -> String? { bool() ? nil : string() }
    func tags() -> [TaggedField] {
        (0..<Int.random(in: 0...2, using: &rng)).map { i in
            TaggedField(tag: UInt32(i * 3 + 1), data: (0..<Int.random(in: 0...4, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
    }
    func int32s() -> [Int32] { (0..<Int.random(in: 0...4, using: &rng)).map { _ in int32() } }

    func randomMetadata(_ v: Int16) -> MetadataResponse {
        let flex = v >= 9
        return MetadataResponse(
            throttleTimeMs: int32(),
            brokers: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                .init(nodeId: int32(), host: string(), port: int32(), rack: nullableString(), taggedFields: flex ? tags() : [])
            },
            clusterId: nullableString(), controllerId: int32(),
            topics: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                .init(errorCode: int16(), name: v >= 12 ? nullableString() : string(),
                      topicId: KafkaUUID(high: rng.next(), low: rng.next()), isInternal: bool(),
                      partitions: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                          .init(errorCode: int16(), partitionIndex: int32(), leaderId: int32(), leaderEpoch: int32(),
                                replicaNodes: int32s(), isrNodes: int32s(), offlineReplicas: int32s(), taggedFields: flex ? tags() : [])
                      },
                      topicAuthorizedOperations: int32(), taggedFields: flex ? tags() : [])
            },
            clusterAuthorizedOperations: int32(), errorCode: int16(), taggedFields: flex ? tags() : [])
    }

    func testMetadataRandomRoundTrip() throws {
        for _ in 0..<40 {
            for v in Int16(0)...13 {
                let bytes = randomMetadata(v).encoded(version: v)
                let decoded = try MetadataResponse.decode(bytes, version: v)
                XCTAssertEqual(decoded.encoded(version: v), bytes, "v\(v)")
                let payload = (v >= 9 ? hex("00000001 00") : hex("00000001")) + bytes
                XCTAssertEqual(try EndpointRewriting.rewriteResponse(apiKey: 3, apiVersion: v, payload: payload) { _ in }, payload)
            }
        }
    }

    func testFindCoordinatorRandomRoundTrip() throws {
        for _ in 0..<40 {
            for v in Int16(0)...6 {
                let flex = v >= 3
                let f = FindCoordinatorResponse(
                    throttleTimeMs: int32(), errorCode: int16(), errorMessage: v >= 1 ? nullableString() : nil, nodeId: int32(),
                    host: string(), port: int32(),
                    coordinators: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                        .init(key: string(), nodeId: int32(), host: string(), port: int32(), errorCode: int16(),
                              errorMessage: nullableString(), taggedFields: flex ? tags() : [])
                    },
                    taggedFields: flex ? tags() : [])
                let bytes = f.encoded(version: v)
                XCTAssertEqual(try FindCoordinatorResponse.decode(bytes, version: v).encoded(version: v), bytes, "v\(v)")
            }
        }
    }

    func testDescribeClusterAndApiVersionsRandomRoundTrip() throws {
        for _ in 0..<40 {
            for v in Int16(0)...2 {
                let d = DescribeClusterResponse(
                    throttleTimeMs: int32(), errorCode: int16(), errorMessage: nullableString(), endpointType: Int8.random(in: 1...2, using: &rng),
                    clusterId: string(), controllerId: int32(),
                    brokers: (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                        .init(brokerId: int32(), host: string(), port: int32(), rack: nullableString(), isFenced: bool(), taggedFields: tags())
                    },
                    clusterAuthorizedOperations: int32(), taggedFields: tags())
                let bytes = d.encoded(version: v)
                XCTAssertEqual(try DescribeClusterResponse.decode(bytes, version: v).encoded(version: v), bytes)
            }
            for v in Int16(0)...4 {
                let a = ApiVersionsResponse(
                    errorCode: Int16.random(in: 0...1, using: &rng),
                    apiKeys: (0..<Int.random(in: 0...5, using: &rng)).map { _ in
                        .init(apiKey: int16(), minVersion: int16(), maxVersion: int16(), taggedFields: v >= 3 ? tags() : [])
                    },
                    throttleTimeMs: int32(), taggedFields: v >= 3 ? tags() : [])
                let bytes = a.encoded(version: v)
                XCTAssertEqual(try ApiVersionsResponse.decode(bytes, version: v).encoded(version: v), bytes)
            }
        }
    }

    func testNodeEndpointsRandomRoundTrip() throws {
        for _ in 0..<50 {
            let list = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                NodeEndpoint(nodeId: int32(), host: string(), port: int32(), rack: nullableString(), taggedFields: tags())
            }
            let bytes = NodeEndpoint.encodeList(list)
            XCTAssertEqual(try NodeEndpoint.decodeList(bytes), list)
        }
    }

    /// Flipping, dropping and inserting bytes must never crash a decoder: it throws or decodes.
    func testMutatedVectorsNeverCrash() {
        let corpus: [(ApiKey, Int16, [UInt8])] = [
            (.metadata, 0, hex("00000001") + MetadataResponseTests.v0),
            (.metadata, 7, hex("00000001") + MetadataResponseTests.v7),
            (.metadata, 9, hex("00000001 00") + MetadataResponseTests.v9),
            (.metadata, 12, hex("00000001 00") + MetadataResponseTests.v12),
            (.findCoordinator, 4, hex("00000001 00") + CoordinatorClusterTests.fc4),
            (.describeCluster, 2, hex("00000001 00") + CoordinatorClusterTests.dc2),
            (.produce, 10, EndpointRewritingTests.produceV10Prefix + hex("01 00 0e") + EndpointRewritingTests.nodeEndpointsB2),
            (.fetch, 16, EndpointRewritingTests.fetchV16Prefix + hex("01 00 0e") + EndpointRewritingTests.nodeEndpointsB2),
        ]
        let specials: [UInt8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]
        for _ in 0..<300 {
            for (key, version, original) in corpus {
                var b = original
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let i = Int.random(in: 0..<b.count, using: &rng)
                    switch Int.random(in: 0...2, using: &rng) {
                    case 0: b[i] = specials.randomElement(using: &rng)!
                    case 1: b.remove(at: i)
                    default: b.insert(specials.randomElement(using: &rng)!, at: i)
                    }
                    if b.isEmpty { b = [0] }
                }
                _ = try? EndpointRewriting.rewriteResponse(apiKey: key.rawValue, apiVersion: version, payload: b) { $0.host = "x" }
                _ = try? RequestHeader.parse(b)
                _ = try? ApiVersionsResponse.decode(b, version: version % 5)
                _ = try? ProduceRequest.peekAcks(b, version: version)
            }
        }
    }
}
