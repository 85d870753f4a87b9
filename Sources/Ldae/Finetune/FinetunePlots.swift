import Foundation

public enum FinetunePlots {
    /// The validation curve: top-1 (dark) and top-5 (light), in percent, against the training CPU-minutes (every
    /// process; validation excluded), so that runs of another speed or process count compare at equal compute.
    public static func valCurve(_ points: [ValPoint], title: String) -> LineChart {
        var c = LineChart(width: 720, height: 420, title: title, xLabel: "training CPU-minutes", yLabel: "val top-1 / top-5 %")
        c.series = [
            .init(points: points.map { (x: $0.cpuSeconds / 60, y: 100 * $0.top5) }, color: (150, 180, 230), thickness: 1),
            .init(points: points.map { (x: $0.cpuSeconds / 60, y: 100 * $0.top1) }, color: (30, 70, 170), thickness: 2),
        ]
        return c
    }
}

/// A confusion matrix of a classifier on a labelled split: counts [true class][predicted class].
public struct ConfusionMatrix: Codable, Sendable, Equatable {
    public var classes: Int
    public var counts: [[Int]]

    public init(classes: Int) { self.classes = classes; counts = Array(repeating: Array(repeating: 0, count: classes), count: classes) }

    public mutating func add(truth: Int, predicted: Int) { counts[truth][predicted] += 1 }

    /// Each true class's fraction predicted correctly (nil where the split has none of it).
    public var recall: [Double?] {
        counts.enumerated().map { i, row in let n = row.reduce(0, +); return n > 0 ? Double(row[i]) / Double(n) : nil }
    }

    /// The figure: one cell per (true, predicted) pair shaded by the row's fraction (white 0 to dark blue 1), the
    /// percentage written in cells of at least 1%, class names on both axes (the 5x7 font: upper case, at most 10
    /// characters), each row's recall on the right.
    public func figure(classNames: [String], title: String) -> (pixels: [UInt8], width: Int, height: Int) {
        let K = classes, cell = max(28, min(44, 600 / max(1, K)))
        let label = 6 * 10 + 8, top = 40, left = label, gridW = K * cell
        let width = left + gridW + 60, height = top + gridW + 8 * 10 + 10
        var cv = Canvas(width: width, height: height)
        let ink: (UInt8, UInt8, UInt8) = (40, 40, 40)
        cv.text(title, x: max(2, (width - Canvas.textWidth(title)) / 2), y: 8, ink)
        cv.text("ROWS: TRUE CLASS, COLUMNS: PREDICTED", x: 4, y: 24, ink)
        func name(_ i: Int) -> String { String((i < classNames.count ? classNames[i] : "\(i)").prefix(10)) }
        for i in 0..<K {
            let row = counts[i], n = max(1, row.reduce(0, +))
            cv.text(name(i), x: left - 4 - Canvas.textWidth(name(i)), y: top + i * cell + cell / 2 - 3, ink)
            for j in 0..<K {
                let f = Double(row[j]) / Double(n)
                let col: (UInt8, UInt8, UInt8) = row[j] == 0 ? (246, 246, 246) : (UInt8(255 - 225 * f), UInt8(255 - 185 * f), UInt8(255 - 85 * f))
                for y in 0..<(cell - 1) { for x in 0..<(cell - 1) { cv.set(left + j * cell + x, top + i * cell + y, col) } }
                if f >= 0.01 {
                    let s = String(Int((100 * f).rounded()))
                    cv.text(s, x: left + j * cell + (cell - Canvas.textWidth(s)) / 2, y: top + i * cell + cell / 2 - 3, f > 0.5 ? (255, 255, 255) : ink)
                }
            }
            if let r = recall[i] { cv.text(String(format: "%.0f%%", 100 * r), x: left + gridW + 6, y: top + i * cell + cell / 2 - 3, ink) }
        }
        // column names, written downwards one character per line
        for j in 0..<K {
            for (k, ch) in name(j).enumerated() { cv.text(String(ch), x: left + j * cell + cell / 2 - 2, y: top + gridW + 4 + 8 * k, ink) }
        }
        return (cv.pixels, width, height)
    }

    public func writeFigure(_ path: String, classNames: [String], title: String) throws {
        let f = figure(classNames: classNames, title: title)
        try Codecs.writePNG(path, pixels: f.pixels, width: f.width, height: f.height, channels: 3)
    }
}
