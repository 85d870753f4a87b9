import Foundation

/// Training-time augmentation of one patchified uint8 image [T, D] into pixel-scaled floats [T, D]: an optional
/// random crop (`CropAugmentation`) and then an optional horizontal flip. The parameters of a batch are drawn from
/// RNG(seed, stream: step), so a resumed run augments exactly as an uninterrupted one.
public struct Augmenter: Sendable {
    /// One image's crop: the source window [x0, x0 + w) x [y0, y0 + h) in pixels (it may extend past the image for
    /// `pad`; outside pixels are black), resized to the image size.
    public struct Crop: Equatable, Sendable {
        public var x0: Double, y0: Double, w: Double, h: Double
        public static func identity(_ s: Int) -> Crop { Crop(x0: 0, y0: 0, w: Double(s), h: Double(s)) }
    }

    public let geometry: PatchGeometry
    public let kind: CropAugmentation
    public let padding: Int
    public let scaleMin: Double
    public let flip: Bool
    public let seed: UInt64
    static let flipStream: UInt64 = 0x464C_4950_0000_0000
    static let cropStream: UInt64 = 0x4352_4F50_0000_0000

    public init(geometry: PatchGeometry, config c: TrainConfig) {
        self.init(geometry: geometry, kind: c.crop, padding: c.cropPadding, scaleMin: c.cropScaleMin, flip: c.flip, seed: c.seed)
    }

    public init(geometry: PatchGeometry, kind: CropAugmentation, padding: Int, scaleMin: Double, flip: Bool, seed: UInt64) {
        self.geometry = geometry; self.kind = kind; self.padding = padding; self.scaleMin = scaleMin; self.flip = flip; self.seed = seed
    }

    /// The per-image flip decisions of step s.
    public func flips(step s: Int, batch: Int) -> [Bool] {
        guard flip else { return [Bool](repeating: false, count: batch) }
        var rng = RNG(seed: seed, stream: Augmenter.flipStream &+ UInt64(s))
        return (0..<batch).map { _ in rng.uniform() < 0.5 }
    }

    /// The per-image crops of step s (nil when `kind` is none).
    public func crops(step s: Int, batch: Int) -> [Crop]? {
        let S = Double(geometry.imageSize)
        var rng = RNG(seed: seed, stream: Augmenter.cropStream &+ UInt64(s))
        switch kind {
        case .none: return nil
        case .pad:
            let span = 2 * padding + 1
            return (0..<batch).map { _ in
                Crop(x0: Double(rng.below(span) - padding), y0: Double(rng.below(span) - padding), w: S, h: S)
            }
        case .rrc:
            // torchvision RandomResizedCrop: area fraction uniform in [scaleMin, 1], log-uniform aspect in [3/4, 4/3],
            // 10 tries to fit, else the whole image
            return (0..<batch).map { _ in
                for _ in 0..<10 {
                    let area = S * S * (scaleMin + (1 - scaleMin) * rng.uniform())
                    let logR = (3.0 / 4).logValue + ((4.0 / 3).logValue - (3.0 / 4).logValue) * rng.uniform()
                    let r = logR.expValue
                    let w = (area * r).squareRoot().rounded(), h = (area / r).squareRoot().rounded()
                    if w >= 1 && h >= 1 && w <= S && h <= S {
                        let x0 = Double(rng.below(Int(S - w) + 1)), y0 = Double(rng.below(Int(S - h) + 1))
                        return Crop(x0: x0, y0: y0, w: w, h: h)
                    }
                }
                return Crop.identity(geometry.imageSize)
            }
        }
    }

    /// src: uint8 patches [T, D] of one image; dst: pixel-scaled [T, D]. Output pixel (y, x) samples the crop window
    /// at ((x' + 0.5) w / S - 0.5 + x0, (y + 0.5) h / S - 0.5 + y0), x' = S - 1 - x when flipped, bilinearly
    /// (a pad crop lands on whole pixels, so it is an exact copy); samples outside the image are 0 (black).
    public func apply(_ src: UnsafePointer<UInt8>, crop: Crop?, flip fl: Bool, into dst: UnsafeMutablePointer<Float>) {
        let g = geometry, S = g.imageSize, C = g.channels
        let table = PixelScaling.table
        guard let crop, crop != Crop.identity(S) else {
            if !fl { for k in 0..<g.valuesPerImage { dst[k] = table[Int(src[k])] }; return }
            for y in 0..<S { for x in 0..<S { for c in 0..<C {
                dst[g.patchOffset(y: y, x: x, c: c)] = table[Int(src[g.patchOffset(y: y, x: S - 1 - x, c: c)])]
            } } }
            return
        }
        let sx = crop.w / Double(S), sy = crop.h / Double(S)
        @inline(__always) func pixel(_ y: Int, _ x: Int, _ c: Int) -> Float {
            (y < 0 || y >= S || x < 0 || x >= S) ? 0 : Float(src[g.patchOffset(y: y, x: x, c: c)])
        }
        for y in 0..<S {
            let fy = (Double(y) + 0.5) * sy - 0.5 + crop.y0
            let iy = Int(fy.rounded(.down)), ty = Float(fy - Double(iy))
            for x in 0..<S {
                let xs = fl ? S - 1 - x : x
                let fx = (Double(xs) + 0.5) * sx - 0.5 + crop.x0
                let ix = Int(fx.rounded(.down)), tx = Float(fx - Double(ix))
                for c in 0..<C {
                    var v: Float
                    if tx == 0 && ty == 0 { v = pixel(iy, ix, c) } else {
                        let a = pixel(iy, ix, c) * (1 - tx) + pixel(iy, ix + 1, c) * tx
                        let b = pixel(iy + 1, ix, c) * (1 - tx) + pixel(iy + 1, ix + 1, c) * tx
                        v = a * (1 - ty) + b * ty
                    }
                    dst[g.patchOffset(y: y, x: x, c: c)] = v * (1 / 127.5) - 1   // PixelScaling.toFloat on the interpolated value
                }
            }
        }
    }
}

extension Augmenter {
    /// The horizontal mirror of one pixel-scaled patchified image [T, D].
    public static func mirror(_ x: UnsafePointer<Float>, geometry g: PatchGeometry, into out: UnsafeMutablePointer<Float>) {
        let S = g.imageSize
        for y in 0..<S { for xx in 0..<S { for c in 0..<g.channels {
            out[g.patchOffset(y: y, x: xx, c: c)] = x[g.patchOffset(y: y, x: S - 1 - xx, c: c)]
        } } }
    }
}

private extension Double {
    var logValue: Double { Foundation.log(self) }
    var expValue: Double { Foundation.exp(self) }
}
