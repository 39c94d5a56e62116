/// Deadlines of many owners behind one timer: an indexed binary min-heap over slots.
///
/// A loop keeps its connections' connect, idle and drain deadlines here and arms one Dispatch timer
/// for the earliest; a `DispatchSourceTimer` per connection cost every idle connection a Dispatch
/// source with its handler blocks. Each slot knows its place in the heap, so rescheduling and
/// releasing are O(log n) and leave nothing behind: a connection that closes before its
/// (hour-long) idle deadline does not leave an entry to expire.
///
/// Slots are reused (a free list), so a steady number of connections allocates nothing.
public struct DeadlineQueue<Owner> {
    private struct Slot {
        var deadline: UInt64 = 0
        /// Position in `heap`, -1 while not scheduled.
        var heapIndex: Int = -1
        var owner: Owner?
    }

    private var slots: [Slot] = []
    private var free: [Int] = []
    /// Slot numbers, ordered as a min-heap on their deadlines.
    private var heap: [Int] = []

    public init() {}

    /// Scheduled deadlines.
    public var count: Int { heap.count }
    /// Slots in use (scheduled or not).
    public var ownerCount: Int { slots.count - free.count }
    public var nextDeadline: UInt64? { heap.first.map { slots[$0].deadline } }

    /// A slot for `owner`, not scheduled yet.
    public mutating func add(_ owner: Owner) -> Int {
        if let slot = free.popLast() {
            slots[slot].owner = owner
            return slot
        }
        slots.append(Slot(owner: owner))
        return slots.count - 1
    }

    /// Sets (or moves) the slot's deadline.
    public mutating func schedule(_ slot: Int, at deadline: UInt64) {
        let old = slots[slot].deadline
        slots[slot].deadline = deadline
        let index = slots[slot].heapIndex
        if index < 0 {
            heap.append(slot)
            slots[slot].heapIndex = heap.count - 1
            siftUp(heap.count - 1)
        } else if deadline < old {
            siftUp(index)
        } else {
            siftDown(index)
        }
    }

    /// Takes the slot's deadline away; the slot stays its owner's.
    public mutating func unschedule(_ slot: Int) {
        let index = slots[slot].heapIndex
        guard index >= 0 else { return }
        slots[slot].heapIndex = -1
        let last = heap.removeLast()
        guard index < heap.count else { return }
        heap[index] = last
        slots[last].heapIndex = index
        siftDown(index)
        siftUp(slots[last].heapIndex)
    }

    /// Unschedules the slot and gives it back; its owner is no longer referenced.
    public mutating func remove(_ slot: Int) {
        unschedule(slot)
        slots[slot].owner = nil
        free.append(slot)
    }

    /// The owner of the earliest deadline if it is at or before `now`, unscheduled; nil otherwise.
    public mutating func popDue(now: UInt64) -> Owner? {
        guard let slot = heap.first, slots[slot].deadline <= now else { return nil }
        unschedule(slot)
        return slots[slot].owner
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard slots[heap[child]].deadline < slots[heap[parent]].deadline else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            var smallest = left
            if right < heap.count, slots[heap[right]].deadline < slots[heap[left]].deadline { smallest = right }
            guard slots[heap[smallest]].deadline < slots[heap[parent]].deadline else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        slots[heap[a]].heapIndex = a
        slots[heap[b]].heapIndex = b
    }
}
