import Foundation

/// Progress on stderr with rate and ETA. On a terminal: one line redrawn in place at most 10 times
/// a second; otherwise (logs, CI): a plain line at most every `plainInterval` seconds.
public final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let unit: String
    private let start = Date()
    private var last = Date.distantPast
    private let tty = isatty(2) != 0
    private let plainInterval: Double
    private let lock = NSLock()
    public private(set) var done = 0
    public var quiet = false

    public init(_ label: String, total: Int, unit: String = "items", plainInterval: Double = 5) {
        self.label = label; self.total = total; self.unit = unit; self.plainInterval = plainInterval
    }

    public var elapsed: Double { Date().timeIntervalSince(start) }

    /// Records `n` more units of work; `extra` is appended to the line (e.g. "loss 0.123").
    public func advance(_ n: Int = 1, extra: String = "") {
        lock.lock(); defer { lock.unlock() }
        done += n
        let now = Date()
        let gap = now.timeIntervalSince(last)
        if quiet || (tty ? gap < 0.1 : gap < plainInterval) && done < total { return }
        last = now
        emit(extra: extra)
    }

    public func line(extra: String = "") -> String {
        let el = elapsed
        let rate = el > 0 ? Double(done) / el : 0
        var s = "\(label): \(done)/\(total) \(unit)"
        if total > 0 { s += String(format: " (%.1f%%)", 100 * Double(done) / Double(total)) }
        s += String(format: ", %.1f %@/s", rate, unit)
        if rate > 0 && total > done { s += ", ETA " + ProgressLine.formatDuration(Double(total - done) / rate) }
        s += ", elapsed " + ProgressLine.formatDuration(el)
        if !extra.isEmpty { s += ", " + extra }
        return s
    }

    private func emit(extra: String) {
        let s = line(extra: extra)
        if tty {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + s).utf8))
        } else {
            FileHandle.standardError.write(Data((s + "\n").utf8))
        }
    }

    /// Ends the progress display (prints the final line).
    public func finish(extra: String = "") {
        lock.lock(); defer { lock.unlock() }
        if quiet { return }
        let s = line(extra: extra)
        FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + s + "\n").utf8))
    }

    public static func formatDuration(_ s: Double) -> String {
        if !s.isFinite { return "?" }
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return String(format: "%.1fs", s)
    }
}
