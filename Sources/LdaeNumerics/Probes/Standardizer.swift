import Foundation

/// Feature standardisation with the training split's statistics: (x - mean) / sqrt(var + eps), per feature.
/// This is MAE's linear-probe BatchNorm without affine parameters, frozen at the training statistics.
public struct Standardizer: Sendable {
    public var mean: [Float]
    public var invStd: [Float]
    public static let eps: Double = 1e-6

    /// Statistics of x [n, f] (float64 accumulation).
    public init(fit x: [Float], count n: Int, dim f: Int) {
        require(x.count == n * f && n > 0)
        var m = [Double](repeating: 0, count: f), v = [Double](repeating: 0, count: f)
        for i in 0..<n { for j in 0..<f { m[j] += Double(x[i * f + j]) } }
        for j in 0..<f { m[j] /= Double(n) }
        for i in 0..<n { for j in 0..<f { let d = Double(x[i * f + j]) - m[j]; v[j] += d * d } }
        mean = m.map { Float($0) }
        invStd = v.map { Float(1 / (($0 / Double(n)) + Standardizer.eps).squareRoot()) }
    }

    /// Applies in place to x [n, f].
    public func apply(_ x: inout [Float]) {
        let f = mean.count
        require(x.count % max(f, 1) == 0)
        let n = x.count / f
        for i in 0..<n { for j in 0..<f { x[i * f + j] = (x[i * f + j] - mean[j]) * invStd[j] } }
    }
}
