import Foundation

// Row-parallel loops for the kernels, over the plan's threads. The model runs OpenBLAS single-threaded
// (`BLAS.withOneThread`) and splits work itself (contiguous chunks, one per thread), so BLAS calls inside a
// parallel region never oversubscribe. A plan with one thread runs every loop inline, in order, on the caller's thread.

extension ExecutionPlan {
    /// How many chunks `chunks`/`chunksIndexed` use for n items at this grain.
    @inline(__always)
    public func chunkCount(_ n: Int, grain: Int = 1) -> Int {
        n <= 0 ? 0 : min(workers, max(1, n / max(1, grain)))
    }

    /// Calls body(start, end) for up to `workers` contiguous chunks covering 0..<n (each at least `grain`
    /// items), concurrently when more than one chunk.
    @inline(__always)
    public func chunks(_ n: Int, grain: Int = 1, _ body: (Int, Int) -> Void) {
        if n <= 0 { return }
        let k = chunkCount(n, grain: grain)
        if k == 1 { body(0, n); return }
        withoutActuallyEscaping(body) { f in
            let box = UncheckedSendable(f)
            DispatchQueue.concurrentPerform(iterations: k) { i in box.value(i * n / k, (i + 1) * n / k) }
        }
    }

    /// Calls body(worker, start, end): like `chunks`, also passing the chunk index (for per-worker scratch).
    @inline(__always)
    public func chunksIndexed(_ n: Int, grain: Int = 1, _ body: (Int, Int, Int) -> Void) {
        if n <= 0 { return }
        let k = chunkCount(n, grain: grain)
        if k == 1 { body(0, 0, n); return }
        withoutActuallyEscaping(body) { f in
            let box = UncheckedSendable(f)
            DispatchQueue.concurrentPerform(iterations: k) { i in box.value(i, i * n / k, (i + 1) * n / k) }
        }
    }

    /// Calls body(worker, i) for every i in 0..<count, handing the items out one at a time to up to `workers`
    /// concurrent workers (worker < workers), so that a core slowed by other load on the machine takes fewer of them.
    /// For coarse items (the model's forward chunks).
    public func dynamic(_ count: Int, _ body: (Int, Int) -> Void) {
        if count <= 0 { return }
        let k = min(workers, count)
        if k == 1 { for i in 0..<count { body(0, i) }; return }
        let next = ItemCounter()
        withoutActuallyEscaping(body) { f in
            let box = UncheckedSendable(f)
            DispatchQueue.concurrentPerform(iterations: k) { w in
                while let i = next.take(below: count) { box.value(w, i) }
            }
        }
    }

    /// Runs `share(w)` on each of k concurrent workers (w < k, k at most `workers`), then, on each worker as soon as
    /// its share is done, body(w, i) for the items i in 0..<count, handed out one at a time: fixed shares, with a tail
    /// that balances the cores (the model's backward). For k == 1 all of it runs in order on this thread.
    public func sharesThenDynamic(_ k: Int, tail count: Int, share: (Int) -> Void, _ body: (Int, Int) -> Void) {
        if k <= 0 { return }
        if k == 1 || workers == 1 {
            for w in 0..<k { share(w) }
            for i in 0..<max(0, count) { body(0, i) }
            return
        }
        let next = ItemCounter()
        withoutActuallyEscaping(share) { s in
            withoutActuallyEscaping(body) { f in
                let sb = UncheckedSendable(s), fb = UncheckedSendable(f)
                DispatchQueue.concurrentPerform(iterations: k) { w in
                    sb.value(w)
                    while let i = next.take(below: count) { fb.value(w, i) }
                }
            }
        }
    }
}

/// The next item of `dynamic`, under a lock (taken once per coarse item).
private final class ItemCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take(below count: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        if value >= count { return nil }
        value += 1
        return value - 1
    }
}

/// The kernels hand disjoint slices of raw buffers to the workers; Swift cannot check that, so the closure is
/// passed through this box.
package struct UncheckedSendable<T>: @unchecked Sendable {
    package let value: T
    package init(_ v: T) { value = v }
}
