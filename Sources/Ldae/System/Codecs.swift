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

    private static func kindName(_ k: Int32) -> String {
        switch k {
        case 1: return "jpeg-rgb"; case 2: return "jpeg-gray"; case 3: return "jpeg-cmyk"; case 4: return "jpeg-ycck"
        case 10: return "png"; default: return "unknown"
        }
    }

    /// Decodes JPEG or PNG bytes to RGB. `minSide` lets JPEG decode at a reduced DCT scale.
    public static func decode(_ bytes: UnsafeRawBufferPointer, format: ImageFormat, minSide: Int = 0,
                              maxPixels: UInt64 = 0) throws -> DecodedImage {
        var img = ldae_image()
        var err = [CChar](repeating: 0, count: 256)
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let rc: Int32
        switch format {
        case .jpeg: rc = ldae_jpeg_decode(base, bytes.count, Int32(minSide), maxPixels, &img, &err, 256)
        case .png:
            let bg = alphaBackground
            rc = ldae_png_decode(base, bytes.count, maxPixels, bg.0, bg.1, bg.2, &img, &err, 256)
        }
        let msg = String(nulTerminated: err)
        switch rc {
        case 0: break
        case 2: throw CodecError.tooLarge(msg)
        default: throw CodecError.decode(msg)
        }
        defer { ldae_free(img.pixels) }
        let n = Int(img.width) * Int(img.height) * 3
        let pixels = [UInt8](UnsafeBufferPointer(start: img.pixels, count: n))
        return DecodedImage(pixels: pixels, width: Int(img.width), height: Int(img.height), orientation: Int(img.orientation),
                            warnings: Int(img.warnings), sourceWidth: Int(img.source_width), sourceHeight: Int(img.source_height),
                            sourceKind: kindName(img.source_kind))
    }

    /// Writes 8-bit pixels (1 = gray, 3 = RGB, 4 = RGBA channels) as a PNG, atomically.
    public static func writePNG(_ path: String, pixels: [UInt8], width: Int, height: Int, channels: Int) throws {
        precondition(pixels.count == width * height * channels)
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
        precondition(pixels.count == width * height * min(channels, 4))
        var err = [CChar](repeating: 0, count: 256)
        let rc = ldae_jpeg_write(path, pixels, Int32(width), Int32(height), Int32(channels), Int32(quality),
                                 progressive ? 1 : 0, &err, 256)
        if rc != 0 { throw LdaeError("cannot write JPEG: \(String(nulTerminated: err))", file: path) }
    }
}
