import Foundation

/// Row-parallel loops for the kernels. The model runs OpenBLAS single-threaded and splits work itself
/// (contiguous chunks, one per core), so BLAS calls inside a parallel region never oversubscribe.
public enum Parallel {
    /// Number of worker chunks (cores). `LDAE_THREADS` overrides.
    public static let workers: Int = {
        if let s = ProcessInfo.processInfo.environment["LDAE_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// How many chunks `chunks`/`chunksIndexed` use for n items at this grain (1 inside `serially`).
    @inline(__always)
    public static func chunkCount(_ n: Int, grain: Int = 1) -> Int {
        n <= 0 ? 0 : isSerial ? 1 : min(workers, max(1, n / max(1, grain)))
    }

    /// Calls body(worker, i) for every i in 0..<count, handing the items out one at a time to up to `workers`
    /// concurrent workers (worker < workers), so that a core slowed by other load on the machine takes fewer of them.
    /// For coarse items (the model's forward chunks); inside `serially`, in order on this thread.
    public static func dynamic(_ count: Int, _ body: (Int, Int) -> Void) {
        if count <= 0 { return }
        let k = isSerial ? 1 : min(workers, count)
        if k == 1 { for i in 0..<count { body(0, i) }; return }
        let next = ItemCounter()
        withoutActuallyEscaping(body) { f in
            let box = UncheckedSendable(f)
            DispatchQueue.concurrentPerform(iterations: k) { w in
                while let i = next.take(below: count) { box.value(w, i) }
            }
        }
    }

    /// Runs `share(w)` on each of k concurrent workers (w < k), then, on each worker as soon as its share is done,
    /// body(w, i) for the items i in 0..<count, handed out one at a time: fixed shares, with a tail that balances the
    /// cores (the model's backward). Inside `serially`, or for k == 1, all of it in order on this thread.
    public static func sharesThenDynamic(_ k: Int, tail count: Int, share: (Int) -> Void, _ body: (Int, Int) -> Void) {
        if k <= 0 { return }
        if isSerial || k == 1 {
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

    /// True on a thread inside `serially`: every loop here then runs inline as one chunk.
    public static var isSerial: Bool { pthread_getspecific(serialKey) != nil }

    /// Runs body with every `chunks`/`chunksIndexed` loop on this thread inline (one chunk, no dispatch): for work
    /// that is already split over the cores at a coarser level (the model's chunks of images, forward and backward).
    public static func serially<R>(_ body: () throws -> R) rethrows -> R {
        let old = pthread_getspecific(serialKey)
        pthread_setspecific(serialKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(serialKey, old) }
        return try body()
    }

    /// Calls body(start, end) for up to `workers` contiguous chunks covering 0..<n (each at least `grain`
    /// items), concurrently when more than one chunk.
    @inline(__always)
    public static func chunks(_ n: Int, grain: Int = 1, _ body: (Int, Int) -> Void) {
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
    public static func chunksIndexed(_ n: Int, grain: Int = 1, _ body: (Int, Int, Int) -> Void) {
        if n <= 0 { return }
        let k = chunkCount(n, grain: grain)
        if k == 1 { body(0, 0, n); return }
        withoutActuallyEscaping(body) { f in
            let box = UncheckedSendable(f)
            DispatchQueue.concurrentPerform(iterations: k) { i in box.value(i, i * n / k, (i + 1) * n / k) }
        }
    }

    /// Runs body with OpenBLAS at one thread (restored afterwards): the kernels parallelise themselves.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        let old = BLAS.threads
        if old != 1 { BLAS.setThreads(1) }
        defer { if old != 1 { BLAS.setThreads(old) } }
        return try body()
    }
}

/// The thread-local flag of `Parallel.serially` (a pthread key: GCD's worker threads are plain threads).
private let serialKey: pthread_key_t = {
    var key = pthread_key_t()
    precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
    return key
}()

/// The next item of `Parallel.dynamic`, under a lock (taken once per coarse item).
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
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
