import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The plan's parallel loops and the model's chunk plans.
final class ParallelTests: XCTestCase {
    func testDynamicHandsOutEveryItemOnce() {
        for count in [0, 1, 3, 50] {
            let lock = NSLock()
            nonisolated(unsafe) var seen: [Int] = [], workers = Set<Int>()
            ExecutionPlan.automatic.dynamic(count) { w, i in lock.lock(); seen.append(i); workers.insert(w); lock.unlock() }
            XCTAssertEqual(seen.sorted(), Array(0..<count))
            XCTAssert(workers.allSatisfy { $0 >= 0 && $0 < ExecutionPlan.automatic.workers }, "\(workers)")
            // with a serial plan: in order, on this thread, as worker 0
            seen = []
            ExecutionPlan.automatic.serial.dynamic(count) { w, i in XCTAssertEqual(w, 0); seen.append(i) }
            XCTAssertEqual(seen, Array(0..<count))
        }
    }

    func testSharesThenDynamicRunsEveryShareThenEveryTailItemOnce() {
        for (k, count) in [(2, 0), (2, 5), (1, 3), (3, 7)] {
            let lock = NSLock()
            nonisolated(unsafe) var shares: [Int] = [], tail: [Int] = [], shareDone = Set<Int>(), early = false
            ExecutionPlan.automatic.sharesThenDynamic(k, tail: count, share: { w in
                lock.lock(); shares.append(w); lock.unlock()
                Thread.sleep(forTimeInterval: w == 0 ? 0.02 : 0)   // worker 0 late: the others take the tail
                lock.lock(); shareDone.insert(w); lock.unlock()
            }) { w, i in
                lock.lock(); tail.append(i); if !shareDone.contains(w) { early = true }; lock.unlock()
            }
            XCTAssertEqual(shares.sorted(), Array(0..<k), "k=\(k)")
            XCTAssertEqual(tail.sorted(), Array(0..<count), "k=\(k) count=\(count)")
            XCTAssertFalse(early, "a worker took tail items before finishing its share")
        }
    }

    func testChunkPlansCoverTheBatchOnceAndShrinkTowardsTheEnd() {
        for (batch, per, workers) in [(128, 16, 2), (256, 16, 2), (5, 1, 2), (7, 16, 2), (100, 16, 3), (64, 16, 2), (63, 16, 2)] {
            let g = ChunkPlan.guided(batch: batch, perChunk: per, workers: workers, minChunk: max(1, per / 4))
            XCTAssertEqual(g.flatMap { Array($0) }, Array(0..<batch), "guided \(batch) \(per)")
            XCTAssert(g.allSatisfy { $0.count <= per && $0.count >= 1 })
            XCTAssert(zip(g, g.dropFirst()).allSatisfy { $0.count >= $1.count }, "sizes never grow: \(g.map(\.count))")
            XCTAssert(g.dropLast().allSatisfy { $0.count >= max(1, per / 4) }, "only the last chunk is under the minimum")
            let b = ChunkPlan.backward(batch: batch, perChunk: per, workers: workers)
            let all = (b.shares.flatMap { $0 } + b.tail).flatMap { Array($0) }
            XCTAssertEqual(all.sorted(), Array(0..<batch), "backward \(batch) \(per) \(workers)")
            XCTAssertEqual(b.shares.count, min(workers, batch))
            XCTAssert((b.shares.flatMap { $0 } + b.tail).allSatisfy { $0.count >= 1 && $0.count <= per })
            XCTAssertEqual(b, ChunkPlan.backward(batch: batch, perChunk: per, workers: workers), "a pure function")
            let sizes = b.shares.map { $0.reduce(0) { $0 + $1.count } }
            XCTAssertLessThanOrEqual((sizes.max() ?? 0) - (sizes.min() ?? 0), 1, "even shares \(sizes)")
        }
        // the reference shape: full chunks then 12, 9, ...; the backward's tail is 8, 8, 4, 4 images
        XCTAssertEqual(ChunkPlan.guided(batch: 128, perChunk: 16, workers: 2, minChunk: 4).map(\.count),
                       [16, 16, 16, 16, 16, 12, 9, 7, 5, 4, 4, 4, 3])
        XCTAssertEqual(ChunkPlan.backward(batch: 128, perChunk: 16, workers: 2).tail.map(\.count), [8, 8, 4, 4])
        XCTAssertEqual(ChunkPlan.backward(batch: 128, perChunk: 16, workers: 2, maxTail: 0).tail, [])
        XCTAssertEqual(ChunkPlan.backward(batch: 63, perChunk: 16, workers: 2).tail, [], "under two full chunks per core")
    }

    func testASerialPlanRunsLoopsInlineOnThisThread() {
        let n = 64, plan = ExecutionPlan.automatic, serial = plan.serial
        // one chunk covering everything, on the calling thread
        XCTAssertEqual(serial.workers, 1)
        XCTAssertEqual(serial.chunkCount(n), 1)
        var seen: [(Int, Int, Int)] = []
        serial.chunksIndexed(n) { w, r0, r1 in seen.append((w, r0, r1)) }
        XCTAssertEqual(seen.map { [$0.0, $0.1, $0.2] }, [[0, 0, n]])
        let caller = Thread.current
        nonisolated(unsafe) var elsewhere = false
        serial.chunks(n) { _, _ in if Thread.current != caller { elsewhere = true } }
        serial.sharesThenDynamic(1, tail: 3, share: { _ in if Thread.current != caller { elsewhere = true } }) { _, _ in
            if Thread.current != caller { elsewhere = true }
        }
        XCTAssertFalse(elsewhere)
        XCTAssertEqual(plan.chunkCount(n), min(plan.workers, n))
        // the serial form changes the threads only
        var back = serial
        back.threads = plan.threads
        XCTAssertEqual(back, plan)
        // threads 0 means every core; fast kernels only where asked for and the CPU has them
        XCTAssertEqual(ExecutionPlan(threads: 3).workers, 3)
        XCTAssertEqual(ExecutionPlan(threads: 0).workers, ExecutionPlan.cores)
        XCTAssertFalse(ExecutionPlan(fastKernels: false).usesFastKernels)
        XCTAssertEqual(ExecutionPlan(fastKernels: true).usesFastKernels, FastKernels.available)
    }
}
