import Foundation

/// A minimal line chart rasterised to RGB (the training loss curve): axes, "nice" ticks with labels, a title,
/// axis labels, several series. Text uses a built-in 5x7 bitmap font (digits, A-Z, a little punctuation;
/// lowercase is drawn as uppercase). No dependencies: `render()` gives pixels, `write` a PNG.
public struct LineChart {
    public struct Series {
        public var points: [(x: Double, y: Double)]
        public var color: (UInt8, UInt8, UInt8)
        public var thickness: Int
        public init(points: [(x: Double, y: Double)], color: (UInt8, UInt8, UInt8), thickness: Int = 1) {
            self.points = points; self.color = color; self.thickness = thickness
        }
    }

    public var width: Int
    public var height: Int
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    /// Upper end of the y axis; larger values are drawn at the top edge (nil = the data's maximum).
    public var yMax: Double? = nil
    /// Plot area margins (pixels).
    public var left = 64, right = 16, top = 28, bottom = 44

    public init(width: Int = 640, height: Int = 400, title: String = "", xLabel: String = "", yLabel: String = "") {
        self.width = max(width, 160); self.height = max(height, 120)
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    /// The data ranges (x, y) covering every finite point, widened when degenerate.
    public func ranges() -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        var x0 = Double.infinity, x1 = -Double.infinity, y0 = Double.infinity, y1 = -Double.infinity
        for s in series { for p in s.points where p.x.isFinite && p.y.isFinite {
            x0 = min(x0, p.x); x1 = max(x1, p.x); y0 = min(y0, p.y); y1 = max(y1, p.y)
        } }
        if !x0.isFinite { x0 = 0; x1 = 1 }
        if !y0.isFinite { y0 = 0; y1 = 1 }
        if x1 <= x0 { x1 = x0 + 1 }
        if let m = yMax, m.isFinite, m > y0 { y1 = min(y1, m) }
        if y1 <= y0 { let pad = max(abs(y0) * 0.1, 1e-6); y0 -= pad; y1 += pad }
        return (x0...x1, y0...y1)
    }

    /// "Nice" tick values (1, 2, 5 x 10^k steps) covering a range with about `count` ticks.
    public static func ticks(_ r: ClosedRange<Double>, count: Int = 5) -> [Double] {
        let span = r.upperBound - r.lowerBound
        guard span > 0, span.isFinite else { return [r.lowerBound] }
        let raw = span / Double(max(1, count))
        let mag = pow(10, floor(log10(raw)))
        let f = raw / mag
        let step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag
        var t = ceil(r.lowerBound / step - 1e-9) * step
        var out: [Double] = []
        while t <= r.upperBound + step * 1e-9 && out.count < 50 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// Compact tick label: up to 4 significant digits, no trailing zeros.
    public static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.2e", v) }
        var s = String(format: a >= 100 ? "%.0f" : a >= 1 ? "%.2f" : "%.4f", v)
        if s.contains(".") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }

    /// RGB pixels [height, width, 3].
    public func render() -> [UInt8] {
        var c = Canvas(width: width, height: height)
        let (xr, yr) = ranges()
        let pw = width - left - right, ph = height - top - bottom
        func px(_ x: Double) -> Int { left + Int(((x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * Double(pw - 1)).rounded()) }
        func py(_ y: Double) -> Int {
            let f = min(1, max(0, (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound)))   // clamped to the plot area
            return top + ph - 1 - Int((f * Double(ph - 1)).rounded())
        }
        let grid: (UInt8, UInt8, UInt8) = (228, 228, 228), ink: (UInt8, UInt8, UInt8) = (40, 40, 40)
        // grid lines and tick labels
        for t in LineChart.ticks(yr) {
            let y = py(t)
            c.line(left, y, left + pw - 1, y, grid)
            c.line(left - 4, y, left, y, ink)
            let s = LineChart.label(t)
            c.text(s, x: left - 7 - Canvas.textWidth(s), y: y - 3, ink)
        }
        for t in LineChart.ticks(xr) {
            let x = px(t)
            c.line(x, top, x, top + ph - 1, grid)
            c.line(x, top + ph, x, top + ph + 4, ink)
            let s = LineChart.label(t)
            c.text(s, x: x - Canvas.textWidth(s) / 2, y: top + ph + 8, ink)
        }
        // series, clipped to the plot area
        for s in series {
            var prev: (Int, Int)? = nil
            for p in s.points {
                guard p.x.isFinite && p.y.isFinite else { prev = nil; continue }
                let q = (px(p.x), py(p.y))
                if let a = prev { c.line(a.0, a.1, q.0, q.1, s.color, thickness: s.thickness, clip: (left, top, left + pw - 1, top + ph - 1)) }
                else { c.line(q.0, q.1, q.0, q.1, s.color, thickness: s.thickness, clip: (left, top, left + pw - 1, top + ph - 1)) }
                prev = q
            }
        }
        // axes, title, labels
        c.line(left, top, left, top + ph, ink)
        c.line(left, top + ph, left + pw - 1, top + ph, ink)
        c.text(title, x: (width - Canvas.textWidth(title, scale: 2)) / 2, y: 6, ink, scale: 2)
        c.text(xLabel, x: left + (pw - Canvas.textWidth(xLabel)) / 2, y: height - 14, ink)
        c.text(yLabel, x: 4, y: top - 12, ink)
        return c.pixels
    }

    public func write(_ path: String) throws {
        try Codecs.writePNG(path, pixels: render(), width: width, height: height, channels: 3)
    }
}

/// An RGB raster with lines (Bresenham, square pen) and 5x7 text.
struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ col: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = col.0; pixels[i + 1] = col.1; pixels[i + 2] = col.2
    }

    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ col: (UInt8, UInt8, UInt8), thickness: Int = 1,
                       clip: (Int, Int, Int, Int)? = nil) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        while true {
            for oy in lo...hi { for ox in lo...hi {
                let X = x + ox, Y = y + oy
                if let c = clip, X < c.0 || Y < c.1 || X > c.2 || Y > c.3 { continue }
                set(X, Y, col)
            } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    static func textWidth(_ s: String, scale: Int = 1) -> Int { s.isEmpty ? 0 : (s.count * 6 - 1) * scale }

    mutating func text(_ s: String, x: Int, y: Int, _ col: (UInt8, UInt8, UInt8), scale: Int = 1) {
        var cx = x
        for ch in s.uppercased() {
            let rows = Font5x7.glyph(ch)
            for (r, bits) in rows.enumerated() {
                for b in 0..<5 where bits & (0x10 >> b) != 0 {
                    for sy in 0..<scale { for sx in 0..<scale { set(cx + b * scale + sx, y + r * scale + sy, col) } }
                }
            }
            cx += 6 * scale
        }
    }
}

/// A classic 5x7 bitmap font: 7 rows per glyph, bit 4 = leftmost column.
enum Font5x7 {
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], "-": [0, 0, 0, 0x1F, 0, 0, 0], "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0], "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        "_": [0, 0, 0, 0, 0, 0, 0x1F], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], "@": [0x0E, 0x11, 0x17, 0x15, 0x17, 0x10, 0x0E],
        " ": [0, 0, 0, 0, 0, 0, 0],
    ]
    static let unknown: [UInt8] = [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04]
    static func glyph(_ c: Character) -> [UInt8] { glyphs[c] ?? unknown }
}
