import KafkaProtocol
@testable import ProxyCore
import XCTest

/// A proxy that hides leader epochs in Metadata sends every Fetch with epoch -1: the epoch a client
/// sends (librdkafka: 0 for unknown) would fence it on a cluster whose leaders have moved.
final class ConnectionMachineLeaderEpochTests: XCTestCase {
    private func fetch(_ correlationId: Int32, epoch: Int32, version: Int16 = 12) -> [UInt8] {
        let body = FetchRequest(topics: [.init(name: "t", partitions: [.init(partition: 0, fetchOffset: 324, currentLeaderEpoch: epoch),
                                                                        .init(partition: 1, fetchOffset: 9, currentLeaderEpoch: -1)])])
            .encoded(version: version)
        return StreamFixtures.request(.fetch, version, correlationId: correlationId, body: body)
    }

    func testFetchEpochsAreClearedWhenTheProxyHidesThem() {
        var d = MachineDriver(clearsLeaderEpochs: true)
        d.relaying()
        for version: Int16 in [9, 12, 16] {
            XCTAssertEqual(d.client(fetch(1, epoch: 0, version: version)).toBroker, fetch(1, epoch: -1, version: version), "v\(version)")
        }
        // Other requests, and a Fetch without an epoch, pass as they are.
        XCTAssertEqual(d.client(fetch(2, epoch: -1)).toBroker, fetch(2, epoch: -1))
        XCTAssertEqual(d.client(Frames.produce(3)).toBroker, Frames.produce(3))
    }

    func testFetchEpochsPassWithOneCluster() {
        var d = MachineDriver()
        d.relaying()
        XCTAssertEqual(d.client(fetch(1, epoch: 4)).toBroker, fetch(1, epoch: 4))
    }
}
