/// Pixel scaling used by PCA, training and evaluation: x/127.5 - 1 maps uint8 to [-1, 1].
public enum PixelScaling {
    public static let name = "x/127.5-1"
    @inlinable @inline(__always) public static func toFloat(_ v: UInt8) -> Float { Float(v) * (1 / 127.5) - 1 }
    @inlinable @inline(__always) public static func toByte(_ v: Float) -> UInt8 {
        let x = ((v + 1) * 127.5).rounded()
        return UInt8(max(0, min(255, x)))
    }
    /// Lookup table uint8 -> float for fast conversion.
    public static let table: [Float] = (0..<256).map { toFloat(UInt8($0)) }
}

/// Patchify geometry: an S x S x C image cut into (S/p)^2 patches of p*p*C values, row-major tokens,
/// (row, col, channel) inside a patch. This is the one place the token layout is defined.
public struct PatchGeometry: Codable, Equatable, Sendable {
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    public init(imageSize: Int, patchSize: Int, channels: Int = 3) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.channels = channels
    }
    @inlinable public var grid: Int { imageSize / patchSize }
    @inlinable public var tokens: Int { grid * grid }
    @inlinable public var tokenDim: Int { patchSize * patchSize * channels }
    @inlinable public var valuesPerImage: Int { tokens * tokenDim }

    /// Offset in a patchified image of pixel (y, x, c).
    @inlinable @inline(__always) public func patchOffset(y: Int, x: Int, c: Int) -> Int {
        let t = (y / patchSize) * grid + (x / patchSize)
        return t * tokenDim + ((y % patchSize) * patchSize + (x % patchSize)) * channels + c
    }

    /// [S, S, C] image (row, col, channel) -> [T, D] patches.
    public func patchify<T>(_ img: [T]) -> [T] {
        require(img.count == imageSize * imageSize * channels)
        var out = img
        for y in 0..<imageSize { for x in 0..<imageSize { for c in 0..<channels {
            out[patchOffset(y: y, x: x, c: c)] = img[(y * imageSize + x) * channels + c]
        } } }
        return out
    }

    /// [T, D] patches -> [S, S, C] image.
    public func unpatchify<T>(_ p: [T]) -> [T] {
        require(p.count == valuesPerImage)
        var out = p
        for y in 0..<imageSize { for x in 0..<imageSize { for c in 0..<channels {
            out[(y * imageSize + x) * channels + c] = p[patchOffset(y: y, x: x, c: c)]
        } } }
        return out
    }
}
