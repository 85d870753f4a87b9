import Foundation
import XCTest
@testable import Ldae

final class PlotTests: XCTestCase {
    func testLineChartRendersSeriesAxesAndText() throws {
        var chart = LineChart(width: 320, height: 200, title: "loss", xLabel: "step", yLabel: "loss")
        chart.series = [.init(points: (0..<50).map { (Double($0), 1 / Double($0 + 1)) }, color: (200, 30, 30), thickness: 2)]
        XCTAssertEqual(LineChart.ticks(0...1, count: 5), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map { $0 }, accuracy: 1e-9)
        XCTAssertEqual(LineChart.label(0.25), "0.25"); XCTAssertEqual(LineChart.label(1000), "1000"); XCTAssertEqual(LineChart.label(2.5e-5), "2.50e-05")
        let px = chart.render()
        XCTAssertEqual(px.count, 320 * 200 * 3)
        func at(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) { let i = (y * 320 + x) * 3; return (px[i], px[i + 1], px[i + 2]) }
        // the curve's first point (x = 0, y = max) is at the top-left corner of the plot area
        XCTAssertTrue(at(chart.left + 1, chart.top + 1) == (200, 30, 30))
        // the last point is near the bottom right
        let bottomY = 200 - chart.bottom - 1
        XCTAssertTrue((bottomY - 4...bottomY).contains { at(320 - chart.right - 1, $0) == (200, 30, 30) })
        // the x axis is drawn, text was drawn in the title band, the background is white elsewhere
        XCTAssertTrue(at(160, 200 - chart.bottom) == (40, 40, 40))
        XCTAssertTrue((0..<320).contains { x in (6..<20).contains { at(x, $0) == (40, 40, 40) } })
        XCTAssertTrue(at(319, 199) == (255, 255, 255))
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try chart.write(dir + "/c.png")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/c.png"))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    func testLossCurveClipsTheFirstSteps() throws {
        // loss 14 for the first steps then ~1: the y axis stops near the later curve, the start is drawn at the top
        let log = (0..<400).map { i in
            TrainLogLine(step: i, epoch: 0, loss: i < 10 ? 14 : 1 + 0.2 * Double(400 - i) / 400, lr: 1e-3, gradNorm: 1, imagesPerS: 1, seconds: 1)
        }
        let c = TrainPlots.lossCurve(log, title: "t")
        let (_, yr) = c.ranges()
        XCTAssertLessThan(yr.upperBound, 2, "\(yr)")
        XCTAssertGreaterThan(yr.upperBound, 1.19)
        XCTAssertTrue(c.title.contains("clipped"))
        // a run without a spike is not clipped
        let flat = TrainPlots.lossCurve(Array(log.dropFirst(10)), title: "t")
        XCTAssertNil(flat.yMax)
        XCTAssertEqual(flat.ranges().y.upperBound, 1 + 0.2 * 390 / 400, accuracy: 1e-9)
        // clamped points are drawn inside the plot area
        let px = c.render()
        XCTAssertEqual(px.count, c.width * c.height * 3)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}

