#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KafkaProtocol

/// The committed seed corpus (Fuzz/corpus/<target>/seed-*), built with the codec's encoders:
///   KAFKA_FUZZ_SEED_DIR=Fuzz/corpus .build-fuzz/debug/KafkaFuzz
/// Each seed is the control bytes its target reads first, then the wire bytes.
enum Seeds {
    static func write(to dir: String) {
        var all: [String: [[UInt8]]] = [:]
        all["request_header"] = requestPayloads()
        all["request_framing"] = framingSeeds()
        all["response_rewrite"] = responseSeeds().map { [$0.api, UInt8($0.version), 1] + $0.payload }
        all["response_relay"] = relaySeeds()
        // The same streams with the pull targets' extra control byte (decisions; proxy requests and strays).
        all["request_relay"] = framingSeeds().enumerated().map { i, seed in
            Array(seed[..<2]) + [UInt8(truncatingIfNeeded: i &* 53)] + seed[2...]
        }
        all["response_relay_pull"] = relaySeeds().enumerated().map { i, seed in
            let at = 1 + 2 * (Int(seed[0]) + 1)
            return Array(seed[..<at]) + [UInt8(truncatingIfNeeded: 0x24 &+ i &* 29)] + seed[at...]
        }
        all["produce_batches"] = produceRequests().map { [UInt8]($0.dropFirst(4)) }
        all["topic_names"] = topicNameSeeds()
        all["transaction_requests"] = (transactionRequests() + produceRequests()).map { [UInt8]($0.dropFirst(4)) }
        // Flags (SASL, translation, held fetches) and a chunk seed, then "connected", then client bytes.
        all["connection_machine"] = framingSeeds().enumerated().map { i, seed in
            [UInt8(truncatingIfNeeded: i % 8), UInt8(truncatingIfNeeded: i), 6, 0] + seed
        }
        for (target, seeds) in all.sorted(by: { $0.key < $1.key }) {
            let sub = dir + "/" + target
            mkdir(dir, 0o755)
            mkdir(sub, 0o755)
            for (i, seed) in seeds.enumerated() {
                let path = sub + "/seed-" + String(i / 10) + String(i % 10)
                guard let f = fopen(path, "wb") else { eprint("cannot write \(path)"); exit(1) }
                _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
                fclose(f)
            }
            print("\(target): \(seeds.count) seeds")
        }
    }

    // MARK: requests

    static func request(_ api: ApiKey, _ version: Int16, _ correlationId: Int32, _ body: [UInt8],
                        clientId: String? = "fuzz-client", tags: [TaggedField] = []) -> [UInt8] {
        KafkaFrame.request(header: RequestHeader(apiKey: api.rawValue, apiVersion: version, correlationId: correlationId,
                                                 clientId: clientId, taggedFields: tags),
                           body: body)
    }

    static func batch(producerId: Int64, epoch: Int16, sequence: Int32, transactional: Bool = false, records: Int = 2) -> [UInt8] {
        var b = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000)
        b.producerId = producerId
        b.producerEpoch = epoch
        b.baseSequence = sequence
        b.isTransactional = transactional
        return b.build((0..<records).map { Record(key: Array("k\($0)".utf8), value: Array("value-\($0)".utf8)) })
    }

    /// Framed Produce requests at every version the translator handles, with idempotent,
    /// transactional and plain batches, several partitions and a null record set.
    static func produceRequests() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for version in Int16(3)...13 {
            let idempotent = batch(producerId: 1000, epoch: 0, sequence: 0)
            let two = batch(producerId: 1001, epoch: 2, sequence: 5) + batch(producerId: 1001, epoch: 2, sequence: 7, records: 1)
            var topicA = ProduceRequest.Topic(name: "orders", partitions: [
                .init(index: 0, records: idempotent), .init(index: 1, records: two), .init(index: 2, records: nil)])
            var topicB = ProduceRequest.Topic(name: "audit", partitions: [.init(index: 0, records: batch(producerId: -1, epoch: -1, sequence: -1))])
            if version >= 13 {
                topicA.topicId = KafkaUUID(high: 0x0102030405060708, low: 0x090a0b0c0d0e0f10)
                topicB.topicId = KafkaUUID(high: 0xc9cacbcccdcecfd0, low: 0xd1d2d3d4d5d6d7d8)
            }
            let produce = ProduceRequest(acks: -1, timeoutMs: 30_000, topics: [topicA, topicB])
            out.append(request(.produce, version, Int32(version), produce.encoded(version: version)))
            var txn = ProduceRequest(topic: "tx", partition: 0, records: batch(producerId: 2000, epoch: 1, sequence: 0, transactional: true), acks: 1)
            txn.transactionalId = "tx-1"
            if version == 3 || version == 9 || version == 13 {
                out.append(request(.produce, version, 99, txn.encoded(version: version)))
            }
        }
        out.append(request(.produce, 7, 5, ProduceRequest(topic: "zero", partition: 0, records: batch(producerId: 1, epoch: 0, sequence: 0), acks: 0).encoded(version: 7)))
        return out
    }

    /// InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit at every
    /// version; odd producer ids are the foreign ones in the target.
    static func transactionRequests() -> [[UInt8]] {
        var out: [[UInt8]] = []
        for version in Int16(0)...5 {
            let body = InitProducerIdRequest(transactionalId: "tx", producerId: version >= 3 ? 1001 : -1,
                                             producerEpoch: 2).encoded(version: version)
            out.append(request(.initProducerId, version, 1, body))
        }
        func producer(_ w: inout ByteWriter, _ flexible: Bool, _ id: Int64) {
            w.writeString("tx", flexible: flexible)
            w.writeInt64(id)
            w.writeInt16(1)
        }
        func topics(_ w: inout ByteWriter, _ flexible: Bool, partition: (inout ByteWriter) -> Void) {
            w.writeArrayCount(1, flexible: flexible)
            w.writeString("t", flexible: flexible)
            w.writeArrayCount(2, flexible: flexible)
            partition(&w)
            partition(&w)
            w.writeTaggedFields([], if: flexible)
        }
        for version in Int16(0)...5 {
            let flexible = version >= 3
            var w = ByteWriter()
            if version >= 4 {
                w.writeArrayCount(1, flexible: true)
                producer(&w, true, 1003)
                w.writeBool(false)
                topics(&w, true) { $0.writeInt32(4) }
                w.writeTaggedFields([])
            } else {
                producer(&w, flexible, 1003)
                topics(&w, flexible) { $0.writeInt32(4) }
            }
            w.writeTaggedFields([], if: flexible)
            out.append(request(.addPartitionsToTxn, version, 2, w.bytes))
            var end = ByteWriter()
            producer(&end, flexible, 1005)
            end.writeBool(true)
            end.writeTaggedFields([], if: flexible)
            out.append(request(.endTxn, version, 3, end.bytes))
        }
        for version in Int16(0)...4 {
            let flexible = version >= 3
            var add = ByteWriter()
            producer(&add, flexible, 1007)
            add.writeString("g", flexible: flexible)
            add.writeTaggedFields([], if: flexible)
            out.append(request(.addOffsetsToTxn, version, 4, add.bytes))
            var commit = ByteWriter()
            commit.writeString("tx", flexible: flexible)
            commit.writeString("g", flexible: flexible)
            commit.writeInt64(1009)
            commit.writeInt16(1)
            if version >= 3 {
                commit.writeInt32(5)
                commit.writeString("m", flexible: true)
                commit.writeNullableString(nil, flexible: true)
            }
            topics(&commit, flexible) { w in
                w.writeInt32(0)
                w.writeInt64(42)
                if version >= 2 { w.writeInt32(-1) }
                w.writeNullableString("", flexible: flexible)
                w.writeTaggedFields([], if: flexible)
            }
            commit.writeTaggedFields([], if: flexible)
            out.append(request(.txnOffsetCommit, version, 5, commit.bytes))
        }
        return out
    }

    static func otherRequests() -> [[UInt8]] {
        [
            request(.apiVersions, 0, 1, [], clientId: nil),
            request(.apiVersions, 3, 2, ApiVersionsRequest(clientSoftwareName: "swift", clientSoftwareVersion: "1.0").encoded(version: 3)),
            request(.apiVersions, 4, 3, ApiVersionsRequest(clientSoftwareName: "x", clientSoftwareVersion: "y").encoded(version: 4),
                    tags: [TaggedField(tag: 3, data: [1, 2, 3])]),
            request(.metadata, 1, 4, MetadataRequest(topicNames: ["a", "b"]).encoded(version: 1)),
            request(.metadata, 9, 5, MetadataRequest(topicNames: nil).encoded(version: 9)),
            request(.metadata, 12, 6, MetadataRequest(topicNames: ["orders"]).encoded(version: 12)),
            request(.metadata, 13, 7, MetadataRequest(topicNames: []).encoded(version: 13)),
            request(.findCoordinator, 3, 8, FindCoordinatorRequest(key: "group-1").encoded(version: 3)),
            request(.findCoordinator, 4, 9, FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["g1", "g2"]).encoded(version: 4)),
            request(.describeCluster, 1, 10, DescribeClusterRequest().encoded(version: 1)),
            request(.fetch, 4, 11, FetchRequest(topics: [.init(name: "orders", partitions: [.init(partition: 0, fetchOffset: 7)])]).encoded(version: 4)),
            request(.fetch, 16, 12, FetchRequest(topics: [.init(topicId: KafkaUUID(high: 0x0707070707070707, low: 0x0707070707070707),
                                                                partitions: [.init(partition: 0, fetchOffset: 7)])]).encoded(version: 16)),
            request(.initProducerId, 4, 13, InitProducerIdRequest().encoded(version: 4)),
            request(.metadata, 14, 14, MetadataRequest(topicNames: nil).encoded(version: 13)),   // too new to rewrite
            request(.listOffsets, 2, 15, Array(repeating: 0x11, count: 30), clientId: String(repeating: "c", count: 300)),
        ]
    }

    /// Bodies naming the topic "orders", with the control bytes of `FuzzTargets.topicNames`.
    static func topicNameSeeds() -> [[UInt8]] {
        func seed(_ api: ApiKey, _ version: Int16, response: Bool, _ body: [UInt8]) -> [UInt8] {
            let index = FuzzTargets.topicNameApis.firstIndex { $0.key == api.rawValue }!
            return [UInt8(index), UInt8(version), response ? 3 : 0] + body
        }
        var out: [[UInt8]] = []
        for v: Int16 in [1, 4, 9, 12, 13] {
            out.append(seed(.metadata, v, response: false, MetadataRequest(topicNames: ["orders", "audit"]).encoded(version: v)))
        }
        for v: Int16 in [3, 9, 12] {
            let produce = ProduceRequest(topic: "orders", partition: 0, records: batch(producerId: 1, epoch: 0, sequence: 0), acks: -1)
            out.append(seed(.produce, v, response: false, produce.encoded(version: v)))
        }
        for v: Int16 in [2, 8, 9, 12] { out.append(seed(.produce, v, response: true, produceResponseBody(version: v))) }
        for v: Int16 in [4, 12] {
            let fetch = FetchRequest(topics: [.init(name: "orders", partitions: [.init(partition: 0, fetchOffset: 7)])])
            out.append(seed(.fetch, v, response: false, fetch.encoded(version: v)))
            out.append(seed(.fetch, v, response: true, fetchResponseBody(version: v)))
        }
        return out
    }

    static func requestPayloads() -> [[UInt8]] {
        (otherRequests() + produceRequests()).map { Array($0.dropFirst(4)) }
    }

    static func framingSeeds() -> [[UInt8]] {
        let others = otherRequests()
        let produce = produceRequests()
        var out: [[UInt8]] = []
        out.append([1, 0] + others[1] + others[5] + produce[0] + others[10] + produce.last!)
        out.append([2, 7] + others.joined())
        out.append([1, 3] + produce.prefix(6).joined())
        out.append([0, 1] + others[0] + others[3])                      // the 64-byte limit cuts the second
        out.append([1, 9] + others[2] + Array(produce[3].prefix(40)))   // ends inside a header
        out.append([1, 5] + [0, 0, 0, 4, 0, 18, 0, 0])                    // size below a header
        out.append([1, 5] + [0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])         // 2 GiB
        out.append([1, 5] + [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])  // TLS ClientHello
        return out
    }

    // MARK: responses

    /// (index in FuzzTargets.responseApis, version, payload after the size prefix).
    static func responseSeeds() -> [(api: UInt8, version: Int16, payload: [UInt8])] {
        func index(_ key: ApiKey) -> UInt8 { UInt8(FuzzTargets.responseApis.firstIndex { $0.key == key.rawValue }!) }
        func payload(_ key: ApiKey, _ version: Int16, _ body: [UInt8], correlationId: Int32 = 1) -> [UInt8] {
            Array(KafkaFrame.response(apiKey: key.rawValue, apiVersion: version, correlationId: correlationId, body: body).dropFirst(4))
        }
        var out: [(UInt8, Int16, [UInt8])] = []
        let brokers = [
            MetadataResponse.Broker(nodeId: 1, host: "broker-a.internal", port: 9092, rack: "r1"),
            MetadataResponse.Broker(nodeId: 2, host: "broker-b.internal", port: 9093),
            MetadataResponse.Broker(nodeId: 3, host: "10.0.0.3", port: 19092, rack: "r3"),
        ]
        let topics = [
            MetadataResponse.Topic(name: "orders", topicId: KafkaUUID(high: 0x0909090909090909, low: 0x0909090909090909), partitions: [
                .init(partitionIndex: 0, leaderId: 1, leaderEpoch: 12, replicaNodes: [1, 2], isrNodes: [1, 2]),
                .init(partitionIndex: 1, leaderId: 2, leaderEpoch: 4, replicaNodes: [2, 3], isrNodes: [2], offlineReplicas: [3]),
            ]),
            MetadataResponse.Topic(errorCode: 3, name: "missing", partitions: []),
        ]
        let metadata = MetadataResponse(brokers: brokers, clusterId: "cluster-x", controllerId: 1, topics: topics)
        for v in Int16(0)...MetadataResponse.maxVersion {
            out.append((index(.metadata), v, payload(.metadata, v, metadata.encoded(version: v))))
        }
        let find = FindCoordinatorResponse(nodeId: 2, host: "broker-b.internal", port: 9093, coordinators: [
            .init(key: "g1", nodeId: 1, host: "broker-a.internal", port: 9092),
            .init(key: "g2", nodeId: -1, host: "", port: -1, errorCode: 15, errorMessage: "not available"),
        ])
        for v in Int16(0)...FindCoordinatorResponse.maxVersion {
            out.append((index(.findCoordinator), v, payload(.findCoordinator, v, find.encoded(version: v))))
        }
        let describe = DescribeClusterResponse(clusterId: "cluster-x", controllerId: 1, brokers: [
            .init(brokerId: 1, host: "broker-a.internal", port: 9092, rack: "r1"),
            .init(brokerId: 2, host: "broker-b.internal", port: 9093, isFenced: true),
        ])
        for v in Int16(0)...DescribeClusterResponse.maxVersion {
            out.append((index(.describeCluster), v, payload(.describeCluster, v, describe.encoded(version: v))))
        }
        let versions = ApiVersionsResponse(apiKeys: [
            .init(apiKey: 0, minVersion: 0, maxVersion: 99), .init(apiKey: 1, minVersion: 0, maxVersion: 17),
            .init(apiKey: 3, minVersion: 0, maxVersion: 13), .init(apiKey: 18, minVersion: 0, maxVersion: 4),
            .init(apiKey: 76, minVersion: 0, maxVersion: 1), .init(apiKey: 999, minVersion: 0, maxVersion: 1),
        ])
        for v in Int16(0)...4 {
            out.append((index(.apiVersions), v, payload(.apiVersions, v, versions.encoded(version: v))))
        }
        out.append((index(.apiVersions), 3, [0, 0, 0, 1, 0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 2, 0]))   // UNSUPPORTED_VERSION
        for v in Int16(0)...5 {
            var w = ByteWriter()
            InitProducerIdResponse(producerId: 4242, producerEpoch: 3).encode(into: &w, version: v)
            out.append((index(.initProducerId), v, payload(.initProducerId, v, w.bytes)))
        }
        for v in Int16(0)...ProduceResponseWalker.maxVersion {
            out.append((index(.produce), v, payload(.produce, v, produceResponseBody(version: v))))
        }
        for v in Int16(0)...FetchResponseWalker.maxVersion {
            out.append((index(.fetch), v, payload(.fetch, v, fetchResponseBody(version: v))))
        }
        out.append((index(.listOffsets), 5, payload(.listOffsets, 5, Array(repeating: 0x42, count: 24))))
        return out
    }

    static let nodeEndpoints = NodeEndpoint.encodeList([
        NodeEndpoint(nodeId: 2, host: "broker-b.internal", port: 9093),
        NodeEndpoint(nodeId: 3, host: "10.0.0.3", port: 19092, rack: "r3"),
    ])

    /// One topic, one partition with a record error (v8+) and a CurrentLeader tag (v10+), then
    /// top-level NodeEndpoints (v10+) and an unknown top-level tag.
    static func produceResponseBody(version v: Int16) -> [UInt8] {
        let flex = v >= 9
        var w = ByteWriter()
        w.writeArrayCount(1, flexible: flex)
        if v >= 13 { w.writeUUID(KafkaUUID(high: 0x0909090909090909, low: 0x0909090909090909)) } else { w.writeString("orders", flexible: flex) }
        w.writeArrayCount(1, flexible: flex)
        w.writeInt32(0); w.writeInt16(0); w.writeInt64(100)
        if v >= 2 { w.writeInt64(-1) }
        if v >= 5 { w.writeInt64(0) }
        if v >= 8 {
            w.writeArrayCount(1, flexible: flex)
            w.writeInt32(3); w.writeNullableString("bad record", flexible: flex)
            w.writeTaggedFields([], if: flex)
            w.writeNullableString(nil, flexible: flex)
        }
        if v >= 10 {
            var leader = ByteWriter(); leader.writeInt32(2); leader.writeInt32(5); leader.writeTaggedFields([])
            w.writeTaggedFields([TaggedField(tag: 0, data: leader.bytes)])
        } else {
            w.writeTaggedFields([], if: flex)
        }
        w.writeTaggedFields([], if: flex)
        if v >= 1 { w.writeInt32(0) }
        if v >= 10 {
            w.writeTaggedFields([TaggedField(tag: 0, data: nodeEndpoints), TaggedField(tag: 5, data: [0xab])])
        } else {
            w.writeTaggedFields([], if: flex)
        }
        return w.bytes
    }

    /// One topic, one partition with an aborted transaction and a record batch, then top-level
    /// NodeEndpoints (v16+).
    static func fetchResponseBody(version v: Int16) -> [UInt8] {
        let flex = v >= 12
        var w = ByteWriter()
        if v >= 1 { w.writeInt32(0) }
        if v >= 7 { w.writeInt16(0); w.writeInt32(77) }
        w.writeArrayCount(1, flexible: flex)
        if v >= 13 { w.writeUUID(KafkaUUID(high: 0x0909090909090909, low: 0x0909090909090909)) } else { w.writeString("orders", flexible: flex) }
        w.writeArrayCount(1, flexible: flex)
        w.writeInt32(0); w.writeInt16(0); w.writeInt64(10)
        if v >= 4 { w.writeInt64(10) }
        if v >= 5 { w.writeInt64(0) }
        if v >= 4 {
            w.writeArrayCount(1, flexible: flex)
            w.writeInt64(1000); w.writeInt64(3)
            w.writeTaggedFields([], if: flex)
        }
        if v >= 11 { w.writeInt32(-1) }
        w.writeNullableBytes(batch(producerId: 1000, epoch: 0, sequence: 0), flexible: flex)
        if v >= 16 {
            var leader = ByteWriter(); leader.writeInt32(2); leader.writeInt32(5); leader.writeTaggedFields([])
            w.writeTaggedFields([TaggedField(tag: 1, data: leader.bytes)])
        } else {
            w.writeTaggedFields([], if: flex)
        }
        w.writeTaggedFields([], if: flex)
        if v >= 16 {
            w.writeTaggedFields([TaggedField(tag: 0, data: nodeEndpoints)])
        } else {
            w.writeTaggedFields([], if: flex)
        }
        return w.bytes
    }

    static func relaySeeds() -> [[UInt8]] {
        let responses = responseSeeds()
        var out: [[UInt8]] = []
        // Groups of up to 4 consecutive responses (mixed apis), correlation ids 1...n.
        var i = 0
        var seed: UInt8 = 0
        while i < responses.count {
            let group = Array(responses[i..<min(i + 4, responses.count)])
            var control: [UInt8] = [UInt8(group.count - 1)]
            var stream: [UInt8] = []
            for (k, r) in group.enumerated() {
                control += [r.api, UInt8(r.version)]
                var p = r.payload
                let cid = Int32(k + 1).bigEndian
                withUnsafeBytes(of: cid) { for j in 0..<4 { p[j] = $0[j] } }
                stream += KafkaFrame.framed(p)
            }
            out.append(control + [2, seed] + stream)
            seed &+= 37
            i += 4
        }
        return out
    }
}
