#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Logging

/// Watches the config file with inotify and calls `onChange` when it may have changed.
///
/// A rename onto the path or onto `..data` is a complete new version in one atomic step, so it
/// reloads at once: that is how kubelet publishes a ConfigMap, and a failover edit should not wait.
/// Anything else (an in-place write, which truncates and then writes, perhaps in several calls)
/// is debounced, so the reload reads the finished file rather than a half-written one.
///
/// Covers how files change in practice: an in-place write (IN_CLOSE_WRITE on the file), write to
/// a temp file then rename over it (IN_MOVED_TO in the directory), and a Kubernetes ConfigMap
/// mount, where `config.yaml -> ..data/config.yaml` and kubelet swaps the `..data` symlink by
/// renaming a new one over it (IN_MOVED_TO `..data` in the directory). The directory is watched
/// for the last two, the file (through its symlinks) for the first; after every event the file
/// watch is renewed because the path may now lead to another inode.
///
/// The path itself can change kind: GNU `sed -i` on the ConfigMap symlink renames a regular file
/// over it, after which kubelet's `..data` swaps no longer reach the path. That is logged when it
/// is noticed (and at every `..data` swap the path cannot see), because the edits an operator
/// makes through the ConfigMap would otherwise be dropped without a word. Confined to `queue`.
public final class ConfigWatcher: @unchecked Sendable {
    private let path: String
    private let directory: String
    private let fileName: String
    private let queue = DispatchQueue(label: "kafka-proxy.config-watch")
    private let debounce: DispatchTimeInterval
    private let onChange: @Sendable () -> Void
    private let logger: Logger
    private let fd: Int32
    private var source: (any DispatchSourceRead)?
    private var debounceTimer: (any DispatchSourceTimer)?
    private var directoryWatch: Int32 = -1
    private var fileWatch: Int32 = -1
    private var pathKind = PathKind.missing
    private var dataSwapped = false

    private static let directoryEvents = UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB)
    private static let fileEvents = UInt32(IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

    public init(path: String, debounceMilliseconds: Int = 100, logger: Logger,
                onChange: @escaping @Sendable () -> Void) throws(WatchError) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        fileName = slash.map { String(path[path.index(after: $0)...]) } ?? path
        self.debounce = .milliseconds(debounceMilliseconds)
        self.onChange = onChange
        self.logger = logger
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw WatchError(description: "inotify_init1: \(String(cString: strerror(errno)))") }
        directoryWatch = inotify_add_watch(fd, directory, Self.directoryEvents)
        guard directoryWatch >= 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw WatchError(description: "cannot watch \(directory): \(message)")
        }
    }

    public func start() {
        queue.async { [self] in
            renewFileWatch()
            pathKind = PathKind(path)
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            let fd = self.fd
            source.setEventHandler { [weak self] in self?.drainEvents() }
            source.setCancelHandler { Glibc.close(fd) }
            source.activate()
            self.source = source
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [weak self] in self?.fire() }
            timer.schedule(deadline: .distantFuture)
            timer.activate()
            debounceTimer = timer
        }
    }

    public func stop() {
        queue.async { [self] in
            source?.cancel()
            source = nil
            debounceTimer?.cancel()
            debounceTimer = nil
        }
    }

    private func renewFileWatch() {
        // Follows symlinks: watches whatever inode the path leads to now. Fails while the file is missing.
        let renewed = inotify_add_watch(fd, path, Self.fileEvents)
        // The old inode may live on elsewhere (an old `..data` target, a hard link): stop hearing about it.
        if fileWatch >= 0 && fileWatch != renewed { inotify_rm_watch(fd, fileWatch) }
        fileWatch = renewed
    }

    private func drainEvents() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var relevant = false
        var replaced = false
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            buffer.withUnsafeBytes { raw in
                let header = MemoryLayout<inotify_event>.size
                while offset + header <= n {
                    let wd = raw.load(fromByteOffset: offset, as: Int32.self)
                    let mask = raw.load(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(raw.load(fromByteOffset: offset + 12, as: UInt32.self))
                    let nameBytes = raw[(offset + header)..<(offset + header + length)].prefix { $0 != 0 }
                    let name = String(decoding: nameBytes, as: UTF8.self)
                    if wd == fileWatch || (wd == directoryWatch && (name == fileName || name == "..data")) {
                        relevant = true
                    }
                    if wd == directoryWatch && name == "..data" { dataSwapped = true }
                    if wd == directoryWatch && mask & UInt32(IN_MOVED_TO) != 0 && (name == fileName || name == "..data") {
                        replaced = true
                    }
                    offset += header + length
                }
            }
        }
        if replaced {
            // Whatever was pending is superseded by the version just renamed into place.
            debounceTimer?.schedule(deadline: .distantFuture)
            fire()
        } else if relevant {
            debounceTimer?.schedule(deadline: .now() + debounce)
        }
    }

    private func fire() {
        renewFileWatch()
        let kind = PathKind(path)
        switch (pathKind, kind) {
        case (.symlink, .regular):
            logger.warning("config file \(path) is no longer a symlink: it was replaced by a regular file (as `sed -i` does); its own changes still apply, but updates through \(directory)/..data (a ConfigMap edit) no longer reach it until the symlink is restored")
        case (.regular, .symlink(let target)):
            logger.info("config file \(path) is a symlink again (to \(target))")
        default:
            break
        }
        if dataSwapped, case .regular = kind {
            logger.warning("\(directory)/..data changed, but \(path) is a regular file, not a symlink into ..data: the new version is not applied (restore the symlink: ln -sfn ..data/\(fileName) \(path))")
        }
        // A missing path is a moment between unlink and create: compare with what it was before.
        if kind != .missing { pathKind = kind }
        dataSwapped = false
        logger.debug("config file \(path) changed")
        onChange()
    }
}

/// What the config path is, without following it.
private enum PathKind: Equatable {
    case missing
    case regular
    case symlink(target: String)
    case other

    init(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            self = .missing
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            self = .regular
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(path, &buffer, buffer.count - 1)
            self = .symlink(target: n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?")
        default:
            self = .other
        }
    }
}

public struct WatchError: Error, CustomStringConvertible {
    public var description: String
}
