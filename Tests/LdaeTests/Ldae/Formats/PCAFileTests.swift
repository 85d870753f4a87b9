import Foundation
import XCTest
@testable import Ldae

/// The seeded subsample and pca.h5: exact selection, the subsample's fit, saving, loading, h5py.
final class PCAFileTests: XCTestCase {
    func testSamplerIsExactDeterministicAndSpread() {
        func mask(_ seed: UInt64) -> [Bool] {
            var s = PatchSampler(total: 10_000, target: 1_000, seed: seed)
            return (0..<10_000).map { _ in s.next() }
        }
        let a = mask(1), b = mask(1), c = mask(2)
        XCTAssertEqual(a.filter { $0 }.count, 1_000)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        for q in 0..<4 {
            let inQuarter = a[(q * 2_500)..<((q + 1) * 2_500)].filter { $0 }.count
            XCTAssert((180...320).contains(inQuarter), "quarter \(q) has \(inQuarter) of 1000")
        }
        var all = PatchSampler(total: 5, target: 9, seed: 0)
        XCTAssertTrue(all.takesAll)
        XCTAssertEqual((0..<5).filter { _ in all.next() }.count, 5)
    }

    func testMaxPatchesFitsExactlyTheSeededSubsample() throws {
        let dir = TestSupport.tempDir()
        let set = try TestSupport.randomShards(dir: dir, count: 30, seed: 4, imageSize: 8, patchSize: 2, perShard: 7).set
        let D = set.geometry.tokenDim, total = 30 * set.geometry.tokens
        let b = try PCAStream.fit(set, maxPatches: 200, seed: 3)
        XCTAssertEqual(b.sampleCount, 200)
        // The naive reference on the patches the sampler picks, in global order.
        let rows = try PCATests.allRows(set)
        var s = PatchSampler(total: total, target: 200, seed: 3)
        var picked: [Double] = []
        for i in 0..<total where s.next() { picked += rows[(i * D)..<((i + 1) * D)] }
        let (m, c) = NaivePCA.meanCov(picked, n: 200, D: D)
        let (jv, _) = NaivePCA.jacobi(c, D: D)
        for j in 0..<D { XCTAssertEqual(Double(b.mean[j]), m[j], accuracy: 1e-6) }
        for k in 0..<D { XCTAssertEqual(Double(b.eigenvalues[k]), jv[k], accuracy: 1e-6 * jv[0]) }
        // Same seed, same basis; another seed, another sample.
        let again = try PCAStream.fit(set, maxPatches: 200, seed: 3)
        XCTAssertEqual(again.components, b.components)
        let other = try PCAStream.fit(set, maxPatches: 200, seed: 4)
        XCTAssertNotEqual(other.mean, b.mean)
    }

    func testSaveLoadRoundTripAndBadFiles() throws {
        let dir = TestSupport.tempDir()
        var rng = RNG(seed: 8)
        let x = (0..<(100 * 12)).map { _ in Float(rng.normal()) }
        var acc = CovarianceAccumulator(dim: 12); acc.add(floats: x, rows: 100)
        let b = try PCAFit.basis(acc, patchSize: 2, channels: 3, indexSHA256: "abc")
        let path = dir + "/pca.h5"
        try b.save(path)
        let l = try PCABasis.load(path)
        XCTAssertEqual(l.mean, b.mean); XCTAssertEqual(l.components, b.components); XCTAssertEqual(l.eigenvalues, b.eigenvalues)
        XCTAssertEqual(l.sampleCount, 100); XCTAssertEqual(l.indexSHA256, "abc"); XCTAssertEqual(l.patchSize, 2)

        let wrongFormat = dir + "/other.h5"
        let f = try H5File.create(wrongFormat)
        try f.setAttribute("format", "ldae-shard"); try f.setAttribute("format_version", 1); try f.close()
        XCTAssertThrowsError(try PCABasis.load(wrongFormat)) { e in
            XCTAssertTrue("\(e)".contains(wrongFormat) && "\(e)".contains("not an ldae PCA basis"), "\(e)")
        }
        let wrongVersion = dir + "/v99.h5"
        let f2 = try H5File.create(wrongVersion)
        try f2.setAttribute("format", FormatName.pca); try f2.setAttribute("format_version", 99); try f2.close()
        XCTAssertThrowsError(try PCABasis.load(wrongVersion)) { e in
            XCTAssertTrue("\(e)".contains(wrongVersion) && "\(e)".contains("format_version 99"), "\(e)")
        }
        XCTAssertThrowsError(try PCABasis.load(dir + "/missing.h5")) { e in XCTAssertTrue("\(e)".contains("missing.h5")) }
    }

    func testH5pyReadsTheBasis() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("python3 with h5py not installed") }
        let dir = TestSupport.tempDir()
        var rng = RNG(seed: 6)
        let x = (0..<(200 * 12)).map { _ in Float(rng.normal() * 0.5) }
        var acc = CovarianceAccumulator(dim: 12); acc.add(floats: x, rows: 200)
        let b = try PCAFit.basis(acc, patchSize: 2, channels: 3, indexSHA256: "deadbeef")
        try b.save(dir + "/pca.h5")
        let script = """
        import sys, h5py, numpy as np
        f = h5py.File(sys.argv[1], 'r')
        V = f['components'][...]; m = f['mean'][...]; ev = f['eigenvalues'][...]; r = f['explained_variance_ratio'][...]
        a = f.attrs
        assert V.shape == (12, 12) and V.dtype == np.float32 and m.shape == (12,) and ev.shape == (12,)
        assert np.allclose(V @ V.T, np.eye(12), atol=1e-5)
        assert np.all(np.diff(ev) <= 0) and abs(r.sum() - 1) < 1e-5
        x = np.fromfile(sys.argv[2], dtype=np.float32).reshape(200, 12).astype(np.float64)
        w = np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
        assert np.allclose(ev, w, rtol=1e-4, atol=1e-6), (ev, w)
        assert np.allclose(m, x.mean(0), atol=1e-6)
        print(a['format'], a['format_version'], a['patch_size'], a['channels'], a['pixel_scaling'], a['sample_count'], a['index_sha256'])
        """
        let raw = dir + "/x.f32"
        try x.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: raw)) }
        let out = try TestSupport.runPython(py, script, args: [dir + "/pca.h5", raw])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "ldae-pca 1 2 3 x/127.5-1 200 deadbeef")
    }
}
