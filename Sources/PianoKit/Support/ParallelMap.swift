import Foundation

extension Array where Element: Sendable {
    /// Maps `transform` over the elements with at most `jobs` running at once, keeping order.
    ///
    /// Each worker takes the next unclaimed index, so long items do not hold up short ones. The
    /// workers run with the caller's `LayerThreads` count.
    public func parallelMap<T: Sendable>(jobs: Int, _ transform: @Sendable (Element) -> T) -> [T] {
        let workers = Swift.max(1, Swift.min(jobs, count))
        if workers == 1 { return map(transform) }
        let results = ResultSlots<T>(count: count)
        let next = ResultSlots<Int>(count: 0)
        let layerThreads = LayerThreads.count
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            LayerThreads.with(layerThreads) {
                while let index = next.claim(below: count) {
                    results.set(index, transform(self[index]))
                }
            }
        }
        return results.values()
    }
}

/// Lock-protected storage for results written by several threads.
private final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private var counter = 0
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) {
        lock.lock(); slots[index] = value; lock.unlock()
    }

    func claim(below limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard counter < limit else { return nil }
        counter += 1
        return counter - 1
    }

    func values() -> [T] { slots.map { $0! } }
}
