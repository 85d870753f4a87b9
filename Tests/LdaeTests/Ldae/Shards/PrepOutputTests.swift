import Foundation
import XCTest
@testable import Ldae

/// What ldae-prep writes, read back by h5py, and what its listing skips.
final class PrepOutputTests: XCTestCase {
    func testH5pyReadsTheSameArrays() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("no python3 with h5py") }
        let out = TestSupport.tempDir() + "/out"
        var o = PrepPipelineTests.options(PrepPipelineTests.fx("cifar10/test"), out)
        o.shardSize = 64
        try Prep.run(o)
        let c = try PrepPipelineTests.contents(out)
        let script = """
        import h5py, json, sys, numpy as np
        idx = json.load(open(sys.argv[1] + '/index.json'))
        P, L, N = [], [], []
        for s in idx['shards']:
            f = h5py.File(sys.argv[1] + '/' + s['file'], 'r')
            assert f.attrs['format'] == 'ldae-shard' and f.attrs['image_size'] == 32 and f.attrs['patch_size'] == 4
            assert f['patches'].dtype == np.uint8 and f['labels'].dtype == np.int32
            P.append(f['patches'][:]); L.append(f['labels'][:]); N += [p.decode() for p in f['paths'][:]]
            names = [n.decode() for n in f['class_names'][:]]
        P = np.concatenate(P); L = np.concatenate(L)
        print(json.dumps({'shape': list(P.shape), 'sum': int(P.astype(np.int64).sum()), 'wsum': int((P.astype(np.int64).reshape(len(P), -1) * np.arange(P[0].size)).sum() % 1000000007),
                          'labels': L.tolist(), 'first_path': N[0], 'names': names}))
        """
        let res = try TestSupport.runPython(py, script, args: [out])
        struct R: Decodable { var shape: [Int]; var sum: Int; var wsum: Int; var labels: [Int32]; var firstPath: String; var names: [String] }
        let r = try JSON.decode(R.self, from: Data(res.utf8), file: "python")
        XCTAssertEqual(r.shape, [100, 64, 48])
        XCTAssertEqual(r.sum, c.patches.reduce(0) { $0 + Int($1) })
        var w = 0
        for img in 0..<100 {
            let base = img * 3072
            for i in 0..<3072 { w = (w + Int(c.patches[base + i]) * i) % 1_000_000_007 }
        }
        XCTAssertEqual(r.wsum, w)
        XCTAssertEqual(r.labels, c.labels)
        XCTAssertEqual(r.firstPath, c.paths[0])
        XCTAssertEqual(r.names.count, 10)
    }

    func testFolderListingIgnoresHiddenFilesAndSymlinkLoops() throws {
        let d = TestSupport.tempDir() + "/in"
        try PrepPipelineTests.copy(PrepPipelineTests.fx("png/rgb8.png"), d + "/b/x/1.png")
        try PrepPipelineTests.copy(PrepPipelineTests.fx("png/rgb8.png"), d + "/a/2.png")
        try PrepPipelineTests.copy(PrepPipelineTests.fx("png/rgb8.png"), d + "/a/.hidden.png")
        try PrepPipelineTests.copy(PrepPipelineTests.fx("png/rgb8.png"), d + "/top.png")
        try FileManager.default.createSymbolicLink(atPath: d + "/b/x/loop", withDestinationPath: d + "/b")
        let f = try ImageFolder(root: d)
        XCTAssertEqual(f.classNames, ["a", "b"])
        XCTAssertEqual(f.files.map { $0.path }, ["a/2.png", "b/x/1.png"])
        XCTAssertEqual(f.files.map { $0.label }, [0, 1])
        XCTAssertEqual(f.ignoredTopLevel, 1)
        // parts cover every file exactly once, in order
        for n in 1...5 {
            let r = (0..<n).map { ImageFolder.partRange(count: 13, part: $0, of: n) }
            XCTAssertEqual(r.flatMap { Array($0) }, Array(0..<13))
        }
    }
}
