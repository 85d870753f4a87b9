import Foundation

extension Prep {
    enum SlotStatus { case pending, ok(Int), skipped(SkipReason) }

    /// Pointers shared by the worker threads; each slot index is written by exactly one worker.
    private struct Shared: @unchecked Sendable {
        let slots: UnsafeMutablePointer<UInt8>
        let status: UnsafeMutablePointer<SlotStatus>
        let processors: [ImageProcessor]
        let paths: [[UInt8]]
        let lock: NSLock
        let next: UnsafeMutablePointer<Int>
    }

    /// Decodes files[start ..< start+count] into slots, `processors.count` threads taking chunks of 8.
    static func decodeBatch(files: [ImageFolder.File], start: Int, count: Int, root: String, processors: [ImageProcessor],
                            slots: UnsafeMutablePointer<UInt8>, vpi: Int, status: UnsafeMutablePointer<SlotStatus>) {
        let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        let sh = Shared(slots: slots, status: status, processors: processors,
                        paths: (start..<(start + count)).map { Array(root.utf8) + [0x2F] + files[$0].rawPath }, lock: NSLock(), next: next)
        let chunk = 8
        let work: @Sendable (Int) -> Void = { w in
            let proc = sh.processors[w]
            while true {
                sh.lock.lock()
                let a = sh.next.pointee
                sh.next.pointee = a + chunk
                sh.lock.unlock()
                if a >= count { return }
                for i in a..<min(a + chunk, count) {
                    do {
                        let info = try proc.process(rawPath: sh.paths[i], into: sh.slots + i * vpi)
                        sh.status[i] = .ok(info.warnings)
                    } catch let r as SkipReason {
                        sh.status[i] = .skipped(r)
                    } catch {
                        sh.status[i] = .skipped(SkipReason("unreadable", "\(error)"))
                    }
                }
            }
        }
        if processors.count == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: processors.count, execute: work) }
    }
}
