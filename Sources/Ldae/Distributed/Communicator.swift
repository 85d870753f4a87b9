import Foundation

/// The processes of one job, as data-parallel training sees them: this process's rank in 0..<size and the few
/// collectives it needs. A world of one (`Communicator.single`, a process started without a launcher) answers
/// every collective itself without calling MPI. All MPI calls are in System/MPI.swift; only the main thread calls.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// MPI was initialised (and must be finalised: `finish`).
    public let usesMPI: Bool
    public let launcher: String
    /// The node's name (MPI_Get_processor_name), for messages.
    public let host: String
    /// The first collective (`settle`) has been passed: from here on a rank failing alone ends the whole job.
    public internal(set) var settled = false

    public static let single = Communicator(rank: 0, size: 1, usesMPI: false, launcher: "none", host: ProcessInfo.processInfo.hostName)

    init(rank: Int, size: Int, usesMPI: Bool, launcher: String, host: String) {
        self.rank = rank; self.size = size; self.usesMPI = usesMPI; self.launcher = launcher; self.host = host
        if !usesMPI { settled = true }
    }

    public var isRoot: Bool { rank == 0 }
    /// More than one rank: training slices batches and sums gradients.
    public var isDistributed: Bool { size > 1 }
    /// "rank 1 of 4 (node07)" for messages.
    public var label: String { "rank \(rank) of \(size) (\(host))" }

    /// The world this process belongs to: MPI's when started by a launcher (`LaunchEnvironment`), else a world of one.
    public static func world(_ launch: LaunchEnvironment) throws -> Communicator {
        guard launch.usesMPI else { return .single }
        try MPI.initialize()
        let c = Communicator(rank: try MPI.rank(), size: try MPI.size(), usesMPI: true, launcher: launch.launcher, host: MPI.processorName())
        if let n = launch.announcedSize, n != c.size {
            throw LdaeError("\(launch.launcher) announced \(n) processes but MPI_COMM_WORLD has \(c.size) (was this binary linked against another MPI than the launcher's?)")
        }
        return c
    }

    public static var libraryVersion: String { MPI.libraryVersion() }

    // MARK: collectives (every rank calls each one, in the same order)

    /// In-place sum over the ranks of `count` floats (the same bits on every rank).
    public func allreduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws {
        guard usesMPI && size > 1 else { return }
        try MPI.allreduceSum(buf, count: count)
    }

    /// In-place sum over the ranks of doubles.
    public func allreduceSum(_ values: inout [Double]) throws {
        guard usesMPI && size > 1 else { return }
        try values.withUnsafeMutableBufferPointer { try MPI.allreduceSum($0.baseAddress!, count: $0.count) }
    }

    /// The largest of the ranks' values.
    public func allreduceMax(_ value: Int32) throws -> Int32 {
        guard usesMPI && size > 1 else { return value }
        var v = value
        try MPI.allreduceMax(&v, count: 1)
        return v
    }

    /// Every rank's `bytes` (all of the same length), in rank order.
    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard usesMPI && size > 1 else { return [bytes] }
        let n = bytes.count
        var all = [UInt8](repeating: 0, count: n * size)
        if n > 0 {
            try bytes.withUnsafeBytes { s in
                try all.withUnsafeMutableBytes { r in try MPI.allgather(s.baseAddress!, bytes: n, into: r.baseAddress!) }
            }
        }
        return (0..<size).map { Array(all[($0 * n)..<(($0 + 1) * n)]) }
    }

    /// Rank 0's `bytes` bytes at `buf` copied to every rank.
    public func broadcast(_ buf: UnsafeMutableRawPointer, bytes: Int) throws {
        guard usesMPI && size > 1, bytes > 0 else { return }
        try MPI.broadcast(buf, bytes: bytes, root: 0)
    }

    public func broadcast(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count) }
    }

    public func broadcast(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count) }
    }

    public func barrier() throws {
        guard usesMPI && size > 1 else { return }
        try MPI.barrier()
    }

    // MARK: ending

    /// Finalises MPI (when it was initialised) and exits with `status`. Every rank must end this way, or by `abort`.
    public func finish(_ status: Int32) -> Never {
        if usesMPI { MPI.finalize() }
        exit(status)
    }

    /// Ends every rank of the job at once (a rank failed alone, while the others may wait in a collective).
    public func abort(_ status: Int32 = 1) -> Never {
        guard usesMPI else { exit(status) }
        MPI.abort(status)
    }
}
