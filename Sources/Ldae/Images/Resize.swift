import Foundation

/// Antialiased separable resampling of 8-bit RGB images (the method of Pillow's Image.resize with `box`):
/// for each output pixel, a filter centred on its position in the source box, its support widened by the
/// reduction factor so that downscaling averages every source pixel (no aliasing). Weights are precomputed
/// per axis; the two passes run in Float, each rounded and clipped to 8 bits as Pillow does.
public enum ResampleFilter: String, MethodOption {
    case bilinear, bicubic

    public var support: Double { self == .bilinear ? 1 : 2 }

    @inline(__always) public func weight(_ x: Double) -> Double {
        let a = abs(x)
        switch self {
        case .bilinear: return a < 1 ? 1 - a : 0
        case .bicubic:  // Keys cubic, a = -0.5 (Pillow, OpenCV INTER_CUBIC uses -0.75)
            let c = -0.5
            if a < 1 { return ((c + 2) * a - (c + 3)) * a * a + 1 }
            if a < 2 { return (((a - 5) * a + 8) * a - 4) * c }
            return 0
        }
    }
}

/// Precomputed weights for one axis: output i reads source [start[i], start[i] + count[i]) with weights
/// w[i * taps ..< i * taps + count[i]].
public struct ResampleAxis: Sendable {
    public let outSize: Int
    public let taps: Int
    public let start: [Int]
    public let count: [Int]
    public let w: [Float]

    /// Maps the source interval [boxStart, boxStart + boxSize) of an axis of `inSize` pixels onto `outSize` pixels.
    public init(inSize: Int, boxStart: Double, boxSize: Double, outSize: Int, filter: ResampleFilter) {
        let scale = boxSize / Double(outSize)
        let fscale = max(scale, 1)
        let support = filter.support * fscale
        let taps = Int(ceil(support)) * 2 + 1
        var start = [Int](repeating: 0, count: outSize), count = [Int](repeating: 0, count: outSize)
        var w = [Float](repeating: 0, count: outSize * taps)
        for i in 0..<outSize {
            let center = boxStart + (Double(i) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
            let hi = min(Int((center + support + 0.5).rounded(.down)), inSize)
            var ws = [Double](), total = 0.0
            for j in lo..<max(hi, lo) {
                let v = filter.weight((Double(j) - center + 0.5) / fscale)
                ws.append(v); total += v
            }
            if ws.isEmpty || total == 0 {  // degenerate: nearest pixel
                let j = min(max(Int(center), 0), inSize - 1)
                start[i] = j; count[i] = 1; w[i * taps] = 1; continue
            }
            start[i] = lo; count[i] = ws.count
            for (k, v) in ws.enumerated() { w[i * taps + k] = Float(v / total) }
        }
        self.outSize = outSize; self.taps = taps; self.start = start; self.count = count; self.w = w
    }
}

public enum Resize {
    /// The horizontal pass is rounded and clipped to 0...255 like Pillow's 8-bit intermediate image, so that
    /// bicubic overshoot does not leak into the vertical pass (and results stay within 1-2 of Pillow's).
    @inline(__always) static func clamp8(_ v: Float) -> Float { Float(Int32(max(0, min(255, v)) + 0.5)) }  // round half up

    /// How an image becomes S x S: `crop` resizes the shorter side to S and takes the centre (the source
    /// box is cropped first, so only the kept region is resampled); `stretch` resizes each axis to S.
    public enum Policy: String, MethodOption { case crop, stretch }

    /// The source box (x0, y0, width, height) that policy maps onto the S x S output.
    /// `scale` maps source pixels to the pixels at hand: a JPEG decoded at DCT scale 1/k has ceil(w/k) columns,
    /// the last one partial, so the box is computed on the full-resolution size and divided by k.
    public static func box(_ policy: Policy, width w: Int, height h: Int, scale: Double = 1) -> (x: Double, y: Double, w: Double, h: Double) {
        let W = Double(w) * scale, H = Double(h) * scale
        switch policy {
        case .stretch: return (0, 0, W, H)
        case .crop:
            let side = min(W, H)
            return ((W - side) / 2, (H - side) / 2, side, side)
        }
    }

    /// Resamples `src` [h, w, 3] to [outH, outW, 3] with precomputed axes (horizontal pass over the rows the
    /// vertical pass needs, then vertical), writing into `out`.
    public static func resample(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int,
                                xAxis: ResampleAxis, yAxis: ResampleAxis, into out: UnsafeMutablePointer<UInt8>) {
        let ow = xAxis.outSize, oh = yAxis.outSize
        let rowLo = yAxis.start.min() ?? 0
        let rowHi = zip(yAxis.start, yAxis.count).map { $0 + $1 }.max() ?? 0
        let rows = rowHi - rowLo
        var tmp = [Float](repeating: 0, count: max(rows, 1) * ow * 3)
        tmp.withUnsafeMutableBufferPointer { t in
            xAxis.w.withUnsafeBufferPointer { xw in
                for r in 0..<rows {
                    let s = src + (rowLo + r) * w * 3
                    let d = t.baseAddress! + r * ow * 3
                    for i in 0..<ow {
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0
                        let st = xAxis.start[i], wb = i * xAxis.taps
                        for k in 0..<xAxis.count[i] {
                            let wk = xw[wb + k], p = s + (st + k) * 3
                            a0 += wk * Float(p[0]); a1 += wk * Float(p[1]); a2 += wk * Float(p[2])
                        }
                        d[i * 3] = clamp8(a0); d[i * 3 + 1] = clamp8(a1); d[i * 3 + 2] = clamp8(a2)
                    }
                }
            }
            yAxis.w.withUnsafeBufferPointer { yw in
                let n = ow * 3
                for j in 0..<oh {
                    let st = yAxis.start[j] - rowLo, wb = j * yAxis.taps
                    let d = out + j * n
                    for c in 0..<n {
                        var a: Float = 0
                        for k in 0..<yAxis.count[j] { a += yw[wb + k] * t[(st + k) * n + c] }
                        d[c] = UInt8(truncatingIfNeeded: Int32(max(0, min(255, a)) + 0.5))
                    }
                }
            }
        }
    }
}
