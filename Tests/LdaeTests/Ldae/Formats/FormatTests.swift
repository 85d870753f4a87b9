import Foundation
import XCTest
@testable import Ldae

final class FormatTests: XCTestCase {
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
}
