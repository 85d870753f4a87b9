// Checks that hold in every build. The numeric target (LdaeNumerics) is compiled with -Ounchecked in release
// (Package.swift), which removes `precondition`, `assert`, Swift's array bounds checks and its integer overflow traps
// there; so every check that guards memory (a buffer's size before unsafe pointer loops or a C call) is a `require`,
// which traps in every build, and every size that comes from a file is computed here, with overflow reported, before
// anything is allocated or read (the readers themselves keep Swift's checks too).

/// Traps (fatalError, kept by -Ounchecked) when `condition` is false: for the callers' contracts that guard memory.
@inlinable @inline(__always)
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = "",
                    file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

public enum Checked {
    /// The number of elements of `shape`, or nil when a dimension is negative or the product overflows.
    public static func count(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    /// count * size, or nil on overflow or a negative operand.
    public static func bytes(_ count: Int, _ size: Int) -> Int? {
        guard count >= 0, size >= 0 else { return nil }
        let (p, o) = count.multipliedReportingOverflow(by: size)
        return o ? nil : p
    }

    /// Whether [start, start + length) lies inside [0, total), without overflow.
    public static func inside(start: Int, length: Int, total: Int) -> Bool {
        start >= 0 && length >= 0 && start <= total && length <= total - start
    }
}
