import Foundation

/// Figures that show a PCA basis: its top components as patches ("eigen-patches") and images rebuilt
/// from the top d components beside the original.
public enum PCAFigures {
    /// The top `count` components as p x p x C patches, 8 per row, each mapped from [-max|v|, max|v|] to
    /// black...white (0 is mid-grey), upscaled by nearest neighbour so that a patch is about 48 px.
    public static func eigenpatches(_ b: PCABasis, count: Int = 64, perRow: Int = 8) -> ImageGrid {
        let D = b.dim, p = b.patchSize, C = b.channels
        let k = max(1, min(count, D))
        let cols = min(perRow, k), rows = (k + cols - 1) / cols
        var grid = ImageGrid(rows: rows, cols: cols, tileWidth: p, tileHeight: p,
                             scale: ImageGrid.upscale(tile: p, target: 48), padding: 2, background: (255, 255, 255))
        for i in 0..<k {
            let v = Array(b.components[(i * D)..<((i + 1) * D)])
            let m = v.reduce(Float(0)) { max($0, abs($1)) }
            grid.place(row: i / cols, col: i % cols, values: v, range: -m...m, width: p, height: p, channels: C)
        }
        return grid
    }

    /// The component counts shown by `reconstructions`: `wanted` values clamped to D, in order, without repeats.
    public static func reconstructionDims(_ D: Int, wanted: [Int] = [4, 16, 48]) -> [Int] {
        var out: [Int] = []
        for w in wanted where w >= 1 { let d = min(w, D); if !out.contains(d) { out.append(d) } }
        return out
    }

    /// One row per image: the original, then the image rebuilt from its top-d latent for each d.
    /// `images` are patchified uint8 images [T, D] of `geometry`.
    public static func reconstructions(_ b: PCABasis, images: [[UInt8]], geometry g: PatchGeometry,
                                       dims: [Int]) -> ImageGrid {
        require(g.tokenDim == b.dim)
        let S = g.imageSize, T = g.tokens
        var grid = ImageGrid(rows: max(1, images.count), cols: 1 + dims.count, tileWidth: S, tileHeight: S,
                             scale: ImageGrid.upscale(tile: S, target: 96), padding: 3, background: (255, 255, 255))
        for (r, img) in images.enumerated() {
            require(img.count == g.valuesPerImage)
            grid.place(row: r, col: 0, patches: img, geometry: g)
            let x = img.map { PixelScaling.table[Int($0)] }   // [T, D]
            for (c, d) in dims.enumerated() {
                let z = b.project(x, count: T, d: d)           // [T, d]
                let xr = b.reconstruct(z, count: T, d: d)      // [T, D]
                grid.place(row: r, col: c + 1, scaledPatches: xr, geometry: g)
            }
        }
        return grid
    }

    /// `count` images spread evenly over the set (patchified uint8 [T, D] each).
    public static func sampleImages(_ set: ShardSet, count: Int) throws -> [[UInt8]] {
        let n = min(count, set.count)
        var out: [[UInt8]] = []
        for i in 0..<n {
            let (s, row) = set.locate(i * set.count / n)
            out.append(try set.read(shard: s, rows: row..<(row + 1)).patches)
        }
        return out
    }

    /// File names of the two figures next to a basis file: `<dir>/<stem>-eigenpatches.png` and
    /// `<dir>/<stem>-reconstructions.png` (stem = the output name without its extension).
    public static func figurePaths(for output: String) -> (eigenpatches: String, reconstructions: String) {
        let url = URL(fileURLWithPath: output)
        let stem = url.deletingPathExtension().lastPathComponent
        let dir = url.deletingLastPathComponent().path
        return (dir + "/" + stem + "-eigenpatches.png", dir + "/" + stem + "-reconstructions.png")
    }
}
