import Foundation

/// A grid of image tiles composed into one RGB uint8 picture and written as PNG (libpng via
/// `Codecs.writePNG`). Used for figures: PCA eigen-patches and reconstructions, denoising rows.
///
/// Layout: `rows` x `cols` cells, each `cellWidth` x `cellHeight` output pixels, separated and framed
/// by `padding` pixels of `background`. A tile is upscaled by nearest neighbour by the grid's `scale`
/// and centred in its cell. Tiles are row-major (y, x, channel) with 1 (gray) or 3 (RGB) channels, given
/// as uint8, as pixel-scaled floats (`PixelScaling`, x/127.5 - 1), or as arbitrary floats mapped
/// linearly from a value range to 0...255.
public struct ImageGrid: Sendable {
    public let rows: Int
    public let cols: Int
    public let cellWidth: Int
    public let cellHeight: Int
    public let scale: Int
    public let padding: Int
    public let width: Int
    public let height: Int
    /// RGB pixels [height, width, 3].
    public private(set) var pixels: [UInt8]

    /// `tileWidth` x `tileHeight`: the largest tile (before upscaling by `scale`).
    public init(rows: Int, cols: Int, tileWidth: Int, tileHeight: Int, scale: Int = 1, padding: Int = 2,
                background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        require(rows > 0 && cols > 0 && tileWidth > 0 && tileHeight > 0 && scale > 0 && padding >= 0)
        self.rows = rows; self.cols = cols; self.scale = scale; self.padding = padding
        cellWidth = tileWidth * scale; cellHeight = tileHeight * scale
        width = cols * cellWidth + (cols + 1) * padding
        height = rows * cellHeight + (rows + 1) * padding
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.0; pixels[3 * i + 1] = background.1; pixels[3 * i + 2] = background.2
        }
    }

    /// A scale factor that makes a `tile`-pixel tile about `target` pixels (at least 1, nearest neighbour).
    public static func upscale(tile: Int, target: Int) -> Int { max(1, Int((Double(target) / Double(tile)).rounded(.up))) }

    /// Places a uint8 tile [height, width, channels] (channels 1 or 3) in cell (row, col).
    public mutating func place(row: Int, col: Int, rgb tile: [UInt8], width w: Int, height h: Int, channels: Int = 3) {
        require(row >= 0 && row < rows && col >= 0 && col < cols, "cell (\(row), \(col)) outside a \(rows) x \(cols) grid")
        require(channels == 1 || channels == 3)
        require(tile.count == w * h * channels, "tile has \(tile.count) values for \(w) x \(h) x \(channels)")
        require(w * scale <= cellWidth && h * scale <= cellHeight, "tile \(w) x \(h) larger than the cell")
        let x0 = padding + col * (cellWidth + padding) + (cellWidth - w * scale) / 2
        let y0 = padding + row * (cellHeight + padding) + (cellHeight - h * scale) / 2
        for y in 0..<(h * scale) {
            let sy = y / scale
            for x in 0..<(w * scale) {
                let sx = x / scale
                let o = ((y0 + y) * width + (x0 + x)) * 3
                let s = (sy * w + sx) * channels
                for c in 0..<3 { pixels[o + c] = tile[s + (channels == 3 ? c : 0)] }
            }
        }
    }

    /// Places a pixel-scaled float tile (x/127.5 - 1, clamped) in cell (row, col).
    public mutating func place(row: Int, col: Int, scaled tile: [Float], width w: Int, height h: Int, channels: Int = 3) {
        place(row: row, col: col, rgb: tile.map { PixelScaling.toByte($0) }, width: w, height: h, channels: channels)
    }

    /// Places a float tile mapped linearly from `range` to 0...255 (clamped), e.g. a signed
    /// eigenvector shown with `-m...m` so that 0 is mid-grey.
    public mutating func place(row: Int, col: Int, values tile: [Float], range: ClosedRange<Float>,
                               width w: Int, height h: Int, channels: Int = 3) {
        let lo = range.lowerBound, span = max(range.upperBound - range.lowerBound, .leastNormalMagnitude)
        let bytes = tile.map { v -> UInt8 in
            let t = ((v - lo) / span * 255).rounded()
            return UInt8(max(0, min(255, t.isFinite ? t : 0)))
        }
        place(row: row, col: col, rgb: bytes, width: w, height: h, channels: channels)
    }

    /// Places a patchified image [T, D] of `geometry` (uint8 as stored in shards) in cell (row, col).
    public mutating func place(row: Int, col: Int, patches: [UInt8], geometry g: PatchGeometry) {
        place(row: row, col: col, rgb: g.unpatchify(patches), width: g.imageSize, height: g.imageSize, channels: g.channels)
    }

    /// Places a patchified pixel-scaled float image [T, D] (e.g. a model's output) in cell (row, col).
    public mutating func place(row: Int, col: Int, scaledPatches: [Float], geometry g: PatchGeometry) {
        place(row: row, col: col, scaled: g.unpatchify(scaledPatches), width: g.imageSize, height: g.imageSize, channels: g.channels)
    }

    /// Writes the grid as an RGB PNG, atomically.
    public func writePNG(_ path: String) throws {
        try Codecs.writePNG(path, pixels: pixels, width: width, height: height, channels: 3)
    }
}
