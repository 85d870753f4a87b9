import Foundation

/// A PNG grid of images: rows x cols cells of S x S RGB images (uint8, row-major (row, col, channel)),
/// separated by `pad` pixels of a light grey, each pixel repeated `scale` times (small CIFAR images stay visible).
public enum ImageGrid {
    public static func write(_ path: String, cells: [[UInt8]], rows: Int, cols: Int, imageSize s: Int,
                             scale: Int = 2, pad: Int = 2) throws {
        precondition(cells.count <= rows * cols && cells.allSatisfy { $0.count == s * s * 3 })
        let cs = s * scale
        let w = cols * cs + (cols + 1) * pad, h = rows * cs + (rows + 1) * pad
        var px = [UInt8](repeating: 224, count: w * h * 3)
        for (k, img) in cells.enumerated() {
            let r = k / cols, c = k % cols
            let oy = pad + r * (cs + pad), ox = pad + c * (cs + pad)
            for y in 0..<cs { for x in 0..<cs { for ch in 0..<3 {
                px[((oy + y) * w + ox + x) * 3 + ch] = img[((y / scale) * s + x / scale) * 3 + ch]
            } } }
        }
        try Codecs.writePNG(path, pixels: px, width: w, height: h, channels: 3)
    }

    /// Pixel-scaled patches [T, D] of one image -> uint8 image [S, S, 3].
    public static func image(patches: ArraySlice<Float>, geometry g: PatchGeometry) -> [UInt8] {
        g.unpatchify(Array(patches)).map { PixelScaling.toByte($0) }
    }
}
