import Foundation

/// A training run's folder (`--out`, default runs/NAME): the checkpoint, `train_log.jsonl` (one line per step),
/// `loss_curve.png`, `published.json` (what publishing made of it) and the lock `.ldae.lock`, held while the folder
/// is open so that a second ldae-train on it fails at once. One process writes it (rank 0 of a job, `writes`); for
/// the others every write does nothing.
public final class RunFolder {
    public let path: String
    public let writes: Bool
    private let lock: FolderLock?
    /// The log of the steps done so far: those of a resumed checkpoint, then this run's.
    public private(set) var log: [TrainLogLine] = []

    public var checkpointPath: String { path + "/" + Checkpoint.fileName }
    public var logPath: String { path + "/train_log.jsonl" }
    public var curvePath: String { path + "/loss_curve.png" }
    /// Written after a successful publish, so that `--resume` of a finished run does not publish it twice.
    public var publishedPath: String { path + "/published.json" }

    /// Opens (creating it) and locks the folder when `writes`; a second writer fails naming the holder.
    public init(_ path: String, writes: Bool) throws {
        self.path = path; self.writes = writes
        lock = writes ? try FolderLock.acquire(path, command: "ldae-train") : nil
    }

    public var hasCheckpoint: Bool { FileUtil.exists(checkpointPath) }

    public func loadCheckpoint(slots: [Checkpoint.Slot], parameterCount: Int) throws -> Checkpoint {
        try Checkpoint.load(checkpointPath, slots: slots, parameterCount: parameterCount)
    }

    /// The checkpoint, then the log and the loss curve (titled `title`) that go with it.
    public func save(_ ck: Checkpoint, slots: [Checkpoint.Slot], title: String) throws {
        guard writes else { return }
        try ck.save(checkpointPath, slots: slots)
        try rewriteLog()
        try writeCurve(title: title)
    }

    /// Keeps the lines of the log on disk for the steps before `step` (those a resumed checkpoint contains).
    public func readLog(before step: Int) throws {
        guard FileUtil.exists(logPath) else { return }
        let text = String(decoding: try FileUtil.read(logPath), as: UTF8.self)
        for line in text.split(separator: "\n") where !line.isEmpty {
            guard let l = try? JSON.decode(TrainLogLine.self, from: Data(line.utf8), file: logPath) else { continue }
            if l.step < step { log.append(l) }
        }
    }

    /// The log file as the lines held (dropping lines past the checkpoint of a resumed run).
    public func rewriteLog() throws {
        guard writes else { return }
        var d = Data()
        for l in log { d.append(try JSON.encode(l, pretty: false)); d.append(0x0A) }
        try AtomicFile.write(d, to: logPath)
    }

    public func append(_ l: TrainLogLine) {
        guard writes else { return }
        log.append(l)
        guard let h = FileHandle(forWritingAtPath: logPath) else { return }
        defer { try? h.close() }
        h.seekToEndOfFile()
        if var d = try? JSON.encode(l, pretty: false) { d.append(0x0A); h.write(d) }
    }

    public func writeCurve(title: String) throws {
        guard writes else { return }
        try TrainPlots.lossCurve(log, title: title).write(curvePath)
    }

    /// What publishing made of this run (`published.json`).
    public struct Published: Codable, Sendable { public var name: String; public var version: Int; public var path: String; public var steps: Int }

    /// The earlier publication of this run, when it is still in the zoo.
    public func published() -> Published? {
        guard FileUtil.exists(publishedPath), let p = try? JSON.read(Published.self, path: publishedPath), FileUtil.exists(p.path) else { return nil }
        return p
    }

    public func recordPublished(_ p: Published) throws { try JSON.write(p, to: publishedPath) }
}
