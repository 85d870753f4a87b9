import Foundation
@testable import Ldae

/// Synthetic images [N, S, S, 3] with distinct, position-dependent values.
func trainTestImages(_ n: Int, size s: Int, seed: UInt64) -> [[UInt8]] {
    var rng = RNG(seed: seed)
    return (0..<n).map { _ in (0..<(s * s * 3)).map { _ in UInt8(rng.below(256)) } }
}

/// A random orthonormal PCA basis for D = p*p*3 (eigenvectors of a random symmetric matrix), random mean.
func trainTestBasis(patchSize p: Int, seed: UInt64) throws -> PCABasis {
    let D = p * p * 3
    var rng = RNG(seed: seed)
    var a = [Double](repeating: 0, count: D * D)
    for i in 0..<D { for j in i..<D { let v = rng.normal(); a[i * D + j] = v; a[j * D + i] = v } }
    let (vals, vecs) = try LAPACK.symmetricEigen(a, n: D)
    // descending order
    var comps = [Float](repeating: 0, count: D * D), ev = [Float](repeating: 0, count: D)
    for r in 0..<D { let src = D - 1 - r; ev[r] = Float(abs(vals[src])); for j in 0..<D { comps[r * D + j] = Float(vecs[src * D + j]) } }
    let mean = (0..<D).map { _ in Float(rng.normal() * 0.1) }
    return PCABasis(mean: mean, components: comps, eigenvalues: ev, patchSize: p, channels: 3, sampleCount: 1, indexSHA256: "")
}
