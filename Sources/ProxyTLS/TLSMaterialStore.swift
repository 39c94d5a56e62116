#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The current `TLSContext` for one configuration, rebuilt when its files change.
///
/// `reloadIfChanged()` compares each file's identity (device, inode, size, mtime; following
/// symlinks, so Kubernetes' `..data` swaps count) with the last load. When something changed it
/// builds a new context; if that fails (unparsable file, key not matching the certificate,
/// half-written rotation) the previous context stays current and the failure is returned once
/// per change. Engines already made keep their context. Thread-safe.
public final class TLSMaterialStore: Sendable {
    public enum ReloadOutcome: Sendable {
        case unchanged
        case reloaded(TLSContext)
        /// The new files are unusable; `current` is still the previous context.
        case failed(TLSError)
    }

    public let configuration: TLSConfiguration
    private let state: Mutex<State>

    private struct State {
        var context: TLSContext
        var loadedSignature: [FileSignature]
        /// The signature that last failed to load, so a broken file is reported once, not every poll.
        var failedSignature: [FileSignature]?
    }

    /// Loads the material now; a configuration whose files are unusable at start is an error.
    public init(configuration: TLSConfiguration) throws(TLSError) {
        self.configuration = configuration
        let signature = Self.signature(of: configuration.files)
        let context = try TLSContext(configuration)
        state = Mutex(State(context: context, loadedSignature: signature, failedSignature: nil))
    }

    public var current: TLSContext { state.withLock { $0.context } }

    /// A new engine from the current context.
    public func makeEngine(serverName: String? = nil) throws(TLSError) -> TLSEngine {
        try current.makeEngine(serverName: serverName)
    }

    public func reloadIfChanged() -> ReloadOutcome {
        let signature = Self.signature(of: configuration.files)
        let changed = state.withLock { state in
            signature != state.loadedSignature && signature != state.failedSignature
        }
        guard changed else { return .unchanged }
        do throws(TLSError) {
            let context = try TLSContext(configuration)
            state.withLock { state in
                state.context = context
                state.loadedSignature = signature
                state.failedSignature = nil
            }
            return .reloaded(context)
        } catch {
            state.withLock { $0.failedSignature = signature }
            return .failed(error)
        }
    }

    struct FileSignature: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanos: Int
        var missing: Bool
    }

    static func signature(of files: [String]) -> [FileSignature] {
        files.map { path in
            var info = stat()
            guard stat(path, &info) == 0 else {
                return FileSignature(device: 0, inode: 0, size: 0, modifiedSeconds: 0, modifiedNanos: 0, missing: true)
            }
            return FileSignature(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                                 modifiedSeconds: Int(info.st_mtim.tv_sec), modifiedNanos: Int(info.st_mtim.tv_nsec),
                                 missing: false)
        }
    }
}
