import Foundation

/// The reconstruction figure of a fitted tokenizer: one row per image, the original then its reconstruction
/// decode(encode(x)) (the posterior mean for the VAEs), written beside the file as `<stem>-reconstructions.png`.
public enum TokenizerFigures {
    public static func reconstructions(_ model: TokenizerModel, images: [[UInt8]], geometry g: PatchGeometry) -> ImageGrid {
        let S = g.imageSize, T = g.tokens, D = g.tokenDim
        var grid = ImageGrid(rows: max(1, images.count), cols: 2, tileWidth: S, tileHeight: S,
                             scale: ImageGrid.upscale(tile: S, target: 96), padding: 3, background: (255, 255, 255))
        for (r, img) in images.enumerated() {
            require(img.count == g.valuesPerImage)
            grid.place(row: r, col: 0, patches: img, geometry: g)
            let x = img.map { PixelScaling.table[Int($0)] }
            let d = model.latentDim ?? D
            var z = [Float](repeating: 0, count: T * d), xr = [Float](repeating: 0, count: T * D)
            x.withUnsafeBufferPointer { xp in z.withUnsafeMutableBufferPointer { zp in xr.withUnsafeMutableBufferPointer { rp in
                model.roundTrip(xp.baseAddress!, images: 1, tokens: T, dim: D, z: zp.baseAddress!, out: rp.baseAddress!)
            } } }
            grid.place(row: r, col: 1, scaledPatches: xr, geometry: g)
        }
        return grid
    }

    public static func figurePath(for output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().path + "/" + url.deletingPathExtension().lastPathComponent + "-reconstructions.png"
    }
}
