#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// A few threads of its own for work that may block for a long time (libsasl2, Kerberos asking a
/// KDC, secret files on a slow volume), first in, first out.
///
/// Not Dispatch: a blocked job there holds a worker of the pool the loops' queues also run on,
/// and libdispatch answers blocked workers by starting more threads, without a bound. Here at
/// most `width` threads exist; jobs beyond them wait their turn. Threads start on demand and
/// live as long as the process (an executor is made once per lane and kept).
final class BlockingExecutor: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    let label: String
    let width: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var jobs: [Job] = []
    private var head = 0
    private var threads = 0
    private var idle = 0

    init(label: String, width: Int) {
        self.label = label
        self.width = max(1, width)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        wake = .allocate(capacity: 1)
        pthread_cond_init(wake, nil)
    }

    /// Jobs waiting for a thread (not counting those running).
    var queuedCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return jobs.count - head
    }

    func submit(_ job: @escaping Job) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        // Queued jobs beyond the idle threads need another thread (while there is room for one).
        let spawn = jobs.count - head > idle && threads < width
        if spawn { threads += 1 }
        pthread_cond_signal(wake)
        pthread_mutex_unlock(mutex)
        if spawn { startThread() }
    }

    private func startThread() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let executor = Unmanaged<BlockingExecutor>.fromOpaque(context!).takeRetainedValue()
            executor.run()
            return nil
        }, context)
        if rc == 0 {
            pthread_detach(thread)
            return
        }
        Unmanaged<BlockingExecutor>.fromOpaque(context).release()
        pthread_mutex_lock(mutex)
        threads -= 1
        // No thread could start and none exists: run the job here rather than lose it.
        let runHere = threads == 0
        pthread_mutex_unlock(mutex)
        if runHere, let job = next(blocking: false) { job() }
    }

    private func run() {
        while let job = next(blocking: true) {
            job()
        }
    }

    private func next(blocking: Bool) -> Job? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == jobs.count {
            guard blocking else { return nil }
            idle += 1
            pthread_cond_wait(wake, mutex)
            idle -= 1
        }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }
}

extension BlockingExecutor {
    /// Threads per lane: enough that a few slow logins do not hold up the next ones, few enough
    /// that a black-holed KDC with hundreds of connections logging in costs a handful of threads
    /// (the rest of the logins queue, and those whose connection gave up are skipped).
    static let loginWidth = 4

    private static let lanes = Locked<[String: BlockingExecutor]>([:])

    /// The executor for the logins of one lane (a cluster): a cluster whose KDC hangs fills its
    /// own threads, not those of another cluster.
    static func logins(lane: String) -> BlockingExecutor {
        lanes.withLock { lanes in
            if let e = lanes[lane] { return e }
            let e = BlockingExecutor(label: "kp-login", width: loginWidth)
            lanes[lane] = e
            return e
        }
    }
}
