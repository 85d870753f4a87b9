import Foundation

/// Failures every rank knows about, so that a job ends with one line, not one per rank.
///
/// Setup (reading options, opening shards, the checkpoint) runs on every rank with no collective in it, so a rank
/// that fails there cannot leave the others waiting: every rank then reaches exactly one `settle` call, on success
/// (at the end of the trainer's setup) or with its error (in `runDistributedCommand`'s handler). If any rank failed,
/// the lowest such rank prints its error and every rank exits with its status; usage errors, identical on every
/// rank, are so printed once, by rank 0.
/// After setup, failures that every rank reaches together (a non-finite loss: the loss is summed over the ranks;
/// ranks that see different shard sets) are `AgreedError`s, printed by rank 0. Anything else is a rank failing
/// alone (its disk, its shard files, a bug): it prints its line naming the rank and ends the job (MPI_Abort).
public struct AgreedError: Error, CustomStringConvertible {
    public let inner: Error
    public init(_ inner: Error) { self.inner = inner }
    public var description: String { String(describing: inner) }
}

/// Another rank failed and reported it (`settle`); this one exits with `status` without a message.
public struct PeerFailure: Error, CustomStringConvertible {
    public let rank: Int
    public let status: Int32
    public var description: String { "rank \(rank) failed" }
}

/// This rank's own setup error, which it is the one to report (the lowest failing rank).
struct ReportedFailure: Error {
    let inner: Error
    let status: Int32
}

/// The exit status an error ends a command with (usage errors 2, others 1).
func errorStatus(_ error: Error) -> Int32 { error is UsageError ? 2 : 1 }

extension Communicator {
    /// An error every rank raises at the same point (printed once, by rank 0); the error itself in a world of one.
    public func agreed(_ e: Error) -> Error { isDistributed ? AgreedError(e) : e }

    /// The first collective of a job: every rank calls it once, with nil when its setup succeeded or with the error
    /// it failed with. Returns when every rank succeeded; else throws `ReportedFailure` on the lowest failing rank
    /// and `PeerFailure` on the others.
    public func settle(_ error: Error?) throws {
        guard !settled else {
            if let error { throw error }
            return
        }
        let mine: Int32 = error.map(errorStatus) ?? 0
        var word = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: mine.littleEndian) { for i in 0..<4 { word[i] = $0[i] } }
        let all = try allgather(word).map { b in Int32(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }) }
        settled = true
        guard let first = all.firstIndex(where: { $0 != 0 }) else { return }
        if first == rank, let error { throw ReportedFailure(inner: error, status: mine) }
        throw PeerFailure(rank: first, status: all[first])
    }

    /// Every rank's `value` (e.g. its shard index sha256) must be the same: otherwise every rank throws an
    /// `AgreedError` (printed by rank 0) naming the first rank that differs from rank 0. `describe` gives the
    /// message from (rank, its value, rank 0's value).
    public func checkSame(_ value: String, describe: (Int, String, String) -> String) throws {
        guard isDistributed else { return }
        // fixed width: the sha256 of the value (hex), then the value's first 120 bytes for the message
        let K = 64
        var word = [UInt8](repeating: 0, count: K + 1 + 120)
        let digest = Array(SHA256.hex(Data(value.utf8)).utf8)
        for i in 0..<K { word[i] = digest[i] }
        let shown = Array(value.utf8.prefix(120))
        word[K] = UInt8(shown.count)
        for (i, b) in shown.enumerated() { word[K + 1 + i] = b }
        let all = try allgather(word)
        guard let r = all.indices.first(where: { all[$0][0..<K] != all[0][0..<K] }) else { return }
        func text(_ w: [UInt8]) -> String { String(decoding: w[(K + 1)..<(K + 1 + Int(w[K]))], as: UTF8.self) }
        throw AgreedError(LdaeError(describe(r, text(all[r]), text(all[0]))))
    }
}
