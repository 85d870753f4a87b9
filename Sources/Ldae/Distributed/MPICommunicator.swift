import Foundation

/// The ranks of a job started by mpirun or srun (`LaunchEnvironment`): the `Communicator` whose collectives are
/// MPI's. All MPI calls are in System/MPI.swift; only the main thread calls. A job of one rank (an Open MPI
/// singleton, `LDAE_MPI=on`) initialises MPI but sums nothing.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let launcher: String
    /// The node's name (MPI_Get_processor_name).
    public let host: String
    public var settled = false

    init(rank: Int, size: Int, launcher: String, host: String) {
        self.rank = rank; self.size = size; self.launcher = launcher; self.host = host
    }

    /// The world this process belongs to: MPI's when started by a launcher (`LaunchEnvironment`), else a world of one.
    public static func world(_ launch: LaunchEnvironment) throws -> any Communicator {
        guard launch.usesMPI else { return SingleProcess() }
        try MPI.initialize()
        let c = MPICommunicator(rank: try MPI.rank(), size: try MPI.size(), launcher: launch.launcher, host: MPI.processorName())
        if let n = launch.announcedSize, n != c.size {
            throw LdaeError("\(launch.launcher) announced \(n) processes but MPI_COMM_WORLD has \(c.size) (was this binary linked against another MPI than the launcher's?)")
        }
        return c
    }

    public static var libraryVersion: String { MPI.libraryVersion() }

    public func allreduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws {
        guard size > 1 else { return }
        try MPI.allreduceSum(buf, count: count)
    }

    public func allreduceSum(_ values: inout [Double]) throws {
        guard size > 1 else { return }
        try values.withUnsafeMutableBufferPointer { try MPI.allreduceSum($0.baseAddress!, count: $0.count) }
    }

    public func allreduceMax(_ value: Int32) throws -> Int32 {
        guard size > 1 else { return value }
        var v = value
        try MPI.allreduceMax(&v, count: 1)
        return v
    }

    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard size > 1 else { return [bytes] }
        let n = bytes.count
        var all = [UInt8](repeating: 0, count: n * size)
        if n > 0 {
            try bytes.withUnsafeBytes { s in
                try all.withUnsafeMutableBytes { r in try MPI.allgather(s.baseAddress!, bytes: n, into: r.baseAddress!) }
            }
        }
        return (0..<size).map { Array(all[($0 * n)..<(($0 + 1) * n)]) }
    }

    public func broadcast(_ buf: UnsafeMutableRawPointer, bytes: Int) throws {
        guard size > 1, bytes > 0 else { return }
        try MPI.broadcast(buf, bytes: bytes, root: 0)
    }

    public func barrier() throws {
        guard size > 1 else { return }
        try MPI.barrier()
    }

    public func finish(_ status: Int32) -> Never {
        MPI.finalize()
        exit(status)
    }

    public func abort(_ status: Int32) -> Never { MPI.abort(status) }
}
