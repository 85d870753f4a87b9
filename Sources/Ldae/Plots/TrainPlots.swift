import Foundation

public enum TrainPlots {
    /// The loss curve: every step's loss (light) and a running mean over ~2% of the steps (dark).
    public static func lossCurve(_ log: [TrainLogLine], title: String) -> LineChart {
        var c = LineChart(width: 720, height: 420, title: title, xLabel: "step", yLabel: "loss")
        let raw = log.map { (x: Double($0.step), y: $0.loss) }
        let w = max(1, log.count / 50)
        var smooth: [(x: Double, y: Double)] = []
        var acc = 0.0
        for (i, p) in raw.enumerated() {
            acc += p.y
            if i >= w { acc -= raw[i - w].y }
            smooth.append((p.x, acc / Double(min(i + 1, w))))
        }
        c.series = [.init(points: raw, color: (240, 160, 150), thickness: 1), .init(points: smooth, color: (190, 30, 30), thickness: 2)]
        // the first steps' loss is often 10x the rest: clip the y axis to the smoothed curve after the first 5% of
        // the steps so that the part users read (the slow decrease later) is not squashed to a flat line
        if smooth.count >= 40 {
            let later = smooth[(smooth.count / 20)...].map(\.y).filter(\.isFinite)
            if let m = later.max(), let all = raw.map(\.y).filter(\.isFinite).max(), all > 1.5 * m {
                c.yMax = 1.2 * m
                c.title += " (start clipped)"
            }
        }
        return c
    }
}
