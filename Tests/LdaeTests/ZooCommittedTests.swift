import Foundation
import XCTest
@testable import Ldae

/// The entries committed in the repository's `zoo/`: what a user gets on clone must verify, load, and give the
/// features of timm's VisionTransformer (checked with the numpy reimplementation tools/ref_encoder.py).
final class ZooCommittedTests: XCTestCase {
    static var repo: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func testCommittedEntriesVerifyLoadAndMatchTheNumpyTimmReference() throws {
        let store = ZooStore(root: Self.repo + "/zoo")
        let names = store.names()
        XCTAssertFalse(names.isEmpty, "the repository's zoo/ has no entry")
        let py = TestSupport.pythonWithH5py
        for name in names {
            for v in store.versions(name) {
                let ref = "\(name)@v\(v)"
                let (m, dir) = try store.load(ref)            // sha256 of every listed file
                XCTAssertTrue(m.files.keys.contains(ZooStore.weightsFile), ref)
                XCTAssertGreaterThan(m.steps, 0, ref)
                XCTAssertTrue(m.finalLoss.isFinite, ref)
                // every evaluation line parses as JSON with its numbers
                let evals = dir + "/" + ZooStore.evalsFile
                if FileUtil.exists(evals) {
                    for line in try String(contentsOfFile: evals, encoding: .utf8).split(separator: "\n") {
                        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(ref): \(line.prefix(80))")
                    }
                }
                // features of 12 random images through our encoder, and through the numpy timm reference
                let tmp = TestSupport.tempDir()
                let S = m.model.imageSize
                var rng = RNG(seed: UInt64(v))
                let imgs = (0..<12).map { _ in (0..<(S * S * 3)).map { _ in UInt8(rng.uniform() * 255) } }
                try TestSupport.makeShards(dir: tmp + "/s", images: imgs, labels: Array(repeating: 0, count: 12), imageSize: S,
                                           patchSize: m.model.patchSize, classNames: ["a"])
                let (code, _, err) = try TestSupport.run("ldae-zoo", ["features", ref, tmp + "/s", "--out", tmp + "/f.npy", "--zoo", store.root])
                XCTAssertEqual(code, 0, "\(ref): \(err)")
                guard let py else { continue }
                _ = try TestSupport.runPython(py, """
                    import runpy, sys
                    sys.argv = ["ref_encoder.py", sys.argv[1], sys.argv[2], "--out", sys.argv[3]]
                    runpy.run_path("\(Self.repo)/tools/ref_encoder.py", run_name="__main__")
                    """, args: [dir, tmp + "/s", tmp + "/ref.npy"])
                let out = try TestSupport.runPython(py, """
                    import numpy as np, sys
                    a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
                    assert a.shape == b.shape == (12, int(sys.argv[3])), (a.shape, b.shape)
                    print(float(np.abs(a - b).max()), float(np.abs(b).mean()))
                    """, args: [tmp + "/f.npy", tmp + "/ref.npy", String(m.model.encoderWidth)])
                let parts = out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                XCTAssertEqual(parts.count, 2, out)
                XCTAssertLessThan(parts.first ?? 1, 1e-4, "\(ref): max |ldae - numpy timm reference|")
                XCTAssertGreaterThan(parts.last ?? 0, 1e-2, "\(ref): features are trivially small")
            }
        }
    }
}
