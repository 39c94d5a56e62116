/// "Did you mean" for misspelt keys and enum values.
enum Suggestions {
    /// The closest candidate within a typo-sized edit distance, or nil. Case-only differences
    /// always match, since `bootstrapservers` is the most common slip; so do abbreviations
    /// (`warn` for `warning`).
    static func closest(to word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        if let caseMatch = candidates.first(where: { $0.lowercased() == lowered }) { return caseMatch }
        if lowered.count >= 3, let prefixMatch = candidates.first(where: { $0.lowercased().hasPrefix(lowered) }) {
            return prefixMatch
        }
        let limit = max(1, min(3, (word.count + 1) / 3))
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance <= limit, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    static func didYouMean(_ word: String, among candidates: [String]) -> String {
        closest(to: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
