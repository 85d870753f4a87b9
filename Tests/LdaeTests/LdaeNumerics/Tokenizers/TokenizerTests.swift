import Foundation
import XCTest
@testable import Ldae

/// The learned tokenizers' numerics: the loss basis, the patch AE/VAE gradients, and the paper's equivalences
/// (a linear AE reaches the PCA subspace; a VAE without its KL term behaves as the AE).
final class TokenizerTests: XCTestCase {
    func testCompletedBasisIsOrthonormalAndSpansTheRows() throws {
        var rng = RNG(seed: 1)
        let D = 12, d = 3
        let rows = (0..<(d * D)).map { _ in Float(rng.normal()) }
        let q = try XCTUnwrap(LinearCodec.completedBasis(rows: rows, count: d, dim: D))
        for i in 0..<D { for j in 0..<D {
            let dot = (0..<D).reduce(0.0) { $0 + Double(q[i * D + $1]) * Double(q[j * D + $1]) }
            XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-5)
        } }
        // every given row lies in the span of the first d basis rows
        for r in 0..<d {
            let v = (0..<D).map { Double(rows[r * D + $0]) }
            var proj = [Double](repeating: 0, count: D)
            for k in 0..<d { let c = (0..<D).reduce(0.0) { $0 + Double(q[k * D + $1]) * v[$1] }; for j in 0..<D { proj[j] += c * Double(q[k * D + j]) } }
            for j in 0..<D { XCTAssertEqual(proj[j], v[j], accuracy: 1e-4) }
        }
        // two equal rows: rank below d
        XCTAssertNil(LinearCodec.completedBasis(rows: Array(rows[0..<D]) + Array(rows[0..<D]), count: 2, dim: D))
    }

    func testPatchLinearGradientsMatchFiniteDifferences() throws {
        for kind in [TokenizerKind.patchAE, .patchVAE] {
            var s = TokenizerFitSettings(); s.kind = kind; s.latentDim = 3; s.klWeight = 0.3; s.seed = 2
            let g = PatchGeometry(imageSize: 8, patchSize: 2, channels: 3)   // 16 tokens of 12
            let m = try PatchLinear(s, geometry: g)
            var rng = RNG(seed: 9)
            let x = (0..<(2 * g.valuesPerImage)).map { _ in Float(rng.normal()) * 0.5 }
            try m.prepare(x, batch: 2)
            if kind == .patchVAE { for t in m.layout where t.name.hasPrefix("logvar") { for i in 0..<t.count { m.params[t.offset + i] = Float(rng.normal()) * 0.3 } } }
            func loss() -> Double { var r = RNG(seed: 77); let (a, b) = m.lossAndGradient(x, batch: 2, rng: &r); return a + Double(m.klWeight) * b }
            _ = loss()
            let grads = Array(UnsafeBufferPointer(start: m.grads, count: m.parameterCount))
            for t in m.layout where t.trainable {
                for i in FD.sampleIndices(t.count, 5, &rng) {
                    let p = m.params + t.offset + i, old = p.pointee, eps: Float = 1e-2
                    p.pointee = old + eps; let lp = loss()
                    p.pointee = old - eps; let lm = loss()
                    p.pointee = old
                    FD.assertClose("\(kind.rawValue) \(t.name)[\(i)]", numeric: [(lp - lm) / Double(2 * eps)],
                                   analytic: [Double(grads[t.offset + i])], rtol: 3e-2, atol: 2e-4)
                }
            }
            XCTAssertEqual((0..<m.layout[0].count).map { grads[$0] }, [Float](repeating: 0, count: m.layout[0].count), "the mean is frozen")
        }
    }

    /// Patches x = A u + noise with u ~ N(0, diag(4, 3, 2, 1.5)) on a random orthonormal A [D, 4]: the top-4 PCA
    /// subspace is span(A). A patch-ae (random or PCA start) and a patch-vae with KL weight 0 fit to it span it too:
    /// the projectors differ by less than 0.05 in Frobenius norm (measured about 0.01).
    func testLinearAutoencodersReachThePCASubspace() throws {
        let g = PatchGeometry(imageSize: 8, patchSize: 2, channels: 3), D = g.tokenDim, d = 4, B = 32
        var rng = RNG(seed: 5)
        let a = try XCTUnwrap(LinearCodec.completedBasis(rows: (0..<(d * D)).map { _ in Float(rng.normal()) }, count: d, dim: D))
        let sd: [Float] = [2, 1.73, 1.41, 1.22]
        func batch(_ r: inout RNG) -> [Float] {
            var x = [Float](repeating: 0, count: B * g.valuesPerImage)
            for n in 0..<(B * g.tokens) {
                let u = sd.map { $0 * Float(r.normal()) }
                for j in 0..<D { x[n * D + j] = 0.3 + (0..<d).reduce(Float(0)) { $0 + u[$1] * a[$1 * D + j] } + 0.05 * Float(r.normal()) }
            }
            return x
        }
        func projectorError(_ f: TokenizerFile) throws -> Double {
            guard case .linear(let c) = try TokenizerRegistry.definition(f.kind).model(f) else { XCTFail(); return 1 }
            var e = 0.0
            for i in 0..<D { for j in 0..<D {
                let p = (0..<d).reduce(0.0) { $0 + Double(c.lossBasis[$1 * D + i] * c.lossBasis[$1 * D + j]) }
                let q = (0..<d).reduce(0.0) { $0 + Double(a[$1 * D + i] * a[$1 * D + j]) }
                e += (p - q) * (p - q)
            } }
            return e.squareRoot()
        }
        for (kind, pcaInit) in [(TokenizerKind.patchAE, false), (.patchAE, true), (.patchVAE, false)] {
            var s = TokenizerFitSettings(); s.kind = kind; s.latentDim = d; s.klWeight = 0; s.initPCA = pcaInit; s.seed = 1
            let m = try PatchLinear(s, geometry: g)
            var r = RNG(seed: 11)
            try batch(&r).withUnsafeBufferPointer { try m.prepare($0.baseAddress!, batch: B) }
            let adam = AdamW(count: m.parameterCount, segments: m.layout.filter(\.trainable).map { .init(offset: $0.offset, count: $0.count, decay: false) },
                             beta1: 0.9, beta2: 0.999, weightDecay: 0)
            var last = 0.0
            for step in 0..<600 {
                var nr = RNG(seed: 3, stream: UInt64(step))
                last = batch(&r).withUnsafeBufferPointer { m.lossAndGradient($0.baseAddress!, batch: B, rng: &nr).mse }
                adam.update(params: m.params, grads: m.grads, lr: step < 400 ? 1e-2 : 2e-3, plan: ExecutionPlan(threads: 1))
            }
            let f = TokenizerFile(settings: s, geometry: g, indexSHA256: "", tensors: m.exportTensors())
            let err = try projectorError(f)
            XCTAssertLessThan(err, 0.05, "\(kind.rawValue) pcaInit \(pcaInit): projector error \(err)")
            XCTAssertLessThan(last, 0.0035, "\(kind.rawValue): reconstruction MSE \(last) (the noise floor is 0.0025 * (D - d) / D)")
        }
    }
}
