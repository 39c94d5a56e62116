// kafka-synthetic-broker: answers ApiVersions, Metadata, Produce and Fetch at once, from one epoll
// thread, so that a benchmark measures the relay in front of it and not a broker.
//
// Listeners: `--listen HOST:PORT[=ADVERTISED_HOST:ADVERTISED_PORT]`, repeatable. Metadata on a
// listener advertises that listener's advertised address (default: itself). A relay that does not
// rewrite Metadata (an L4 relay such as HAProxy) sits in front of a listener that advertises the
// relay's own frontend, so a client following Metadata keeps going through the relay.
import ArgumentParser
import BenchSupport
import CBenchShims
import KafkaProtocol
#if canImport(Glibc)
import Glibc
#endif

@main
struct SyntheticBroker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-synthetic-broker",
        abstract: "A Kafka broker stand-in that answers ApiVersions/Metadata/Produce/Fetch immediately."
    )

    @Option(name: .long, help: "HOST:PORT[=ADVERTISED_HOST:PORT]; repeatable.")
    var listen: [String] = ["127.0.0.1:19092"]

    @Option(help: "Topic advertised in Metadata.")
    var topic = "bench"

    @Option(help: "Partitions of the topic (all led by this broker, node 1).")
    var partitions: Int32 = 1

    @Option(help: "Bytes of the record batch a Fetch returns when the request asks for more (cap).")
    var fetchBytesCap: Int = 8 << 20

    mutating func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var listeners: [Int32: (host: String, port: Int32)] = [:]
        for spec in listen {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard let bind = Sock.parseHostPort(parts[0]) else { throw ValidationError("bad --listen \(spec)") }
            let adv = parts.count > 1 ? Sock.parseHostPort(parts[1]) : bind
            guard let adv else { throw ValidationError("bad advertised address in \(spec)") }
            let fd = try Sock.listen(host: bind.host, port: bind.port)
            Sock.setNonBlocking(fd)
            listeners[fd] = (adv.host, Int32(adv.port))
            print("listening on \(bind.host):\(bind.port), advertising \(adv.host):\(adv.port)")
        }
        fflush(stdout)
        let broker = Broker(listeners: listeners, topic: topic, partitions: partitions, fetchBytesCap: fetchBytesCap)
        broker.loop()
    }
}

final class Conn {
    let fd: Int32
    let advertised: (host: String, port: Int32)
    var inBuf: UnsafeMutableRawPointer
    var inCap: Int
    var inLen = 0
    var out: [UInt8] = []
    var outOff = 0
    var wantWrite = false

    init(fd: Int32, advertised: (host: String, port: Int32)) {
        self.fd = fd
        self.advertised = advertised
        inCap = 64 << 10
        inBuf = .allocate(byteCount: inCap, alignment: 8)
    }

    deinit { inBuf.deallocate() }
}

final class Broker {
    let listeners: [Int32: (host: String, port: Int32)]
    let topic: String
    let partitions: Int32
    let fetchBytesCap: Int
    var conns: [Int32: Conn] = [:]
    let ep = Epoll(capacity: 4096)
    /// Fetch record batches by requested size (a benchmark asks for a handful of sizes).
    var fetchBatches: [Int: [UInt8]] = [:]

    // Versions this broker speaks: Produce v3-11 (v3+ = record batches; v12+ needs the newer
    // Produce semantics), Fetch v4-12 (v13+ addresses topics by id), Metadata v0-12, ApiVersions v0-3.
    static let apiRanges: [(ApiKey, Int16, Int16)] = [
        (.produce, 3, 11), (.fetch, 4, 12), (.metadata, 0, 12), (.apiVersions, 0, 3),
    ]

    init(listeners: [Int32: (host: String, port: Int32)], topic: String, partitions: Int32, fetchBytesCap: Int) {
        self.listeners = listeners
        self.topic = topic
        self.partitions = partitions
        self.fetchBytesCap = fetchBytesCap
        for fd in listeners.keys { ep.add(fd) }
    }

    func loop() {
        while true {
            let n = ep.wait(timeoutMs: -1)
            for i in 0..<n {
                                let fd = ep.fds[i]
                if let adv = listeners[fd] {
                    acceptAll(fd, adv)
                    continue
                }
                guard let c = conns[fd] else { continue }
                if ep.flags[i].hasRead { if !readable(c) { drop(c); continue } }
                if ep.flags[i].hasWrite || !c.out.isEmpty { if !flush(c) { drop(c) } }
            }
        }
    }

    func acceptAll(_ lfd: Int32, _ adv: (host: String, port: Int32)) {
        while true {
            let fd = bench_accept_nonblock(lfd)
            if fd < 0 { return }
            Sock.setNoDelay(fd)
            conns[fd] = Conn(fd: fd, advertised: adv)
            ep.add(fd)
        }
    }

    func drop(_ c: Conn) {
        ep.remove(c.fd)
        close(c.fd)
        conns[c.fd] = nil
    }

    /// Reads until EAGAIN, answering every complete frame. false = close the connection.
    func readable(_ c: Conn) -> Bool {
        while true {
            if c.inLen == c.inCap {
                // Grow for a large frame.
                let need = c.inLen >= 4 ? Int(loadInt32BE(c.inBuf)) + 4 : c.inCap * 2
                let newCap = max(c.inCap * 2, need)
                let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 8)
                nb.copyMemory(from: c.inBuf, byteCount: c.inLen)
                c.inBuf.deallocate()
                c.inBuf = nb
                c.inCap = newCap
            }
            let n = read(c.fd, c.inBuf + c.inLen, c.inCap - c.inLen)
            if n == 0 { return false }
            if n < 0 { return errno == EAGAIN || errno == EINTR }
            c.inLen += n
            var off = 0
            while c.inLen - off >= 4 {
                let size = Int(loadInt32BE(c.inBuf + off))
                if size < 0 || size > 256 << 20 { return false }
                if c.inLen - off - 4 < size {
                    if size + 4 > c.inCap && off == 0 { break }
                    break
                }
                handle(c, UnsafeRawBufferPointer(start: c.inBuf + off + 4, count: size))
                off += 4 + size
            }
            if off > 0 {
                c.inLen -= off
                if c.inLen > 0 { (c.inBuf).copyMemory(from: c.inBuf + off, byteCount: c.inLen) }
            }
            if !c.out.isEmpty && !flush(c) { return false }
        }
    }

    func flush(_ c: Conn) -> Bool {
        while c.outOff < c.out.count {
            let n = c.out.withUnsafeBytes { write(c.fd, $0.baseAddress! + c.outOff, $0.count - c.outOff) }
            if n < 0 {
                if errno == EAGAIN {
                    if !c.wantWrite { c.wantWrite = true; ep.modify(c.fd, write: true) }
                    return true
                }
                if errno == EINTR { continue }
                return false
            }
            c.outOff += n
        }
        c.out.removeAll(keepingCapacity: c.out.capacity <= 1 << 20)
        c.outOff = 0
        if c.wantWrite { c.wantWrite = false; ep.modify(c.fd, write: false) }
        return true
    }

    func handle(_ c: Conn, _ frame: UnsafeRawBufferPointer) {
        guard let h = try? RequestHeader.peek(frame, frameLength: frame.count) else { return }
        let body = UnsafeRawBufferPointer(rebasing: frame[h.headerLength...])
        let key = ApiKey(h.apiKey)
        let v = h.apiVersion
        var resp: [UInt8]
        switch key {
        case .apiVersions:
            let supported = Broker.apiRanges.first { $0.0 == .apiVersions }!
            if v > supported.2 {
                // UNSUPPORTED_VERSION with a v0 body, as Kafka does.
                let r = ApiVersionsResponse(errorCode: ApiVersionsResponse.unsupportedVersionError,
                                            apiKeys: Broker.apiRanges.map { .init(apiKey: $0.0.rawValue, minVersion: $0.1, maxVersion: $0.2) },
                                            isV0Fallback: true)
                resp = KafkaFrames.response(apiKey: key, version: 0, correlationId: h.correlationId, body: r.encoded(version: 0))
            } else {
                let r = ApiVersionsResponse(apiKeys: Broker.apiRanges.map { .init(apiKey: $0.0.rawValue, minVersion: $0.1, maxVersion: $0.2) })
                resp = KafkaFrames.response(apiKey: key, version: v, correlationId: h.correlationId, body: r.encoded(version: v))
            }
        case .metadata:
            let parts = (0..<partitions).map {
                MetadataResponse.Partition(partitionIndex: $0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1])
            }
            let m = MetadataResponse(brokers: [.init(nodeId: 1, host: c.advertised.host, port: c.advertised.port)],
                                     clusterId: "synthetic", controllerId: 1,
                                     topics: [.init(name: topic, topicId: KafkaUUID(high: 0x5eed, low: 1), partitions: parts)])
            resp = KafkaFrames.response(apiKey: key, version: v, correlationId: h.correlationId, body: m.encoded(version: v))
        case .produce:
            if (try? ProduceRequest.peekAcks(body, version: v)) == 0 { return }  // acks=0: no response
            resp = KafkaFrames.response(apiKey: key, version: v, correlationId: h.correlationId, body: produceResponse(v))
        case .fetch:
            let want = fetchPartitionMaxBytes(body, version: v) ?? (1 << 20)
            resp = KafkaFrames.response(apiKey: key, version: v, correlationId: h.correlationId, body: fetchResponse(v, bytes: want))
        default:
            return
        }
        c.out.append(contentsOf: resp)
    }

    func produceResponse(_ v: Int16) -> [UInt8] {
        let flex = v >= 9
        var w = ByteWriter(capacity: 64)
        w.writeArrayCount(1, flexible: flex)
        w.writeString(topic, flexible: flex)
        w.writeArrayCount(1, flexible: flex)
        w.writeInt32(0)          // partition index
        w.writeInt16(0)          // error code
        w.writeInt64(0)          // base offset
        w.writeInt64(-1)         // log append time (v2+)
        if v >= 5 { w.writeInt64(0) }  // log start offset
        if v >= 8 {
            w.writeArrayCount(0, flexible: flex)  // record errors
            w.writeNullableString(nil, flexible: flex)  // error message
        }
        w.writeTaggedFields([], if: flex)
        w.writeTaggedFields([], if: flex)
        w.writeInt32(0)          // throttle time
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }

    /// partition_max_bytes of the first partition of a Fetch request v4-12.
    func fetchPartitionMaxBytes(_ body: UnsafeRawBufferPointer, version v: Int16) -> Int? {
        var r = ByteReader(Array(body.prefix(512)))
        let flex = v >= 12
        do {
            try r.skip(4 + 4 + 4 + 4 + 1)           // replica id, max wait, min bytes, max bytes, isolation
            if v >= 7 { try r.skip(8) }             // session id, epoch
            _ = try r.readArrayCount(flexible: flex)
            _ = try r.readString(flexible: flex)
            _ = try r.readArrayCount(flexible: flex)
            try r.skip(4)                            // partition
            if v >= 9 { try r.skip(4) }              // current leader epoch
            try r.skip(8)                            // fetch offset
            if v >= 12 { try r.skip(4) }             // last fetched epoch
            if v >= 5 { try r.skip(8) }              // log start offset
            return Int(try r.readInt32())
        } catch { return nil }
    }

    func fetchResponse(_ v: Int16, bytes: Int) -> [UInt8] {
        let size = min(max(bytes, 128), fetchBytesCap)
        let batch: [UInt8]
        if let b = fetchBatches[size] { batch = b } else {
            batch = KafkaFrames.recordBatch(totalBytes: size, timestamp: 1_700_000_000_000)
            fetchBatches[size] = batch
        }
        let flex = v >= 12
        var w = ByteWriter(capacity: batch.count + 128)
        w.writeInt32(0)                    // throttle
        if v >= 7 { w.writeInt16(0); w.writeInt32(0) }  // error code, session id
        w.writeArrayCount(1, flexible: flex)
        w.writeString(topic, flexible: flex)
        w.writeArrayCount(1, flexible: flex)
        w.writeInt32(0)                    // partition
        w.writeInt16(0)                    // error
        w.writeInt64(1_000_000)            // high watermark
        w.writeInt64(1_000_000)            // last stable offset
        if v >= 5 { w.writeInt64(0) }      // log start offset
        w.writeLength(0, flexible: flex)   // aborted transactions: empty
        if v >= 11 { w.writeInt32(-1) }    // preferred read replica
        w.writeNullableBytes(batch, flexible: flex)
        w.writeTaggedFields([], if: flex)
        w.writeTaggedFields([], if: flex)
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }
}
