import Foundation

/// Writing samples: a PNG grid and a numpy array of images.
public enum SampleOutput {
    /// Pixel-scaled patches [n, T, D] as images in [0, 1]: float32 [n, S, S, 3], (x + 1) / 2 clamped.
    public static func unitImages(_ images: [Float], count n: Int, geometry g: PatchGeometry) -> [Float] {
        let V = g.valuesPerImage
        require(images.count == n * V)
        return (0..<n).flatMap { i in g.unpatchify(Array(images[(i * V)..<((i + 1) * V)])).map { min(1, max(0, ($0 + 1) / 2)) } }
    }

    /// Writes float32 [n, S, S, 3] in [0, 1] (`unitImages`) as .npy, atomically.
    public static func writeNPY(_ path: String, images: [Float], count n: Int, geometry g: PatchGeometry) throws {
        try NPY.write(unitImages(images, count: n, geometry: g), shape: [n, g.imageSize, g.imageSize, g.channels], to: path)
    }

    /// A PNG grid of n images [n, T, D] (pixel-scaled), `cols` per row, tiles upscaled to about 64 pixels.
    public static func writeGrid(_ path: String, images: [Float], count n: Int, cols: Int, geometry g: PatchGeometry) throws {
        let V = g.valuesPerImage, S = g.imageSize, c = max(1, min(cols, n))
        var grid = ImageGrid(rows: (n + c - 1) / c, cols: c, tileWidth: S, tileHeight: S,
                             scale: ImageGrid.upscale(tile: S, target: 64), padding: 2)
        for i in 0..<n {
            grid.place(row: i / c, col: i % c, scaledPatches: Array(images[(i * V)..<((i + 1) * V)]), geometry: g)
        }
        try grid.writePNG(path)
    }
}
