#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Logging
import ProxyRuntime

/// Signals as Dispatch sources: handlers run on a queue, not in signal context.
final class SignalHandling: @unchecked Sendable {
    private let queue = DispatchQueue(label: "kafka-proxy.signals")
    private var sources: [any DispatchSourceSignal] = []
    private var terminating = false
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
        // A peer that closes while we write must be an EPIPE, not a dead process.
        signal(SIGPIPE, SIG_IGN)
    }

    func onHangup(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        source.setEventHandler(handler: handler)
        source.activate()
        sources.append(source)
    }

    func onTerminate(_ handler: @escaping @Sendable (String) -> Void) {
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in
                if terminating {
                    logger.warning("second \(name): exiting now")
                    exit(1)
                }
                terminating = true
                handler(name)
            }
            source.activate()
            sources.append(source)
        }
    }
}
