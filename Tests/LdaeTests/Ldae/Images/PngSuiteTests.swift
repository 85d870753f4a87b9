import Foundation
import XCTest
@testable import Ldae

/// PngSuite (Willem van Schaik's PNG test images, Fixtures/pngsuite; its LICENSE beside them): every valid file
/// decodes to Pillow's pixels (expected.tsv: sha256 of 8-bit RGBA before compositing, made once by
/// tools/pngsuite_expected.py, which says how each mode is compared), interlaced files to their non-interlaced
/// twins, and every corrupt x* file is refused with a reason, by the decoder and by `ldae-prep images`.
final class PngSuiteTests: XCTestCase {
    static let dir = TestSupport.fixtures + "/pngsuite"

    /// The suite's PNG file names, the corrupt ones (x*) or the valid ones.
    static func names(corrupt: Bool) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".png") && $0.hasPrefix("x") == corrupt }.sorted()
    }

    static func rgba(_ name: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        try FileUtil.read(dir + "/" + name).withUnsafeBytes { try Codecs.decodePNGRGBA($0) }
    }

    static func sha256(_ b: [UInt8]) -> String { var h = SHA256(); h.update(b); return h.finalize() }

    static func maxDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.count == b.count ? zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0 : 255
    }

    /// Pillow's RGBA of `names` (by tools/pngsuite_expected.py), to tell how far a mismatch is; nil without a
    /// python3 that has Pillow and numpy.
    static func pillowRGBA(_ names: [String]) -> [String: [UInt8]]? {
        guard let py = ["/usr/bin/python3", "/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return nil }
        let out = TestSupport.tempDir()
        let script = """
            import runpy, sys
            m = runpy.run_path("\(TestSupport.repo)/tools/pngsuite_expected.py")
            for name in sys.argv[2:]:
                m["rgba"](m["SUITE"] + "/" + name).tofile(sys.argv[1] + "/" + name + ".rgba")
            """
        guard (try? TestSupport.runPython(py, script, args: [out] + names)) != nil else { return nil }
        var r: [String: [UInt8]] = [:]
        for n in names { r[n] = (try? FileUtil.read(out + "/" + n + ".rgba")).map { [UInt8]($0) } }
        return r
    }

    func testEveryValidFileDecodesToPillowsPixels() throws {
        let table = try String(contentsOfFile: Self.dir + "/expected.tsv", encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(table.map { $0[0] }, try Self.names(corrupt: false), "expected.tsv lists every valid file")
        XCTAssertEqual(table.count, 161)
        var mismatches: [(name: String, what: String)] = []
        var compositeMismatches: [String] = []
        let bg = Codecs.alphaBackground
        for row in table {
            let name = row[0]
            let got: (pixels: [UInt8], width: Int, height: Int)
            do { got = try Self.rgba(name) } catch { mismatches.append((name, "refused (\(error))")); continue }
            if [got.width, got.height] != [Int(row[1])!, Int(row[2])!] {
                mismatches.append((name, "\(got.width)x\(got.height), Pillow \(row[1])x\(row[2])"))
            } else if Self.sha256(got.pixels) != row[3] {
                mismatches.append((name, "pixels differ"))
            }
            // The public decode is this RGBA composited on the background, (c*a + bg*(255-a) + 127) / 255.
            let rgb = try FileUtil.read(Self.dir + "/" + name).withUnsafeBytes { try Codecs.decode($0, format: .png).pixels }
            var composited = [UInt8](repeating: 0, count: got.width * got.height * 3)
            for i in 0..<(got.width * got.height) {
                let a = Int(got.pixels[4 * i + 3])
                for (c, b) in [bg.0, bg.1, bg.2].enumerated() {
                    composited[3 * i + c] = UInt8((Int(got.pixels[4 * i + c]) * a + Int(b) * (255 - a) + 127) / 255)
                }
            }
            if rgb != composited { compositeMismatches.append("\(name) (max level difference \(Self.maxDiff(rgb, composited)))") }
        }
        if !mismatches.isEmpty {
            let pillow = Self.pillowRGBA(mismatches.map { $0.name })
            let lines = try mismatches.map { m -> String in
                guard m.what == "pixels differ" else { return "\(m.name): \(m.what)" }
                guard let p = pillow?[m.name] else { return "\(m.name): pixels differ (no Pillow here to say by how much)" }
                return "\(m.name): max level difference \(Self.maxDiff(try Self.rgba(m.name).pixels, p)) (RGBA)"
            }
            XCTFail("\(mismatches.count) of \(table.count) PngSuite files decode unlike Pillow:\n" + lines.joined(separator: "\n"))
        }
        XCTAssert(compositeMismatches.isEmpty, "decode() is not the RGBA composited on the background: \(compositeMismatches)")
    }

    /// Interlaced files (basi*, sNNi*) and the ones split into 1..9 IDAT chunks (oiNn*) are the same pictures as
    /// their plain twins.
    func testInterlacedAndSplitFilesDecodeAsTheirTwins() throws {
        var pairs: [(String, String)] = []
        for name in try Self.names(corrupt: false) {
            let c = Array(name)
            if name.hasPrefix("basi") { pairs.append((name, "basn" + String(c[4...]))) }
            if c[0] == "s" && c[3] == "i" { pairs.append((name, String(c[0..<3]) + "n" + String(c[4...]))) }
            if name.hasPrefix("oi") { pairs.append((name, "basn" + String(c[4...]))) }
        }
        XCTAssertEqual(pairs.count, 15 + 18 + 8)
        var differ: [String] = []
        for (a, b) in pairs {
            let x = try Self.rgba(a), y = try Self.rgba(b)
            if [x.width, x.height] != [y.width, y.height] {
                differ.append("\(a) is \(x.width)x\(x.height), \(b) \(y.width)x\(y.height)")
            } else if x.pixels != y.pixels {
                differ.append("\(a) vs \(b): max level difference \(Self.maxDiff(x.pixels, y.pixels))")
            }
        }
        XCTAssert(differ.isEmpty, "\(differ.count) of \(pairs.count) twins differ:\n" + differ.joined(separator: "\n"))
    }

    func testEveryCorruptFileIsRefusedWithAReason() throws {
        let names = try Self.names(corrupt: true)
        XCTAssertEqual(names.count, 14)
        var accepted: [String] = []
        for name in names {
            let data = try FileUtil.read(Self.dir + "/" + name)
            do {
                _ = try data.withUnsafeBytes { try Codecs.decode($0, format: .png) }
                accepted.append(name)
            } catch CodecError.decode(let m) where !m.isEmpty {
            } catch {
                accepted.append("\(name) (refused without a reason: \(error))")
            }
            if (try? data.withUnsafeBytes { try Codecs.decodePNGRGBA($0) }) != nil { accepted.append(name + " (RGBA)") }
        }
        XCTAssert(accepted.isEmpty, "corrupt files decoded: \(accepted)")
    }

    func testPrepSkipsEveryCorruptFileWithItsReason() throws {
        let base = TestSupport.tempDir()
        let corrupt = try Self.names(corrupt: true)
        try FileManager.default.createDirectory(atPath: base + "/in", withIntermediateDirectories: true)
        for name in corrupt + ["basn2c08.png", "basi6a16.png"] {
            try FileManager.default.copyItem(atPath: Self.dir + "/" + name, toPath: base + "/in/" + name)
        }
        let (rc, out, err) = try TestSupport.run("ldae-prep", ["images", base + "/in", "--out", base + "/out", "--size", "8",
                                                               "--patch", "4", "--max-skip-fraction", "1", "--quiet"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("written   2"), out)
        let idx = try ShardIndex.load(base + "/out").index
        var reasons: [String: String] = [:]
        for s in idx.skipped { reasons[(s.path as NSString).lastPathComponent] = s.reason }
        XCTAssertEqual(reasons.keys.sorted(), corrupt, "every corrupt file skipped, no other")
        for (name, reason) in reasons {
            XCTAssertFalse(reason.trimmingCharacters(in: .whitespaces).isEmpty, name)
            XCTAssertTrue(reason.contains(":"), "\(name): a category and a detail: \(reason)")
        }
    }
}
