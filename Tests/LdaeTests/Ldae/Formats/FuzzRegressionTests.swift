import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The inputs on which the fuzz targets (Fuzz/, docs/fuzzing.md) found a crash: each is now one thrown error that
/// names the file and the reason. Inputs in Fixtures/fuzz (its README says where each came from).
final class FuzzRegressionTests: XCTestCase {
    var dir: String { TestSupport.fixtures + "/fuzz" }

    /// A copy of the fixture in a fresh folder, as `name` (the loaders take their file names from the folder).
    func copy(_ fixture: String, as name: String? = nil) throws -> String {
        let d = TestSupport.tempDir()
        let p = d + "/" + (name ?? fixture)
        try FileManager.default.copyItem(atPath: dir + "/" + fixture, toPath: p)
        return p
    }

    /// `body` throws an LdaeError naming `file` whose reason contains `reason`.
    func assertNamedError(_ file: String, _ reason: String, _ body: () throws -> Void, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { e in
            guard let e = e as? LdaeError else { return XCTFail("not an LdaeError: \(e)", line: line) }
            XCTAssertEqual(e.file, file, line: line)
            XCTAssertTrue(e.reason.contains(reason), "reason: \(e.reason)", line: line)
        }
    }

    func testNPYShapeWithReversedParentheses() throws {
        let p = try copy("npy-shape-range.npy")
        assertNamedError(p, "shape") { _ = try NPY.header(p) }
        assertNamedError(p, "shape") { _ = try NPY.read(p) }
    }

    func testNPYShapesParsedStrictly() throws {
        let d = TestSupport.tempDir()
        func header(_ shape: String) -> Data {
            var h = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            while (10 + h.utf8.count + 1) % 64 != 0 { h += " " }
            var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
            withUnsafeBytes(of: UInt16(h.utf8.count + 1).littleEndian) { out.append(contentsOf: $0) }
            return out + Data((h + "\n").utf8)
        }
        for (shape, want) in [("(3, 4)", [3, 4]), ("(5,)", [5]), ("()", [])] {
            let p = d + "/ok.npy"
            try header(shape).write(to: URL(fileURLWithPath: p))
            XCTAssertEqual(try NPY.header(p).shape, want, shape)
        }
        for shape in ["(3, x, 4)", "(,)", ")(", "(3, 4"] {
            let p = d + "/bad.npy"
            try header(shape).write(to: URL(fileURLWithPath: p))
            assertNamedError(p, "shape") { _ = try NPY.header(p) }
        }
    }

    func testIndexWithPatchSizeZero() throws {
        let p = try copy("index-patch-size-0.json", as: ShardFormat.indexFile)
        assertNamedError(p, "patch_size 0") { _ = try ShardIndex.load(p) }
        assertNamedError(p, "patch_size 0") { _ = try ShardSet(URL(fileURLWithPath: p).deletingLastPathComponent().path) }
    }

    func testIndexCountsAndFileNamesChecked() throws {
        let d = TestSupport.tempDir()
        let good = try String(contentsOfFile: dir + "/index-patch-size-0.json", encoding: .utf8)
            .replacingOccurrences(of: "\"patch_size\" : 0", with: "\"patch_size\" : 2")
        let p = d + "/" + ShardFormat.indexFile
        for (edit, reason) in [(("\"count\" : 2", "\"count\" : -5"), "negative image count"),
                               (("\"count\" : 2", "\"count\" : 9223372036854775807"), "overflow"),
                               (("\"total\" : 3", "\"total\" : 4"), "not the sum"),
                               (("\"file\" : \"index.json\"", "\"file\" : \"../../etc/passwd\""), "not a path inside"),
                               (("\"image_size\" : 4", "\"image_size\" : 5"), "multiple of patch_size")] {
            XCTAssertTrue(good.contains(edit.0), edit.0)
            try good.replacingOccurrences(of: edit.0, with: edit.1).write(toFile: p, atomically: true, encoding: .utf8)
            assertNamedError(p, reason) { _ = try ShardIndex.load(d) }
        }
    }

    func testPCAPatchSizeOverflow() throws {
        let p = try copy("pca-patch-size-overflow.h5", as: "pca.h5")
        assertNamedError(p, "does not match D") { _ = try PCABasis.load(p) }
    }

    func testTokenizerChannelsOverflow() throws {
        let p = try copy("tokenizer-channels-overflow.h5", as: "tok.h5")
        assertNamedError(p, "impossible geometry") { _ = try TokenizerFile.load(p) }
    }

    func testTokenizerHugeLatentDim() throws {
        let p = try copy("tokenizer-latent-dim-huge.h5", as: "tok.h5")
        assertNamedError(p, "latent_dim must be in 1...4096") { _ = try TokenizerFile.load(p) }
    }

    func testConvVAESettingsAskingForGigabytes() throws {
        let p = try copy("tokenizer-conv-vae-width-1024.h5", as: "tok.h5")
        let f = try TokenizerFile.load(p)
        XCTAssertEqual(f.settings.width, 1024)
        XCTAssertEqual(ConvVAE.layout(try ConvVAEDefinition.config(f.settings, geometry: PatchGeometry(imageSize: 16, patchSize: 16))).count,
                       367_087_623)
        let t = try LoadedTokenizer.load(p, geometry: PatchGeometry(imageSize: 16, patchSize: 16))
        assertNamedError(p, "w.encoder.conv_in.weight has shape") { _ = try t.model(latentDim: 2) }
    }

    func testDatasetDeclaringMoreThanTheFileHolds() throws {
        let p = try copy("tokenizer-huge-dataset.h5", as: "tok.h5")
        XCTAssertThrowsError(try TokenizerFile.load(p)) { e in
            XCTAssertTrue(errorLine(e).hasPrefix(p + ": "), errorLine(e))
        }
        // the check itself: a dataset written without data declares what it likes; above 64 MB it must be stored
        let q = TestSupport.tempDir() + "/big.h5"
        try H5File.write(atomically: q) { f in
            let d = try f.createDataset("x", Float.self, shape: [1 << 25], chunkRows: 1 << 16)
            try d.finish()
        }
        let f = try H5File.open(q)
        defer { try? f.close() }
        assertNamedError(q, "declares shape [33554432]") { _ = try f.read("x", as: Float.self) }
    }

    func testManifestListingAFileOutsideTheEntry() throws {
        let root = TestSupport.tempDir()
        try FileManager.default.createDirectory(atPath: root + "/m/v1", withIntermediateDirectories: true)
        let p = root + "/m/v1/" + ZooStore.manifestFile
        try FileManager.default.copyItem(atPath: dir + "/manifest-file-outside-entry.json", toPath: p)
        for verify in [true, false] {
            assertNamedError(p, "not a file name inside the entry") { _ = try ZooStore(root: root).load("m", verify: verify) }
        }
        XCTAssertTrue(ZooStore.isPlainFileName("pca.h5"))
        for bad in ["", ".", "..", "a/b", "../x", "/dev/zero"] { XCTAssertFalse(ZooStore.isPlainFileName(bad), bad) }
    }
}
