#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind a pthread mutex, with `Mutex`'s `withLock`.
///
/// The standard library's `Synchronization.Mutex` locks with raw futex calls on Linux, which
/// ThreadSanitizer cannot see: every value it guards that two threads touch is reported as a race,
/// so the sanitizer run could not tell real races from these. glibc's mutex is the same futex
/// underneath, uncontended in user space, and ThreadSanitizer intercepts it.
final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
