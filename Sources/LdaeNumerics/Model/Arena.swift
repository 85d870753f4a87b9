/// Float buffers carved from one 64-byte-aligned allocation by one layout function, run twice: first to count the
/// floats it takes, then on the allocation (grown when too small) to hand out the pointers. So the buffers' sizes
/// are written once, in the `take` sequence itself, and never as a separate formula.
///
/// Every buffer starts at a multiple of 16 floats: with the 64-byte base, every activation row of width 16k starts on
/// a cache line, so the kernels' 32-byte AVX loads and stores never straddle two.
final class Arena {
    private(set) var base: UnsafeMutablePointer<Float>? = nil
    /// Floats allocated.
    private(set) var capacity = 0
    /// Floats handed out by the current carving.
    private(set) var used = 0
    private var counting = false

    /// What `take` returns while counting: a real buffer, never read, so a layout that writes while counting
    /// cannot touch memory it does not own.
    nonisolated(unsafe) private static let placeholder = LDAEModel.allocateAligned(16)

    /// Runs `layout` once to count, sizes the allocation, runs it again to carve, and returns the second run's result.
    /// The two runs must take the same buffers (checked).
    func carve<R>(_ layout: (Arena) -> R) -> R {
        counting = true
        used = 0
        _ = layout(self)
        counting = false
        let total = used
        if total > capacity {
            LDAEModel.deallocateAligned(base)
            base = LDAEModel.allocateAligned(total)
            capacity = total
        }
        used = 0
        let r = layout(self)
        if used != total { fatalError("arena layout took \(used) floats when carving but \(total) when counting") }
        return r
    }

    /// The next n floats (rounded up to 16).
    func take(_ n: Int) -> UnsafeMutablePointer<Float> {
        let size = (max(0, n) + 15) & ~15
        if counting { used += size; return Arena.placeholder }
        guard let base, used + size <= capacity else {
            fatalError("arena overflow: \(used + size) floats asked of \(capacity)")
        }
        let p = base + used
        used += size
        return p
    }

    func free() { LDAEModel.deallocateAligned(base); base = nil; capacity = 0; used = 0 }
}
