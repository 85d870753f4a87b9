import Foundation
import XCTest
@testable import Ldae

/// Memory bounded by design: what a file declares decides what is read and allocated, not its size.
final class DecodeLimitTests: XCTestCase {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
    /// A PNG chunk: length, type, data, CRC.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        return be32(UInt32(data.count)) + t + data + be32(crc32(t + data))
    }

    static func processor(maxPixels: UInt64 = 89_478_485) -> ImageProcessor {
        ImageProcessor(.init(geometry: PatchGeometry(imageSize: 8, patchSize: 4), maxPixels: maxPixels))
    }
    static func process(_ p: ImageProcessor, _ path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 8 * 8 * 3)
        _ = try out.withUnsafeMutableBufferPointer { try p.process(path: path, into: $0.baseAddress!) }
        return out
    }
    static func skipReason(_ body: () throws -> Void) -> SkipReason? {
        do { try body(); return nil } catch let r as SkipReason { return r } catch { return SkipReason("other", "\(error)") }
    }

    func testANonImageIsRecognisedFromItsFirstBytesWithoutReadingItWhole() throws {
        let path = TestSupport.tempDir() + "/stray.png"
        try Data("this is a 3 GB log file, not an image\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(truncate(path, 3 << 30), 0)          // sparse: no disk used
        let p = Self.processor()
        let r = Self.skipReason { _ = try Self.process(p, path) }
        XCTAssertEqual(r?.category, "not_an_image", "\(String(describing: r))")
        XCTAssertLessThanOrEqual(p.lastBytesRead, ImageProcessor.headerBytes)
    }

    func testBytesBeyondWhatTheDeclaredSizeCanNeedAreNotRead() throws {
        let dir = TestSupport.tempDir()
        let good = TestSupport.fixtures + "/png/rgb8.png", padded = dir + "/padded.png"
        try FileManager.default.copyItem(atPath: good, toPath: padded)
        XCTAssertEqual(truncate(padded, 200 << 20), 0)     // 200 MB of zeros after IEND
        let p = Self.processor()
        let expected = try Self.process(p, good)
        XCTAssertEqual(try Self.process(p, padded), expected)
        XCTAssertLessThanOrEqual(p.lastBytesRead, Codecs.readLimit(width: 9, height: 7))
        XCTAssertLessThan(p.lastBytesRead, 100 << 20)
        // A JPEG's size is found by walking its markers.
        let fd = open(TestSupport.fixtures + "/jpeg/large400x300.jpg", O_RDONLY)
        defer { close(fd) }
        XCTAssertEqual(Codecs.jpegDimensions(fd: fd, size: Int(FileUtil.size(TestSupport.fixtures + "/jpeg/large400x300.jpg")!)).map { [$0.0, $0.1] }, [400, 300])
    }

    func testATinyPNGDeclaringAHugeImageIsRefusedBeforeAnyPixelIsAllocated() throws {
        // 57 bytes: IHDR 9000 x 9000 RGBA (324 MB of pixels, under --max-pixels), then a tEXt chunk that says
        // it is 1 GB long and stops.
        var ihdr = Self.be32(9000) + Self.be32(9000)
        ihdr += [8, 6, 0, 0, 0]
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Self.chunk("IHDR", ihdr)
        png += Self.be32(1 << 30) + Array("tEXt".utf8)
        png += [UInt8](repeating: 0x41, count: 57 - png.count)
        XCTAssertEqual(png.count, 57)
        let path = TestSupport.tempDir() + "/tiny.png"
        try Data(png).write(to: URL(fileURLWithPath: path))
        let r = Self.skipReason { _ = try Self.process(Self.processor(), path) }
        XCTAssertEqual(r?.category, "truncated", "\(String(describing: r))")
        XCTAssertTrue(r?.detail.contains("9000x9000 pixels cannot be held in 57 bytes") == true, "\(String(describing: r))")
        // Declared above --max-pixels: refused from the header alone.
        let r2 = Self.skipReason { _ = try Self.process(Self.processor(maxPixels: 1_000_000), path) }
        XCTAssertEqual(r2?.category, "too_large", "\(String(describing: r2))")
    }

    func testHugeAncillaryChunksAreSkippedNotKept() throws {
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestSupport.fixtures + "/png/rgb8.png")))
        // After IHDR (8 + 25 bytes): 20 MB of text and a 2 MB unknown private chunk, both with valid CRCs.
        let text = Self.chunk("tEXt", Array("Comment\0".utf8) + [UInt8](repeating: 0x61, count: 20 << 20))
        let priv = Self.chunk("prVt", [UInt8](repeating: 7, count: 2 << 20))
        let big = Array(good[0..<33]) + text + priv + Array(good[33...])
        let dir = TestSupport.tempDir()
        try Data(big).write(to: URL(fileURLWithPath: dir + "/big.png"))
        let p = Self.processor()
        XCTAssertEqual(try Self.process(p, dir + "/big.png"), try Self.process(p, TestSupport.fixtures + "/png/rgb8.png"))
    }

    /// gAMA: ignored by default (samples as stored: the same pixels as Pillow), converted to sRGB on request;
    /// the shards record which (attribute png_gamma).
    func testGAMAIsIgnoredByDefaultAndAppliedOnRequest() throws {
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestSupport.fixtures + "/png/rgb8.png")))
        let withGamma = Array(good[0..<33]) + Self.chunk("gAMA", Self.be32(100_000)) + Array(good[33...])   // gamma 1.0 (linear)
        let decode = { (bytes: [UInt8], srgb: Bool) throws -> [UInt8] in
            try bytes.withUnsafeBytes { try Codecs.decode($0, format: .png, pngGamma: srgb).pixels }
        }
        let plain = try decode(good, false)
        XCTAssertEqual(try decode(withGamma, false), plain)
        let converted = try decode(withGamma, true)
        XCTAssertNotEqual(converted, plain)
        // linear -> sRGB brightens the mid-tones and keeps black and white
        for (c, p) in zip(converted, plain) { XCTAssertGreaterThanOrEqual(c, p) }
        let base = TestSupport.tempDir()
        try Data(withGamma).write(to: URL(fileURLWithPath: base + "/g.png"))
        try FileManager.default.createDirectory(atPath: base + "/in", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: base + "/g.png", toPath: base + "/in/g.png")
        for mode in PNGGamma.allCases {
            var o = PrepPipelineTests.options(base + "/in", base + "/out-" + mode.rawValue)
            o.image.pngGamma = mode
            let r = try Prep.run(o)
            XCTAssertEqual(r.index.settings["png_gamma"], mode.rawValue)
            let f = try ShardSet(base + "/out-" + mode.rawValue).open(shard: 0)
            XCTAssertEqual(try f.stringAttribute("png_gamma"), mode.rawValue)
        }
    }
}
