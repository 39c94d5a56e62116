// kafka-loadgen: a Kafka load generator that behaves like a client: bootstrap -> ApiVersions ->
// Metadata -> connect to the partition leader that Metadata names (so traffic goes through
// whatever relay advertised itself there) -> ApiVersions -> Produce or Fetch in a loop.
//
// Light on purpose (the machine has 2 cores and must spend them on the relay being measured):
// one epoll thread by default, pre-built requests whose correlation id is patched in place,
// responses counted and skipped without being copied or parsed.
import ArgumentParser
import BenchSupport
import Dispatch
import Histogram
import KafkaProtocol
#if canImport(Glibc)
import Glibc
#endif

enum Mode: String, ExpressibleByArgument, CaseIterable { case produce, fetch, idle }

@main
struct LoadGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-loadgen",
        abstract: "Kafka Produce/Fetch load generator: MB/s, requests/s, latency percentiles (HdrHistogram)."
    )

    @Option(help: "Bootstrap server host:port.")
    var bootstrap = "127.0.0.1:9092"

    @Option(help: "produce | fetch | idle (open connections and hold them).")
    var mode: Mode = .produce

    @Option(help: "Produce: bytes of the record batch per request. Fetch: partition_max_bytes asked for.")
    var recordSize = 1024

    @Option(help: "Produce acks: 0, 1 or -1.")
    var acks: Int16 = 1

    @Option(help: "Connections to the partition leader.")
    var connections = 1

    @Option(help: "Requests in flight per connection (pipelining depth).")
    var depth = 1

    @Option(help: "Requests per second over all connections; 0 = as fast as possible.")
    var rate: Double = 0

    @Option(help: "Measured seconds (after the warm-up).")
    var duration: Double = 10

    @Option(help: "Stop after this many requests (all connections, warm-up included; 0 = no limit): a run of a fixed size, for instruction counts.")
    var requests = 0

    @Option(help: "Warm-up seconds (traffic not measured).")
    var warmup: Double = 1

    @Option(help: "Event-loop threads (connections are spread over them).")
    var threads = 1

    @Option(help: "Topic to produce to / fetch from.")
    var topic = "bench"

    @Option(help: "Idle mode: seconds to hold the connections open after READY.")
    var hold: Double = 5

    @Option(help: "Highest Produce version to use (3-11).")
    var maxProduceVersion: Int16 = 9

    @Option(help: "Highest Fetch version to use (4-12).")
    var maxFetchVersion: Int16 = 12

    @Option(help: "Also write the JSON result to this file.")
    var json: String?

    @Option(help: "Label copied into the JSON result.")
    var label = ""

    mutating func validate() throws {
        guard [0, 1, -1].contains(acks) else { throw ValidationError("--acks must be 0, 1 or -1") }
        guard connections >= 1, depth >= 1, threads >= 1, recordSize >= 80, requests >= 0 else { throw ValidationError("bad sizes") }
    }

    mutating func run() throws {
        signal(SIGPIPE, SIG_IGN)
        guard let boot = Sock.parseHostPort(bootstrap) else { throw ValidationError("bad --bootstrap") }
        let setup = try Setup.discover(host: boot.host, port: boot.port, topic: topic,
                                       maxProduce: maxProduceVersion, maxFetch: maxFetchVersion)
        log("bootstrap \(bootstrap): leader of \(topic)/0 is \(setup.leaderHost):\(setup.leaderPort); " +
            "Produce v\(setup.produceVersion), Fetch v\(setup.fetchVersion)")

        if mode == .idle {
            try runIdle(setup)
            return
        }

        // Connect every connection the way a client does (including its own ApiVersions).
        var fds: [Int32] = []
        for i in 0..<connections {
            let fd = try Sock.connect(host: setup.leaderHost, port: setup.leaderPort)
            try Setup.apiVersions(fd, correlationId: Int32(i))
            Sock.setNonBlocking(fd)
            fds.append(fd)
        }

        let template: [UInt8]
        let expectsResponse: Bool
        switch mode {
        case .produce:
            let batch = KafkaFrames.recordBatch(totalBytes: recordSize, timestamp: 1_700_000_000_000)
            let req = ProduceRequest(topic: topic, partition: 0, records: batch, acks: acks)
            template = KafkaFrames.request(apiKey: .produce, version: setup.produceVersion, correlationId: 0,
                                           clientId: "kafka-loadgen", body: req.encoded(version: setup.produceVersion))
            expectsResponse = acks != 0
        case .fetch:
            let req = FetchRequest(maxWaitMs: 0, minBytes: 1, maxBytes: Int32(recordSize + 1024),
                                   topics: [.init(name: topic, partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: Int32(recordSize))])])
            template = KafkaFrames.request(apiKey: .fetch, version: setup.fetchVersion, correlationId: 0,
                                           clientId: "kafka-loadgen", body: req.encoded(version: setup.fetchVersion))
            expectsResponse = true
        case .idle:
            fatalError()
        }

        let nThreads = min(threads, connections)
        let start = nowNanos()
        let warmEnd = start + UInt64(warmup * 1e9)
        let end = warmEnd + UInt64(duration * 1e9)
        let perConnInterval: UInt64 = rate > 0 ? UInt64(1e9 / (rate / Double(connections))) : 0
        let loops = (0..<nThreads).map { t in
            // A request limit is shared out over the threads; the first ones take the remainder.
            let limit = requests == 0 ? 0 : requests / nThreads + (t < requests % nThreads ? 1 : 0)
            return EventLoop(fds: stride(from: t, to: fds.count, by: nThreads).map { fds[$0] }, template: template,
                             expectsResponse: expectsResponse, depth: depth, interval: perConnInterval,
                             start: start, measureFrom: warmEnd, end: end, requestLimit: limit)
        }
        DispatchQueue.concurrentPerform(iterations: loops.count) { loops[$0].run() }
        for fd in fds { close(fd) }

        var total = loops[0].stats
        for l in loops.dropFirst() { total.merge(l.stats) }
        let window = Double(min(nowNanos(), end) - warmEnd) / 1e9
        let result = total.json(mode: mode.rawValue, label: label, setup: setup, recordSize: recordSize, acks: acks,
                                connections: connections, depth: depth, rate: rate, window: duration > 0 ? min(window, duration) : window,
                                requestBytes: template.count)
        print(result)
        if let json { try writeFile(json, result + "\n") }
    }

    func runIdle(_ setup: Setup) throws {
        var fds: [Int32] = []
        fds.reserveCapacity(connections)
        let t0 = nowNanos()
        for i in 0..<connections {
            do {
                let fd = try Sock.connect(host: setup.leaderHost, port: setup.leaderPort)
                try Setup.apiVersions(fd, correlationId: Int32(i))
                fds.append(fd)
            } catch {
                log("connection \(i): \(error)")
                break
            }
        }
        let secs = Double(nowNanos() - t0) / 1e9
        print("READY \(fds.count)")
        fflush(stdout)
        usleep(UInt32(hold * 1e6))
        // Every connection must still be alive: one more ApiVersions on a sample of them.
        var alive = 0
        for (i, fd) in fds.enumerated() where i % max(1, fds.count / 100) == 0 {
            if (try? Setup.apiVersions(fd, correlationId: Int32(i))) != nil { alive += 1 }
        }
        for fd in fds { close(fd) }
        let result = """
        {"mode":"idle","label":"\(label)","connections_requested":\(connections),"connections_open":\(fds.count),\
        "connect_seconds":\(fmt(secs)),"sampled_alive":\(alive),"broker":"\(setup.leaderHost):\(setup.leaderPort)"}
        """
        print(result)
        if let json { try writeFile(json, result + "\n") }
    }
}

func log(_ s: String) {
    fputs("kafka-loadgen: \(s)\n", stderr)
}

func fmt(_ d: Double, _ places: Int = 3) -> String {
    if !d.isFinite { return "null" }
    var p = 1.0
    for _ in 0..<places { p *= 10 }
    let v = (d * p).rounded() / p
    return "\(v)"
}

func writeFile(_ path: String, _ s: String) throws {
    guard let f = fopen(path, "w") else { throw Sock.Failure("open \(path)") }
    fputs(s, f)
    fclose(f)
}

/// Bootstrap: versions and the leader's address, learned as a client learns them.
struct Setup {
    var leaderHost: String
    var leaderPort: UInt16
    var produceVersion: Int16
    var fetchVersion: Int16

    @discardableResult
    static func apiVersions(_ fd: Int32, correlationId: Int32) throws -> ApiVersionsResponse {
        let body = ApiVersionsRequest(clientSoftwareName: "kafka-loadgen", clientSoftwareVersion: "1.0").encoded(version: 3)
        try Sock.writeAll(fd, KafkaFrames.request(apiKey: .apiVersions, version: 3, correlationId: correlationId,
                                                  clientId: "kafka-loadgen", body: body))
        let payload = try Sock.readFrame(fd)
        var r = try KafkaFrames.responseBody(payload, apiKey: .apiVersions, version: 3)
        return try ApiVersionsResponse.decode(from: &r, version: 3)
    }

    static func discover(host: String, port: UInt16, topic: String, maxProduce: Int16, maxFetch: Int16) throws -> Setup {
        let fd = try Sock.connect(host: host, port: port)
        defer { close(fd) }
        let av = try apiVersions(fd, correlationId: 1)
        func pick(_ key: ApiKey, _ mine: ClosedRange<Int16>) throws -> Int16 {
            guard let k = av.apiKeys.first(where: { $0.apiKey == key.rawValue }) else { throw Sock.Failure("\(key) not offered", errno: EPROTO) }
            let v = min(k.maxVersion, mine.upperBound)
            guard v >= max(k.minVersion, mine.lowerBound) else { throw Sock.Failure("no common \(key) version", errno: EPROTO) }
            return v
        }
        let metaV = try pick(.metadata, 1...12)
        let produceV = try pick(.produce, 3...max(3, maxProduce))
        let fetchV = try pick(.fetch, 4...max(4, maxFetch))
        // Metadata for the topic, retried while the topic is being created (a real broker).
        var lastError = ""
        for attempt in 0..<50 {
            let body = MetadataRequest(topicNames: [topic]).encoded(version: metaV)
            try Sock.writeAll(fd, KafkaFrames.request(apiKey: .metadata, version: metaV, correlationId: Int32(10 + attempt),
                                                      clientId: "kafka-loadgen", body: body))
            let payload = try Sock.readFrame(fd)
            var r = try KafkaFrames.responseBody(payload, apiKey: .metadata, version: metaV)
            let m = try MetadataResponse.decode(from: &r, version: metaV)
            if let t = m.topics.first(where: { $0.name == topic }), t.errorCode == 0,
               let p = t.partitions.first(where: { $0.partitionIndex == 0 }),
               let b = m.brokers.first(where: { $0.nodeId == p.leaderId }) {
                return Setup(leaderHost: b.host, leaderPort: UInt16(b.port), produceVersion: produceV, fetchVersion: fetchV)
            }
            lastError = "topic \(topic): error \(m.topics.first?.errorCode ?? -1), \(m.brokers.count) brokers"
            usleep(200_000)
        }
        throw Sock.Failure("metadata: \(lastError)", errno: EPROTO)
    }
}

struct Stats {
    var requests: UInt64 = 0        // completed in the measured window
    var bytesSent: UInt64 = 0       // in the window
    var bytesReceived: UInt64 = 0   // in the window
    var totalBytes: UInt64 = 0      // both directions, whole run including warm-up
    var totalRequests: UInt64 = 0   // whole run
    var errors: UInt64 = 0
    var hist = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)

    mutating func merge(_ o: Stats) {
        requests += o.requests
        bytesSent += o.bytesSent
        bytesReceived += o.bytesReceived
        totalBytes += o.totalBytes
        totalRequests += o.totalRequests
        errors += o.errors
        hist.add(o.hist)
    }

    func json(mode: String, label: String, setup: Setup, recordSize: Int, acks: Int16, connections: Int, depth: Int,
              rate: Double, window: Double, requestBytes: Int) -> String {
        func us(_ p: Double) -> String { hist.totalCount == 0 ? "null" : fmt(Double(hist.valueAtPercentile(p)) / 1000, 1) }
        let mb = Double(bytesSent + bytesReceived) / window / 1e6
        return """
        {"mode":"\(mode)","label":"\(label)","record_size":\(recordSize),"request_bytes":\(requestBytes),"acks":\(acks),\
        "connections":\(connections),"depth":\(depth),"rate":\(fmt(rate)),"seconds":\(fmt(window)),\
        "requests":\(requests),"requests_per_s":\(fmt(Double(requests) / window, 1)),"mb_per_s":\(fmt(mb, 2)),\
        "bytes_sent":\(bytesSent),"bytes_received":\(bytesReceived),"total_bytes":\(totalBytes),"total_requests":\(totalRequests),\
        "latency_samples":\(hist.totalCount),"p50_us":\(us(50)),"p99_us":\(us(99)),"p999_us":\(us(99.9)),\
        "max_us":\(hist.totalCount == 0 ? "null" : fmt(Double(hist.max) / 1000, 1)),\
        "mean_us":\(hist.totalCount == 0 ? "null" : fmt(hist.mean / 1000, 1)),"errors":\(errors),\
        "produce_version":\(setup.produceVersion),"fetch_version":\(setup.fetchVersion),\
        "broker":"\(setup.leaderHost):\(setup.leaderPort)"}
        """
    }
}

/// One connection's send/receive state.
final class Conn {
    let fd: Int32
    let req: UnsafeMutableRawPointer
    let reqLen: Int
    var writeOff = -1               // -1: not writing a request
    var inflight = 0
    var sendTimes: [UInt64]         // ring of send timestamps, responses come back in order
    var head = 0, tail = 0
    var correlationId: Int32 = 100
    var nextDue: UInt64
    var sizeBuf: UInt32 = 0
    var sizeGot = 0
    var frameLeft = 0               // bytes of the current response payload still to skip
    var wantWrite = false
    var dead = false

    init(fd: Int32, template: [UInt8], depth: Int, firstDue: UInt64) {
        self.fd = fd
        reqLen = template.count
        let buf = UnsafeMutableRawPointer.allocate(byteCount: template.count, alignment: 8)
        template.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        req = buf
        sendTimes = [UInt64](repeating: 0, count: depth + 1)
        nextDue = firstDue
    }

    deinit { req.deallocate() }
}

final class EventLoop: @unchecked Sendable {
    let conns: [Conn]
    let byFd: [Int32: Conn]
    let expectsResponse: Bool
    let depth: Int
    let interval: UInt64
    let measureFrom: UInt64
    let end: UInt64
    /// Requests to issue in all (0: until `end`).
    let requestLimit: Int
    var issued = 0
    var stats = Stats()
    let ep = Epoll(capacity: 1024)
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 256 << 10, alignment: 16)
    var now: UInt64 = 0

    init(fds: [Int32], template: [UInt8], expectsResponse: Bool, depth: Int, interval: UInt64,
         start: UInt64, measureFrom: UInt64, end: UInt64, requestLimit: Int = 0) {
        // Stagger paced connections over one interval so their requests do not arrive in bursts.
        let count = UInt64(max(1, fds.count))
        conns = fds.enumerated().map { i, fd in
            Conn(fd: fd, template: template, depth: depth,
                 firstDue: start + (interval > 0 ? interval * UInt64(i) / count : 0))
        }
        byFd = Dictionary(uniqueKeysWithValues: conns.map { ($0.fd, $0) })
        self.expectsResponse = expectsResponse
        self.depth = depth
        self.interval = interval
        self.measureFrom = measureFrom
        self.end = end
        self.requestLimit = requestLimit
        for c in conns { ep.add(c.fd) }
    }

    func run() {
        now = nowNanos()
        for c in conns { pump(c) }
        while true {
            now = nowNanos()
            if now >= end { break }
            var timeout: Int32 = 100
            if interval > 0 {
                var due = end
                for c in conns where !c.dead && c.writeOff < 0 && (c.inflight < depth || !expectsResponse) { due = min(due, c.nextDue) }
                timeout = due <= now ? 0 : Int32(min(100, (due - now + 999_999) / 1_000_000))
            }
            let n = ep.wait(timeoutMs: timeout)
            now = nowNanos()
            for i in 0..<n {
                                guard let c = byFd[ep.fds[i]], !c.dead else { continue }
                if ep.flags[i].hasRead { readable(c) }
                if ep.flags[i].hasWrite && !c.dead { pump(c) }
            }
            if interval > 0 || n == 0 {
                for c in conns where !c.dead { pump(c) }
            }
            if conns.allSatisfy(\.dead) { break }
            if requestLimit > 0, issued >= requestLimit, conns.allSatisfy({ $0.dead || ($0.inflight == 0 && $0.writeOff < 0) }) { break }
        }
    }

    @inline(__always) var measuring: Bool { now >= measureFrom && now < end }

    func fail(_ c: Conn, _ why: String) {
        if !c.dead {
            log("connection fd \(c.fd): \(why)")
            c.dead = true
            stats.errors += 1
            ep.remove(c.fd)
        }
    }

    /// Writes the current request, then starts new ones while depth and pacing allow.
    func pump(_ c: Conn) {
        while !c.dead {
            if c.writeOff >= 0 {
                let n = write(c.fd, c.req + c.writeOff, c.reqLen - c.writeOff)
                if n < 0 {
                    if errno == EAGAIN {
                        if !c.wantWrite { c.wantWrite = true; ep.modify(c.fd, write: true) }
                        return
                    }
                    if errno == EINTR { continue }
                    fail(c, "write: \(String(cString: strerror(errno)))")
                    return
                }
                c.writeOff += n
                stats.totalBytes += UInt64(n)
                if measuring { stats.bytesSent += UInt64(n) }
                if c.writeOff < c.reqLen { continue }
                c.writeOff = -1
                if !expectsResponse {
                    stats.totalRequests += 1
                    if measuring { stats.requests += 1 }
                }
            }
            if c.wantWrite { c.wantWrite = false; ep.modify(c.fd, write: false) }
            if now >= end { return }
            if expectsResponse && c.inflight >= depth { return }
            if interval > 0 && now < c.nextDue { return }
            if requestLimit > 0 && issued >= requestLimit { return }
            issued += 1
            c.correlationId &+= 1
            storeInt32BE(c.correlationId, c.req + KafkaFrames.requestCorrelationIdOffset)
            c.writeOff = 0
            if interval > 0 { c.nextDue += interval }
            if expectsResponse {
                c.inflight += 1
                c.sendTimes[c.tail] = now
                c.tail = (c.tail + 1) % c.sendTimes.count
            }
        }
    }

    func readable(_ c: Conn) {
        while true {
            let n = read(c.fd, scratch, 256 << 10)
            if n == 0 { fail(c, "closed by peer"); return }
            if n < 0 {
                if errno == EAGAIN { return }
                if errno == EINTR { continue }
                fail(c, "read: \(String(cString: strerror(errno)))")
                return
            }
            stats.totalBytes += UInt64(n)
            now = nowNanos()
            if measuring { stats.bytesReceived += UInt64(n) }
            var off = 0
            while off < n {
                if c.frameLeft == 0 && c.sizeGot < 4 {
                    c.sizeBuf = c.sizeBuf << 8 | UInt32(scratch.load(fromByteOffset: off, as: UInt8.self))
                    c.sizeGot += 1
                    off += 1
                    if c.sizeGot == 4 {
                        c.frameLeft = Int(c.sizeBuf)
                        if c.frameLeft == 0 { complete(c) }
                    }
                    continue
                }
                let take = min(c.frameLeft, n - off)
                c.frameLeft -= take
                off += take
                if c.frameLeft == 0 { complete(c) }
            }
            if n < 256 << 10 { return }
        }
    }

    func complete(_ c: Conn) {
        c.sizeGot = 0
        c.sizeBuf = 0
        guard c.inflight > 0 else { fail(c, "unexpected response"); return }
        let sent = c.sendTimes[c.head]
        c.head = (c.head + 1) % c.sendTimes.count
        c.inflight -= 1
        stats.totalRequests += 1
        if measuring && sent >= measureFrom {
            stats.requests += 1
            _ = stats.hist.record(now - sent)
        }
        pump(c)
    }
}
