// The C boundary for libjpeg and libpng (through the CCodecs target, which turns longjmp into codes).
import CCodecs
import Foundation

public enum ImageFormat: String, Sendable { case jpeg, png }

/// A decoded image: 8-bit RGB, row-major (row, col, channel), EXIF orientation not yet applied.
public struct DecodedImage: Sendable {
    public var pixels: [UInt8]
    public var width: Int
    public var height: Int
    public var orientation: Int
    public var warnings: Int
    public var sourceWidth: Int
    public var sourceHeight: Int
    public var sourceKind: String
}

public enum CodecError: Error, CustomStringConvertible, Sendable {
    case decode(String)
    case tooLarge(String)
    case io(String)
    public var description: String {
        switch self { case .decode(let m): return "decode error: \(m)"; case .tooLarge(let m): return m; case .io(let m): return m }
    }
}

public enum Codecs {
    /// Background on which alpha is composited (recorded in shards as the `alpha_background` attribute).
    public static let alphaBackground: (UInt8, UInt8, UInt8) = (255, 255, 255)

    /// Image format from magic bytes; nil when not a supported image. `other` names known unsupported ones.
    public static func sniff(_ b: UnsafeRawBufferPointer) -> (format: ImageFormat?, other: String?) {
        func at(_ i: Int) -> UInt8 { i < b.count ? b[i] : 0 }
        if b.count >= 3 && at(0) == 0xFF && at(1) == 0xD8 && at(2) == 0xFF { return (.jpeg, nil) }
        if b.count >= 8 && at(0) == 0x89 && at(1) == 0x50 && at(2) == 0x4E && at(3) == 0x47 { return (.png, nil) }
        if b.count >= 4 && at(0) == 0x47 && at(1) == 0x49 && at(2) == 0x46 { return (nil, "GIF") }
        if b.count >= 2 && at(0) == 0x42 && at(1) == 0x4D { return (nil, "BMP") }
        if b.count >= 12 && at(0) == 0x52 && at(1) == 0x49 && at(8) == 0x57 && at(9) == 0x45 { return (nil, "WebP") }
        if b.count >= 4 && ((at(0) == 0x49 && at(1) == 0x49 && at(2) == 0x2A) || (at(0) == 0x4D && at(1) == 0x4D && at(3) == 0x2A)) { return (nil, "TIFF") }
        return (nil, nil)
    }

    /// Width and height from a PNG's IHDR (the first chunk, bytes 16..<24), nil when absent.
    public static func pngDimensions(_ b: UnsafeRawBufferPointer) -> (Int, Int)? {
        guard b.count >= 24, b[12] == 0x49, b[13] == 0x48, b[14] == 0x44, b[15] == 0x52 else { return nil }
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be32(16), be32(20))
    }

    /// Width and height from a JPEG's SOF marker, walking the marker segments with small reads (the SOF
    /// can follow 64 KB APP segments); nil when not found before the entropy-coded data.
    public static func jpegDimensions(fd: Int32, size: Int) -> (Int, Int)? {
        var pos = 2
        var seg = [UInt8](repeating: 0, count: 9)
        for _ in 0..<1000 {
            guard pos + 9 <= size, pread(fd, &seg, 9, off_t(pos)) == 9, seg[0] == 0xFF else { return nil }
            let m = seg[1]
            if m == 0xFF { pos += 1; continue }                       // fill byte
            if m == 0xD8 || m == 0x01 || (0xD0...0xD7).contains(m) { pos += 2; continue }   // no length
            if m == 0xDA || m == 0xD9 { return nil }                   // scan data or end before any SOF
            let len = Int(seg[2]) << 8 | Int(seg[3])
            if (0xC0...0xCF).contains(m) && m != 0xC4 && m != 0xC8 && m != 0xCC {
                let h = Int(seg[5]) << 8 | Int(seg[6]), w = Int(seg[7]) << 8 | Int(seg[8])
                return (w, h)
            }
            pos += 2 + len
        }
        return nil
    }

    /// The most bytes of an image file of these dimensions worth reading: its pixels at 8 bytes each (RGBA
    /// 16-bit, more than any PNG or JPEG encodes them in), twice, plus 64 MB for metadata (EXIF, ICC
    /// profiles, embedded previews, text).
    public static func readLimit(width w: Int, height h: Int) -> Int {
        let (px, o1) = w.multipliedReportingOverflow(by: h)
        let (bytes, o2) = px.multipliedReportingOverflow(by: 16)
        return o1 || o2 ? Int.max : bytes + (64 << 20)
    }

    private static func kindName(_ k: Int32) -> String {
        switch k {
        case 1: return "jpeg-rgb"; case 2: return "jpeg-gray"; case 3: return "jpeg-cmyk"; case 4: return "jpeg-ycck"
        case 10: return "png"; default: return "unknown"
        }
    }

    /// Decodes JPEG or PNG bytes to RGB. `minSide` lets JPEG decode at a reduced DCT scale.
    /// `pngGamma`: convert PNGs with a gAMA chunk to sRGB (default: ignore gAMA, samples as stored, as Pillow;
    /// 16-bit samples by their high byte, as Pillow).
    public static func decode(_ bytes: UnsafeRawBufferPointer, format: ImageFormat, minSide: Int = 0,
                              maxPixels: UInt64 = 0, pngGamma: Bool = false) throws -> DecodedImage {
        var img = ldae_image()
        var err = [CChar](repeating: 0, count: 256)
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc: Int32
        switch format {
        case .jpeg: rc = ldae_jpeg_decode(base, bytes.count, Int32(minSide), maxPixels, &img, &err, 256)
        case .png:
            let bg = alphaBackground
            rc = ldae_png_decode(base, bytes.count, maxPixels, pngGamma ? 1 : 0, bg.0, bg.1, bg.2, &img, &err, 256)
        }
        try check(rc, err)
        defer { ldae_free(img.pixels) }
        let n = Int(img.width) * Int(img.height) * 3
        let pixels = [UInt8](UnsafeBufferPointer(start: img.pixels, count: n))
        return DecodedImage(pixels: pixels, width: Int(img.width), height: Int(img.height), orientation: Int(img.orientation),
                            warnings: Int(img.warnings), sourceWidth: Int(img.source_width), sourceHeight: Int(img.source_height),
                            sourceKind: kindName(img.source_kind))
    }

    /// A PNG decoded as `decode` does it but before alpha is composited: 8-bit RGBA, row-major, alpha 255 where
    /// the file has none (tests compare it with Pillow's decode: Tests/LdaeTests/Fixtures/pngsuite).
    static func decodePNGRGBA(_ bytes: UnsafeRawBufferPointer, maxPixels: UInt64 = 0,
                              pngGamma: Bool = false) throws -> (pixels: [UInt8], width: Int, height: Int) {
        var img = ldae_image()
        var err = [CChar](repeating: 0, count: 256)
        let rc = ldae_png_decode_rgba(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, maxPixels,
                                      pngGamma ? 1 : 0, &img, &err, 256)
        try check(rc, err)
        defer { ldae_free(img.pixels) }
        let n = Int(img.width) * Int(img.height) * 4
        return ([UInt8](UnsafeBufferPointer(start: img.pixels, count: n)), Int(img.width), Int(img.height))
    }

    /// Throws the CodecError for a decoder's return code and message.
    private static func check(_ rc: Int32, _ err: [CChar]) throws {
        let msg = String(nulTerminated: err)
        switch rc {
        case 0: return
        case 2: throw CodecError.tooLarge(msg)
        default: throw CodecError.decode(msg)
        }
    }

    /// Writes 8-bit pixels (1 = gray, 3 = RGB, 4 = RGBA channels) as a PNG, atomically.
    public static func writePNG(_ path: String, pixels: [UInt8], width: Int, height: Int, channels: Int) throws {
        require(pixels.count == width * height * channels)
        try AtomicFile.write(to: path) { tmp in
            var err = [CChar](repeating: 0, count: 256)
            let rc = ldae_png_write(tmp, pixels, Int32(width), Int32(height), Int32(channels), &err, 256)
            if rc != 0 { throw LdaeError("cannot write PNG: \(String(nulTerminated: err))", file: path) }
        }
    }

    /// Writes RGB or gray pixels as a JPEG (used by tools and tests to make fixtures).
    /// channels 4 writes CMYK samples (Adobe convention, 255 = no ink) as CMYK, 5 the same 4-sample input as YCCK.
    public static func writeJPEG(_ path: String, pixels: [UInt8], width: Int, height: Int, channels: Int,
                                 quality: Int = 90, progressive: Bool = false) throws {
        require(pixels.count == width * height * min(channels, 4))
        var err = [CChar](repeating: 0, count: 256)
        let rc = ldae_jpeg_write(path, pixels, Int32(width), Int32(height), Int32(channels), Int32(quality),
                                 progressive ? 1 : 0, &err, 256)
        if rc != 0 { throw LdaeError("cannot write JPEG: \(String(nulTerminated: err))", file: path) }
    }
}
