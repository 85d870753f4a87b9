import Foundation
import XCTest
@testable import Ldae

/// Finite-difference helpers for the kernel and model gradient tests.
enum FD {
    static func randn(_ n: Int, _ rng: inout RNG, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.normal()) * scale }
    }

    /// Central difference of `loss` with respect to x[i] for each i in `indices`.
    static func numeric(_ x: inout [Float], indices: [Int], eps: Float, loss: ([Float]) -> Double) -> [Double] {
        indices.map { i in
            let old = x[i]
            x[i] = old + eps; let lp = loss(x)
            x[i] = old - eps; let lm = loss(x)
            x[i] = old
            return (lp - lm) / Double(2 * eps)
        }
    }

    /// sum(w * out) in Double.
    static func weighted(_ out: [Float], _ w: [Float]) -> Double {
        var s = 0.0
        for i in 0..<out.count { s += Double(out[i]) * Double(w[i]) }
        return s
    }

    /// Asserts ||num - ana|| <= rtol ||ana|| + atol over the checked entries.
    static func assertClose(_ name: String, numeric: [Double], analytic: [Double], rtol: Double = 1e-2, atol: Double = 1e-4,
                            file: StaticString = #filePath, line: UInt = #line) {
        var d2 = 0.0, a2 = 0.0
        for i in 0..<numeric.count { d2 += (numeric[i] - analytic[i]) * (numeric[i] - analytic[i]); a2 += analytic[i] * analytic[i] }
        let err = d2.squareRoot(), ref = a2.squareRoot()
        XCTAssert(err <= rtol * ref + atol, "\(name): |num - analytic| = \(err), |analytic| = \(ref) (num \(numeric.prefix(4)), ana \(analytic.prefix(4)))",
                  file: file, line: line)
    }

    static func sampleIndices(_ n: Int, _ k: Int, _ rng: inout RNG) -> [Int] {
        if n <= k { return Array(0..<n) }
        return (0..<k).map { _ in rng.below(n) }
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}
