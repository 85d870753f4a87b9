import Foundation
import XCTest
@testable import Ldae

/// The entries committed in the repository's `zoo/`: what a user gets on clone must verify, load, and give the
/// features of timm's VisionTransformer (checked with the numpy reimplementation tools/ref_encoder.py).
final class ZooCommittedTests: XCTestCase {
    func testCommittedEntriesVerifyLoadAndMatchTheNumpyTimmReference() throws {
        let store = ZooStore(root: TestSupport.repo + "/zoo")
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
                // timm's own output (the token mean after the final norm), whatever the entry recommends
                let (code, _, err) = try TestSupport.run("ldae-zoo", ["features", ref, tmp + "/s", "--out", tmp + "/f.npy", "--zoo", store.root,
                                                                      "--layers", "final", "--pooling", "mean", "--no-flip-tta"])
                XCTAssertEqual(code, 0, "\(ref): \(err)")
                // the recommended features are what `features` writes by default, with the width the manifest implies
                let (code2, out2, err2) = try TestSupport.run("ldae-zoo", ["features", ref, tmp + "/s", "--out", tmp + "/r.npy", "--zoo", store.root])
                XCTAssertEqual(code2, 0, "\(ref): \(err2)")
                let spec = m.features ?? Manifest.FeatureSpec(layers: [.final])
                let width = spec.pooling.factor * spec.layers.reduce(0) { $0 + ($1.isDecoder ? m.model.decoderWidth : m.model.encoderWidth) }
                XCTAssertTrue(out2.contains("[12, \(width)]"), "\(ref): \(out2)")
                guard let py else { continue }
                let (maxDiff, meanAbs) = try TestSupport.compareWithRefEncoder(py, entryDir: dir, shards: tmp + "/s", features: tmp + "/f.npy",
                                                                              n: 12, width: m.model.encoderWidth)
                XCTAssertLessThan(maxDiff, 1e-4, "\(ref): max |ldae - numpy timm reference|")
                XCTAssertGreaterThan(meanAbs, 1e-2, "\(ref): features are trivially small")
            }
        }
    }
}
