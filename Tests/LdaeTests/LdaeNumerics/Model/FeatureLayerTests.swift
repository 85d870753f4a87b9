import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

final class FeatureLayerTests: XCTestCase {
    func testFeaturesAtEveryLayerAreTokenMeansOfTheTrainingActivations() throws {
        for tc in TimeCond.allCases {
            let config = ModelTests.tinyTestConfig(timeCond: tc)
            let m = try LDAEModel(config: config, seed: 2)
            var rng = RNG(seed: 8)
            let b = 3, per = config.tokens * config.tokenDim, T = config.tokens
            let x = FD.randn(b * per, &rng)
            _ = m.forward(x, t: [0, 0, 0], batch: b)
            let a = m.acts!
            let L = config.encoderDepth, W = config.encoderWidth, Vd = config.decoderWidth
            let layers = FeatureLayer.all(config)
            func source(_ l: FeatureLayer) -> (UnsafeMutablePointer<Float>, Int) {
                switch l {
                case .embed: return (a.enc[0].xIn, W)
                case .block(let k): return (k < L ? a.enc[k].xIn : a.encOut, W)
                case .final: return (a.encNorm, W)
                case .decoderBlock(let k): return (k < config.decoderDepth ? a.dec[k].xIn : a.decOut, Vd)
                }
            }
            for chunk in [m.plan.chunkTokens, config.tokens] {
                let mc = try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: chunk))
                let total = layers.reduce(0) { $0 + m.width(of: $1) }
                var f = [Float](repeating: .nan, count: b * total)
                mc.features(x, t: nil, batch: b, layers: layers, out: &f)
                var off = 0
                for l in layers {
                    let (buf, c) = source(l)
                    for bi in 0..<b { for j in 0..<c {
                        var s: Float = 0
                        for t in 0..<T { s += buf[(bi * T + t) * c + j] }
                        XCTAssertEqual(f[bi * total + off + j], s / Float(T), accuracy: 1e-5, "\(tc.rawValue) \(l) chunk \(chunk)")
                    } }
                    off += c
                }
            }
        }
        let c = ModelTests.tinyTestConfig()
        XCTAssertEqual(try FeatureLayer.list("embed,2,final,dec1", config: c), [.embed, .block(2), .final, .decoderBlock(1)])
        XCTAssertThrowsError(try FeatureLayer("\(c.encoderDepth + 1)", config: c)) { XCTAssertTrue("\($0)".contains("1...\(c.encoderDepth)"), "\($0)") }
        XCTAssertThrowsError(try FeatureLayer("mid", config: c))
    }
}
