/// FIFO of bytes with a read index: consuming is O(1), and space is reclaimed by moving the
/// unread bytes down only when that is cheap relative to what it frees.
///
/// The bytes live in memory this type allocates itself, so a range lent out (`bytes(_:)`) stays
/// where it is until the queue is next mutated — an `Array`'s storage is only guaranteed inside
/// `withUnsafeBytes`. Copy-on-write keeps it a value.
struct ByteQueue: Sendable {
    private final class Storage: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(byteCount: capacity, alignment: 1)
        }

        deinit { base.deallocate() }
    }

    /// Above this, an emptied queue gives its memory back: one oversized request must not pin
    /// megabytes for the rest of a connection's life.
    static let retainedCapacity = 1 << 20

    private var storage: Storage?
    /// Unread bytes are `readIndex..<endIndex` of the storage.
    private(set) var readIndex = 0
    private(set) var endIndex = 0

    var count: Int { endIndex - readIndex }
    var isEmpty: Bool { readIndex == endIndex }
    var capacity: Int { storage?.capacity ?? 0 }

    /// `range` in storage offsets (as `readIndex`); valid until the next mutation.
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard let storage else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        precondition(range.lowerBound >= 0 && range.upperBound <= endIndex)
        return UnsafeRawBufferPointer(start: storage.base + range.lowerBound, count: range.count)
    }

    /// The unread bytes; valid until the next mutation.
    var unread: UnsafeRawBufferPointer { bytes(readIndex..<endIndex) }

    mutating func consume(_ n: Int) {
        precondition(n >= 0 && n <= count)
        readIndex += n
    }

    /// Makes the last `n` consumed bytes unread again; only valid if nothing moved them since.
    mutating func unconsume(_ n: Int) {
        precondition(n >= 0 && n <= readIndex)
        readIndex -= n
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        storage!.base.advanced(by: endIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        endIndex += bytes.count
    }

    mutating func removeAll() {
        readIndex = 0
        endIndex = 0
        if capacity > Self.retainedCapacity { storage = nil }
    }

    /// Reclaims the consumed front when it is at least as large as what has to move.
    mutating func compactIfWorthwhile() {
        if isEmpty {
            removeAll()
        } else if readIndex >= 4096 && readIndex >= count {
            if isKnownUniquelyReferenced(&storage) { slide() } else { reallocate(capacity) }
        }
    }

    /// Room for `extra` more bytes after `endIndex`.
    private mutating func reserve(_ extra: Int) {
        let unique = isKnownUniquelyReferenced(&storage)
        let current = capacity
        if unique && endIndex + extra <= current { return }
        let needed = count + extra
        if unique && needed <= current && readIndex >= count {
            slide()
        } else {
            reallocate(Swift.max(needed, current * 2, 256))
        }
    }

    /// Moves the unread bytes to the front of the (unshared) storage.
    private mutating func slide() {
        let live = count
        if readIndex > 0 && live > 0, let base = storage?.base {
            base.copyMemory(from: base + readIndex, byteCount: live)
        }
        readIndex = 0
        endIndex = live
    }

    private mutating func reallocate(_ newCapacity: Int) {
        let live = count
        let fresh = Storage(capacity: newCapacity)
        if live > 0, let old = storage {
            fresh.base.copyMemory(from: old.base + readIndex, byteCount: live)
        }
        storage = fresh
        readIndex = 0
        endIndex = live
    }
}
