import Foundation

/// The processes of one job as data-parallel training sees them: this process's rank in 0..<size and the few
/// collectives training needs (every rank calls each one, in the same order). A process started on its own is a
/// world of one, `SingleProcess`, whose collectives leave their arguments as they are; a job started by mpirun or srun
/// is `MPICommunicator` (Ldae/Distributed). Code that trains calls the collectives unconditionally.
public protocol Communicator: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    /// What started the job ("mpirun", "srun (PMIx)", ...; "none" for one process), for the provenance.
    var launcher: String { get }
    /// The node's name, for messages and the provenance.
    var host: String { get }
    /// The first collective (`settle`, Ldae/Distributed/Agreement.swift) has been passed: from here on a rank failing
    /// alone ends the whole job. Always true in one process.
    var settled: Bool { get set }

    /// In-place sum over the ranks of `count` floats (the same bits on every rank).
    func allreduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws
    /// In-place sum over the ranks of doubles.
    func allreduceSum(_ values: inout [Double]) throws
    /// The largest of the ranks' values.
    func allreduceMax(_ value: Int32) throws -> Int32
    /// Every rank's `bytes` (all of the same length), in rank order.
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Rank 0's `bytes` bytes at `buf` copied to every rank.
    func broadcast(_ buf: UnsafeMutableRawPointer, bytes: Int) throws
    func barrier() throws
    /// Ends this rank with `status` (MPI finalised first). Every rank must end this way, or by `abort`.
    func finish(_ status: Int32) -> Never
    /// Ends every rank of the job at once (a rank failed alone, while the others may wait in a collective).
    func abort(_ status: Int32) -> Never
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
    /// More than one rank: training slices batches and sums gradients.
    public var isDistributed: Bool { size > 1 }
    /// "rank 1 of 4 (node07)" for messages.
    public var label: String { "rank \(rank) of \(size) (\(host))" }

    public func broadcast(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count) }
    }

    public func broadcast(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: $0.count) }
    }
}

/// A process on its own: rank 0 of 1. Every collective leaves its arguments unchanged (a sum over one rank is the
/// rank's value) and never touches MPI.
public final class SingleProcess: Communicator {
    public let host = ProcessInfo.processInfo.hostName
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var launcher: String { "none" }
    public var settled: Bool { get { true } set {} }
    public func allreduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allreduceSum(_ values: inout [Double]) throws {}
    public func allreduceMax(_ value: Int32) throws -> Int32 { value }
    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func broadcast(_ buf: UnsafeMutableRawPointer, bytes: Int) throws {}
    public func barrier() throws {}
    public func finish(_ status: Int32) -> Never { exit(status) }
    public func abort(_ status: Int32) -> Never { exit(status) }
}
