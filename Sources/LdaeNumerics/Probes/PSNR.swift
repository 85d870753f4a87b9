import Foundation

/// Peak signal-to-noise ratio on [0, 1] pixels: PSNR = 10 log10(1 / MSE).
/// Inputs are pixel-scaled values (x/127.5 - 1, i.e. [-1, 1]); they are mapped to [0, 1] by (x + 1) / 2 and
/// clipped to [0, 1] (what an 8-bit image of them would show) before the error is taken.
public enum PSNR {
    @inline(__always) static func unit(_ v: Float) -> Double { Double(min(max((v + 1) * 0.5, 0), 1)) }

    /// Mean squared error on [0, 1] pixels between two pixel-scaled arrays of the same length.
    public static func mse(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
        require(a.count == b.count && a.count > 0)
        var s = 0.0
        for i in 0..<a.count { let d = unit(a[i]) - unit(b[i]); s += d * d }
        return s / Double(a.count)
    }

    /// PSNR in dB from an MSE on [0, 1] pixels (capped at 100 dB for identical images).
    public static func fromMSE(_ mse: Double) -> Double { mse <= 1e-10 ? 100 : 10 * log10(1 / mse) }

    /// Per-image PSNR of `images` [n, V] against `reference` [n, V] (pixel-scaled), as an array of n values.
    public static func perImage(_ images: [Float], reference: [Float], count n: Int) -> [Double] {
        require(images.count == reference.count && n > 0 && images.count % n == 0)
        let v = images.count / n
        return images.withUnsafeBufferPointer { ip in reference.withUnsafeBufferPointer { rp in
            (0..<n).map { i in
                fromMSE(mse(UnsafeBufferPointer(rebasing: ip[(i * v)..<((i + 1) * v)]),
                            UnsafeBufferPointer(rebasing: rp[(i * v)..<((i + 1) * v)])))
            }
        } }
    }
}
