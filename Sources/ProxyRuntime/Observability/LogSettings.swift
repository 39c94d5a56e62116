import Logging
import ProxyCore
import Synchronization

/// Log level and format that a config reload can change: swift-log's backend is bootstrapped
/// once per process, so the handlers read these on every event instead of capturing them.
public final class LogSettings: Sendable {
    private let level: Atomic<UInt8>
    private let json: Atomic<Bool>

    public init(_ logging: ProxyConfig.Logging) {
        level = Atomic(Self.code(Logger.Level(logging.level)))
        json = Atomic(logging.format == .json)
    }

    public func apply(_ logging: ProxyConfig.Logging) {
        level.store(Self.code(Logger.Level(logging.level)), ordering: .relaxed)
        json.store(logging.format == .json, ordering: .relaxed)
    }

    var logLevel: Logger.Level { Logger.Level.allCases[Int(level.load(ordering: .relaxed))] }
    var isJSON: Bool { json.load(ordering: .relaxed) }

    private static func code(_ level: Logger.Level) -> UInt8 {
        UInt8(Logger.Level.allCases.firstIndex(of: level)!)
    }
}

/// Writes text or JSON lines to stderr at the level `LogSettings` says now.
public struct ReloadableLogHandler: LogHandler {
    private let settings: LogSettings
    private var text: StreamLogHandler
    private var json: JSONLogHandler

    public init(label: String, settings: LogSettings) {
        self.settings = settings
        text = StreamLogHandler.standardError(label: label)
        json = JSONLogHandler(label: label)
        text.logLevel = .trace
        json.logLevel = .trace
    }

    public var metadata: Logger.Metadata {
        get { text.metadata }
        set {
            text.metadata = newValue
            json.metadata = newValue
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { text[metadataKey: key] }
        set {
            text[metadataKey: key] = newValue
            json[metadataKey: key] = newValue
        }
    }

    public var logLevel: Logger.Level {
        get { settings.logLevel }
        // The level belongs to the config file, not to individual loggers.
        set {}
    }

    public func log(event: LogEvent) {
        if settings.isJSON { json.log(event: event) } else { text.log(event: event) }
    }
}
