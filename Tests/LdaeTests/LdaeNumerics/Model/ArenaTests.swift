import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The activation arenas: one layout function, run to count and then to carve.
final class ArenaTests: XCTestCase {
    func testAnArenaIsSizedByItsLayoutAndCarvesAlignedDisjointBuffers() {
        let a = Arena()
        var runs = 0
        let p = a.carve { a -> [UnsafeMutablePointer<Float>] in runs += 1; return [a.take(5), a.take(17), a.take(0), a.take(16)] }
        XCTAssertEqual(runs, 2, "counted, then carved")
        XCTAssertEqual(a.capacity, 16 + 32 + 0 + 16)
        XCTAssertEqual(a.used, a.capacity)
        XCTAssertEqual(Int(bitPattern: a.base!) % 64, 0)
        XCTAssertEqual(p.map { $0 - a.base! }, [0, 16, 48, 48])
        // a smaller layout reuses the allocation; a larger one grows it
        let base = a.base
        _ = a.carve { [$0.take(3)] }
        XCTAssertEqual(a.base, base)
        XCTAssertEqual(a.capacity, 64)
        _ = a.carve { [$0.take(100)] }
        XCTAssertEqual(a.capacity, 112)
        a.free()
    }

    func testTheModelsArenasHoldExactlyWhatTheirLayoutsTake() throws {
        for tc in TimeCond.allCases {
            let config = ModelTests.tinyTestConfig(timeCond: tc)
            let m = try LDAEModel(config: config, seed: 1, plan: ExecutionPlan(threads: 2, chunkTokens: 0))
            var rng = RNG(seed: 2)
            let b = 3, x = FD.randn(b * config.tokens * config.tokenDim, &rng)
            _ = m.forward(x, t: [0.1, 0.2, 0.3], batch: b)
            let counter = Arena()
            _ = counter.carve { m.takeTrainActs($0, batch: b) }
            XCTAssertEqual(m.train.capacity, counter.capacity, "\(tc)")
            XCTAssertEqual(m.train.used, m.train.capacity)
            // every buffer of the layout lies inside the allocation
            let acts = m.acts!, lo = m.train.base!, hi = lo + m.train.capacity
            for p in [acts.x, acts.t, acts.encOut, acts.encNorm, acts.decNorm, acts.out, acts.s.dmod, acts.cond.dcs] {
                XCTAssertTrue(p >= lo && p < hi, "\(tc)")
            }
            counter.free()
        }
    }
}
