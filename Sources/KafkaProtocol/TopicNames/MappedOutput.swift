/// The body being built: pieces already closed, and the bytes piece being appended to. Unchanged
/// input is copied lazily (`TopicNameWalker.copied`), so a message is copied in long runs.
struct MappedOutput {
    var pieces: [MappedPiece] = []
    var buffer: [UInt8] = []

    /// A position in the output, to drop what follows it or to rewrite bytes at it.
    struct Mark {
        let piece: Int
        let offset: Int
    }

    var mark: Mark { Mark(piece: pieces.count, offset: buffer.count) }

    /// Closes the current bytes piece (even when empty: marks count pieces) and adds a range.
    mutating func appendOriginal(_ range: Range<Int>) {
        pieces.append(.bytes(buffer))
        buffer = []
        pieces.append(.original(range))
    }

    /// Forgets everything after `mark`.
    mutating func truncate(to mark: Mark) {
        if mark.piece < pieces.count {
            guard case .bytes(var head) = pieces[mark.piece] else { preconditionFailure("mark inside a range piece") }
            head.removeSubrange(mark.offset...)
            pieces.removeSubrange(mark.piece...)
            buffer = head
        } else {
            buffer.removeSubrange(mark.offset...)
        }
    }

    /// Replaces `length` bytes at `mark` (an array count written before its elements were known).
    mutating func replace(at mark: Mark, length: Int, with bytes: [UInt8]) {
        let range = mark.offset..<(mark.offset + length)
        if mark.piece < pieces.count {
            guard case .bytes(var head) = pieces[mark.piece] else { preconditionFailure("mark inside a range piece") }
            head.replaceSubrange(range, with: bytes)
            pieces[mark.piece] = .bytes(head)
        } else {
            buffer.replaceSubrange(range, with: bytes)
        }
    }

    mutating func finish() -> MappedBody {
        pieces.append(.bytes(buffer))
        buffer = []
        var count = 0
        var kept: [MappedPiece] = []
        kept.reserveCapacity(pieces.count)
        for piece in pieces {
            switch piece {
            case .bytes(let b):
                if b.isEmpty { continue }
                count += b.count
            case .original(let r):
                count += r.count
            }
            kept.append(piece)
        }
        return MappedBody(pieces: kept, count: count)
    }
}
