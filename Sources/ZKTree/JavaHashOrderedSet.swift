/// A set of strings that iterates in the order java.util.HashSet<String> would.
///
/// ZooKeeper keeps each session's ephemerals in a HashSet and deletes them, on closeSession, in
/// its iteration order, which decides the order of the watch events clients see. To give the same
/// events in the same order, this reproduces HashMap's layout: String.hashCode over UTF-16 units,
/// the `h ^ (h >>> 16)` spread, power-of-two tables that double past 3/4 full and never shrink,
/// buckets in index order and insertion order within a bucket (preserved across resizes).
public struct JavaHashOrderedSet: Sendable, Hashable {
    private var sequenceByElement: [String: Int] = [:]
    private var nextSequence = 0
    /// Table size; 0 until the first insert, as in HashMap.
    public private(set) var capacity = 0

    public init() {}

    public init(_ elements: some Sequence<String>) {
        for element in elements { insert(element) }
    }

    public var count: Int { sequenceByElement.count }
    public var isEmpty: Bool { sequenceByElement.isEmpty }
    public func contains(_ element: String) -> Bool { sequenceByElement[element] != nil }

    public mutating func insert(_ element: String) {
        guard sequenceByElement[element] == nil else { return }
        if capacity == 0 { capacity = 16 }
        sequenceByElement[element] = nextSequence
        nextSequence += 1
        if sequenceByElement.count > capacity * 3 / 4 { capacity *= 2 }
    }

    public mutating func remove(_ element: String) {
        sequenceByElement[element] = nil
    }

    public static func javaHashCode(_ string: String) -> Int32 {
        var hash: Int32 = 0
        for unit in string.utf16 { hash = hash &* 31 &+ Int32(unit) }
        return hash
    }

    static func bucket(_ string: String, capacity: Int) -> Int {
        let hash = UInt32(bitPattern: javaHashCode(string))
        let spread = hash ^ (hash >> 16)
        return Int(spread & UInt32(capacity - 1))
    }

    /// The elements in Java's iteration order.
    public var elements: [String] {
        guard capacity > 0 else { return [] }
        return sequenceByElement
            .map { (bucket: Self.bucket($0.key, capacity: capacity), sequence: $0.value, element: $0.key) }
            .sorted { ($0.bucket, $0.sequence) < ($1.bucket, $1.sequence) }
            .map(\.element)
    }

    /// HashSet.clone(): a table pre-sized for the current count, filled in this set's order.
    public func cloned() -> JavaHashOrderedSet {
        var copy = JavaHashOrderedSet()
        guard count > 0 else { return copy }
        let wanted = Int(Float(count) / 0.75 + 1.0)
        var size = 1
        while size < wanted { size <<= 1 }
        copy.capacity = size
        for element in elements {
            copy.sequenceByElement[element] = copy.nextSequence
            copy.nextSequence += 1
            if copy.sequenceByElement.count > copy.capacity * 3 / 4 { copy.capacity *= 2 }
        }
        return copy
    }
}
