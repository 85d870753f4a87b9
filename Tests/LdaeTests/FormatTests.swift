import XCTest
@testable import Ldae
@testable import LdaeNumerics
@testable import LdaeSupport

final class FormatTests: XCTestCase {
    func testPatchifyRoundTripAndOrder() {
        let g = PatchGeometry(imageSize: 8, patchSize: 4)
        let img = (0..<(8 * 8 * 3)).map { UInt8($0 % 251) }
        let p = g.patchify(img)
        XCTAssertEqual(g.unpatchify(p), img)
        // token 1 is the top-right patch; its first value is pixel (0, 4, channel 0)
        XCTAssertEqual(p[1 * 48], img[(0 * 8 + 4) * 3])
        // token 2 starts at pixel (4, 0); value 5 of a token is pixel (0, 1, channel 2)
        XCTAssertEqual(p[2 * 48], img[(4 * 8 + 0) * 3])
        XCTAssertEqual(p[5], img[(0 * 8 + 1) * 3 + 2])
    }

    func testShardWriteReadRoundTrip() throws {
        let dir = TestSupport.tempDir()
        var rng = RNG(seed: 3)
        let images = (0..<5).map { _ in (0..<(8 * 8 * 3)).map { _ in UInt8(rng.below(256)) } }
        let set = try TestSupport.makeShards(dir: dir, images: images, labels: [0, 1, 0, 1, 1], imageSize: 8, patchSize: 4,
                                             classNames: ["a", "b"], perShard: 2)
        XCTAssertEqual(set.count, 5); XCTAssertEqual(set.shards.count, 3)
        XCTAssertEqual(set.locate(4).shard, 2); XCTAssertEqual(set.locate(2).row, 0)
        let (p, l) = try set.read(shard: 1)
        XCTAssertEqual(l, [0, 1])
        XCTAssertEqual(p, set.geometry.patchify(images[2]) + set.geometry.patchify(images[3]))
        XCTAssertEqual(try set.allLabels(), [0, 1, 0, 1, 1])
        let f = try set.open(shard: 0)
        XCTAssertEqual(try f.readStrings(ShardFormat.classNames), ["a", "b"])
        XCTAssertEqual(try f.readStrings(ShardFormat.paths), ["img0.png", "img1.png"])
    }

    func testWrongFormatIsRejectedWithFileName() throws {
        let dir = TestSupport.tempDir()
        let path = dir + "/index.json"
        try Data("{\"format\": \"something-else\", \"format_version\": 1}".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ShardSet(dir)) { e in XCTAssertTrue("\(e)".contains("index.json")) }
        let junk = dir + "/pca.h5"
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try PCABasis.load(junk)) { e in XCTAssertTrue("\(e)".contains("pca.h5")) }
    }

    func testSafetensorsAndNPYRoundTrip() throws {
        let dir = TestSupport.tempDir()
        let t = [Safetensors.Tensor("a.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6.5]),
                 Safetensors.Tensor("b", shape: [1], values: [-1])]
        try Safetensors.write(t, metadata: ["k": "v"], to: dir + "/w.safetensors")
        let r = try Safetensors.read(dir + "/w.safetensors")
        XCTAssertEqual(r.order, ["a.weight", "b"]); XCTAssertEqual(r.tensors["a.weight"]?.values, [1, 2, 3, 4, 5, 6.5])
        XCTAssertEqual(r.metadata["k"], "v")
        try NPY.write([1, 2, 3, 4], shape: [2, 2], to: dir + "/f.npy")
        if let py = TestSupport.pythonWithH5py {
            let out = try TestSupport.runPython(py, """
            import sys, json, numpy as np
            d = sys.argv[1]
            a = np.load(d + '/f.npy'); assert a.dtype == np.float32 and a.shape == (2, 2), a
            raw = open(d + '/w.safetensors', 'rb').read()
            n = int.from_bytes(raw[:8], 'little'); h = json.loads(raw[8:8+n])
            off = h['a.weight']['data_offsets']
            w = np.frombuffer(raw[8+n+off[0]:8+n+off[1]], dtype='<f4').reshape(h['a.weight']['shape'])
            print(float(a.sum()), float(w[1, 2]))
            """, args: [dir])
            XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "10.0 6.5")
        }
    }

    func testH5pyReadsShard() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("python3-h5py not installed") }
        let dir = TestSupport.tempDir()
        let img = (0..<(8 * 8 * 3)).map { UInt8($0 % 256) }
        try TestSupport.makeShards(dir: dir, images: [img], labels: [-1], imageSize: 8, patchSize: 4)
        let out = try TestSupport.runPython(py, """
        import sys, h5py
        f = h5py.File(sys.argv[1] + '/shard-00000.h5', 'r')
        p = f['patches']
        print(f.attrs['format'], int(f.attrs['format_version']), p.dtype, p.shape, int(p[0, 1, 0]), int(f['labels'][0]))
        """, args: [dir])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "ldae-shard 1 uint8 (1, 4, 48) 12 -1")
    }
}
