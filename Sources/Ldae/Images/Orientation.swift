/// EXIF orientation (tag 0x0112, values 1-8) applied to an 8-bit RGB image, so that the result is upright
/// as a viewer shows it (Pillow's ImageOps.exif_transpose). Values outside 1-8 are taken as 1.
public enum Orientation {
    /// Output size for orientation `o` of a w x h image (5-8 swap the axes).
    public static func outputSize(_ o: Int, width w: Int, height h: Int) -> (width: Int, height: Int) {
        (5...8).contains(o) ? (h, w) : (w, h)
    }

    /// Source pixel (y, x) of output pixel (oy, ox) for orientation `o` of a w x h source.
    @inline(__always)
    public static func source(_ o: Int, oy: Int, ox: Int, width w: Int, height h: Int) -> (y: Int, x: Int) {
        switch o {
        case 2: return (oy, w - 1 - ox)                 // mirror left-right
        case 3: return (h - 1 - oy, w - 1 - ox)         // rotate 180
        case 4: return (h - 1 - oy, ox)                 // mirror top-bottom
        case 5: return (ox, oy)                         // transpose
        case 6: return (h - 1 - ox, oy)                 // rotate 90 clockwise
        case 7: return (h - 1 - ox, w - 1 - oy)         // transverse
        case 8: return (ox, w - 1 - oy)                 // rotate 90 counter-clockwise
        default: return (oy, ox)
        }
    }

    /// Applies orientation `o` to `pixels` [h, w, 3]; returns the upright pixels and size.
    public static func apply(_ o: Int, pixels: [UInt8], width w: Int, height h: Int) -> (pixels: [UInt8], width: Int, height: Int) {
        guard (2...8).contains(o) else { return (pixels, w, h) }
        let (ow, oh) = outputSize(o, width: w, height: h)
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let (y, x) = source(o, oy: oy, ox: ox, width: w, height: h)
                        let s = (y * w + x) * 3, d = (oy * ow + ox) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return (out, ow, oh)
    }
}
