// The C boundary for MPI (Open MPI, Debian's libopenmpi-dev). Every MPI call in ldae goes through this file;
// the rest of the library talks to `Communicator` (Distributed/Communicator.swift), which is a world of one when
// the process was not started by mpirun or srun. Only the main thread calls MPI (MPI_THREAD_FUNNELED).
import CMPI
import Foundation

/// An MPI call that returned an error code: the call and MPI's own message for the code.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public let message: String
    public var description: String { "MPI \(call) failed (error \(code): \(message))" }
}

enum MPI {
    nonisolated(unsafe) static var initialized = false

    @inline(__always)
    static func check(_ call: String, _ rc: Int32) throws {
        guard rc != ldae_mpi_success() else { return }
        var buf = [CChar](repeating: 0, count: Int(ldae_mpi_max_error_string()) + 1)
        var len: Int32 = 0
        let msg = MPI_Error_string(rc, &buf, &len) == ldae_mpi_success() ? String(nulTerminated: buf) : "unknown MPI error"
        throw MPIError(call: call, code: rc, message: msg)
    }

    /// MPI_Init_thread (FUNNELED: worker threads never call MPI), errors returned to us rather than fatal.
    static func initialize() throws {
        guard !initialized else { return }
        var provided: Int32 = 0
        try check("MPI_Init_thread", MPI_Init_thread(nil, nil, ldae_mpi_thread_funneled(), &provided))
        initialized = true
        try check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(ldae_mpi_comm_world(), ldae_mpi_errors_return()))
    }

    static func finalize() {
        guard initialized else { return }
        initialized = false
        _ = MPI_Finalize()
    }

    static func rank() throws -> Int {
        var r: Int32 = 0
        try check("MPI_Comm_rank", MPI_Comm_rank(ldae_mpi_comm_world(), &r))
        return Int(r)
    }

    static func size() throws -> Int {
        var s: Int32 = 0
        try check("MPI_Comm_size", MPI_Comm_size(ldae_mpi_comm_world(), &s))
        return Int(s)
    }

    static func processorName() -> String {
        var buf = [CChar](repeating: 0, count: Int(ldae_mpi_max_processor_name()) + 1)
        var len: Int32 = 0
        guard MPI_Get_processor_name(&buf, &len) == ldae_mpi_success() else { return "?" }
        return String(nulTerminated: buf)
    }

    /// Counts above Int32.max are sent in pieces (MPI counts are C ints).
    private static let maxCount = Int(Int32.max) / 2

    /// In-place sum over all ranks of `count` floats; every rank receives the same result.
    static func allreduceSum(_ buf: UnsafeMutablePointer<Float>, count: Int) throws {
        var off = 0
        while off < count {
            let n = min(maxCount, count - off)
            try check("MPI_Allreduce", MPI_Allreduce(ldae_mpi_in_place(), buf + off, Int32(n), ldae_mpi_float(), ldae_mpi_sum(), ldae_mpi_comm_world()))
            off += n
        }
    }

    /// In-place sum over all ranks of `count` doubles.
    static func allreduceSum(_ buf: UnsafeMutablePointer<Double>, count: Int) throws {
        try check("MPI_Allreduce", MPI_Allreduce(ldae_mpi_in_place(), buf, Int32(count), ldae_mpi_double(), ldae_mpi_sum(), ldae_mpi_comm_world()))
    }

    /// In-place maximum over all ranks of `count` ints.
    static func allreduceMax(_ buf: UnsafeMutablePointer<Int32>, count: Int) throws {
        try check("MPI_Allreduce", MPI_Allreduce(ldae_mpi_in_place(), buf, Int32(count), ldae_mpi_int(), ldae_mpi_max(), ldae_mpi_comm_world()))
    }

    /// Every rank's `bytes` bytes from `send`, concatenated in rank order into `recv` (size * bytes).
    static func allgather(_ send: UnsafeRawPointer, bytes: Int, into recv: UnsafeMutableRawPointer) throws {
        try check("MPI_Allgather", MPI_Allgather(send, Int32(bytes), ldae_mpi_byte(), recv, Int32(bytes), ldae_mpi_byte(), ldae_mpi_comm_world()))
    }

    /// Root's `bytes` bytes at `buf` copied into every rank's `buf`.
    static func broadcast(_ buf: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        var off = 0
        while off < bytes {
            let n = min(maxCount, bytes - off)
            try check("MPI_Bcast", MPI_Bcast(buf + off, Int32(n), ldae_mpi_byte(), Int32(root), ldae_mpi_comm_world()))
            off += n
        }
    }

    static func barrier() throws {
        try check("MPI_Barrier", MPI_Barrier(ldae_mpi_comm_world()))
    }

    /// Ends every rank of the job (mpirun / srun kill the others).
    static func abort(_ code: Int32) -> Never {
        _ = MPI_Abort(ldae_mpi_comm_world(), code)
        exit(code)
    }

    /// The library's version line ("Open MPI v4.1.4, ...").
    static func libraryVersion() -> String {
        var buf = [CChar](repeating: 0, count: 8192)
        var len: Int32 = 0
        guard MPI_Get_library_version(&buf, &len) == ldae_mpi_success() else { return "?" }
        return String(nulTerminated: buf).split(separator: ",").first.map(String.init) ?? "?"
    }
}
