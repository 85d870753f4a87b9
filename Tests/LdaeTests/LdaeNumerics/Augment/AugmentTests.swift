import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// Random crops and flips of the training images.
final class AugmentTests: XCTestCase {
    /// A padded crop moves pixels by whole steps: out(y, x) = in(y + y0, x + x0), black outside.
    func testPadCropShiftsExactlyAndFlipMirrors() {
        let S = 8, g = PatchGeometry(imageSize: S, patchSize: 4)
        let img = trainTestImages(1, size: S, seed: 4)[0]
        let src = g.patchify(img)
        let a = Augmenter(geometry: g, kind: .pad, padding: 2, scaleMin: 1, flip: false, seed: 0)
        var out = [Float](repeating: .nan, count: g.valuesPerImage)
        a.apply(src, crop: .init(x0: 2, y0: -1, w: Double(S), h: Double(S)), flip: false, into: &out)
        for y in 0..<S { for x in 0..<S { for c in 0..<3 {
            let sy = y - 1, sx = x + 2
            let want = (sy >= 0 && sy < S && sx < S) ? PixelScaling.toFloat(img[(sy * S + sx) * 3 + c]) : -1
            XCTAssertEqual(out[g.patchOffset(y: y, x: x, c: c)], want, "(\(y), \(x), \(c))")
        } } }
        // no crop + flip = the mirror image; identity crop = a plain copy
        var fl = out, plain = out
        a.apply(src, crop: nil, flip: true, into: &fl)
        a.apply(src, crop: .identity(S), flip: false, into: &plain)
        for y in 0..<S { for x in 0..<S { for c in 0..<3 {
            XCTAssertEqual(fl[g.patchOffset(y: y, x: x, c: c)], PixelScaling.toFloat(img[(y * S + S - 1 - x) * 3 + c]))
            XCTAssertEqual(plain[g.patchOffset(y: y, x: x, c: c)], PixelScaling.toFloat(img[(y * S + x) * 3 + c]))
        } } }
        // crop offsets stay within the padding, and depend only on (seed, step)
        let crops = a.crops(step: 7, batch: 200)!
        XCTAssertEqual(crops, a.crops(step: 7, batch: 200)!)
        XCTAssertNotEqual(crops, a.crops(step: 8, batch: 200)!)
        XCTAssertEqual(Set(crops.map(\.x0)), Set([-2, -1, 0, 1, 2].map(Double.init)))
    }

    func testRandomResizedCropsAreInsideAndSampleBilinearly() {
        let S = 16, g = PatchGeometry(imageSize: S, patchSize: 4)
        let a = Augmenter(geometry: g, kind: .rrc, padding: 0, scaleMin: 0.35, flip: false, seed: 1)
        for c in a.crops(step: 3, batch: 300)! {
            XCTAssertGreaterThanOrEqual(c.x0, 0); XCTAssertGreaterThanOrEqual(c.y0, 0)
            XCTAssertLessThanOrEqual(c.x0 + c.w, Double(S)); XCTAssertLessThanOrEqual(c.y0 + c.h, Double(S))
            XCTAssertGreaterThanOrEqual(c.w * c.h, 0.3 * Double(S * S))   // 0.35 before rounding
        }
        // a horizontal ramp (value = 10 x) stays a ramp: bilinear sampling of a linear image is exact
        var img = [UInt8](repeating: 0, count: S * S * 3)
        for y in 0..<S { for x in 0..<S { for c in 0..<3 { img[(y * S + x) * 3 + c] = UInt8(10 * x) } } }
        var out = [Float](repeating: 0, count: g.valuesPerImage)
        let crop = Augmenter.Crop(x0: 4, y0: 2, w: 8, h: 8)    // 2x zoom into x in [4, 12)
        a.apply(g.patchify(img), crop: crop, flip: false, into: &out)
        for x in 1..<(S - 1) {
            let fx = (Double(x) + 0.5) * 0.5 - 0.5 + 4
            XCTAssertEqual(Double(out[g.patchOffset(y: 5, x: x, c: 1)]), 10 * fx / 127.5 - 1, accuracy: 1e-5, "x \(x)")
        }
    }
}
