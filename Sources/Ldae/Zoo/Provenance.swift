import Foundation

/// How a model was trained, for the manifest, the checkpoint and the model card: the processes and threads, the CPU
/// time over every process, the machine, the kernels and precision, the ldae build and the exact command line.
/// Entries written before it was recorded have none (`Manifest.provenance` nil) and still load.
public struct Provenance: Codable, Sendable, Equatable {
    /// Processes of the run (MPI ranks; 1 without a launcher) and worker threads in each.
    public var worldSize: Int
    public var threadsPerRank: Int
    /// "none", or the launcher that started the ranks (mpirun, srun, ...).
    public var launcher: String
    /// CPU seconds of the training steps summed over every rank, across resumes.
    public var cpuSecondsTotal: Double
    /// CPU seconds of each rank (index = rank) since `perRankSinceStep` (the start, or the last resume that changed
    /// the number of ranks).
    public var cpuSecondsPerRank: [Double]
    public var perRankSinceStep: Int
    /// Wall seconds of the training steps, across resumes.
    public var wallSeconds: Double
    public var cpuModel: String?
    /// The vector extensions of the CPU that ldae's kernels use (avx2, fma, avx512f, avx512bw, avx512vl, avx512_bf16).
    public var cpuFlags: [String]
    /// The matrix-product kernel the run took: portable, avx2, avx512 or bf16.
    public var kernels: String
    public var precision: Precision
    /// `LdaeVersion.describe`: the release and, when built from a git checkout, `git describe`.
    public var ldaeVersion: String
    /// The command line of the (last) launch, shell-quoted.
    public var commandLine: String
    /// Host names of the ranks (one per distinct host, in rank order).
    public var hosts: [String]

    /// "2 x 1" (ranks x threads).
    public var ranksByThreads: String { "\(worldSize) x \(threadsPerRank)" }

    /// The one-paragraph summary of the model card and `ldae-zoo show`.
    public var summary: String {
        let per = cpuSecondsPerRank.map { String(format: "%.0f", $0) }.joined(separator: " + ")
        return String(format: "%d process%@ x %d thread%@ (%@ ranks x threads, launcher %@, host%@ %@); %.1f CPU-minutes over every process (per rank since step %d: %@ s), %.1f wall minutes; %@, kernels %@ (%@), %@; %@; command: %@",
                      worldSize, worldSize == 1 ? "" : "es", threadsPerRank, threadsPerRank == 1 ? "" : "s", ranksByThreads, launcher,
                      hosts.count == 1 ? "" : "s", hosts.joined(separator: ", "), cpuSecondsTotal / 60, perRankSinceStep, per,
                      wallSeconds / 60, cpuModel ?? "unknown CPU", kernels, cpuFlags.joined(separator: " "), precision.rawValue,
                      ldaeVersion, commandLine)
    }
}

extension SystemInfo {
    /// The CPU flags (from /proc/cpuinfo) that ldae's kernels care about, in a fixed order.
    public static var vectorFlags: [String] {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        let have = Set(line.split(separator: " ").map(String.init))
        return ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"].filter { have.contains($0) }
    }

    /// argv as one shell-quoted line.
    public static func shellLine(_ argv: [String]) -> String {
        argv.map { a in
            a.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@+".contains($0) }) && !a.isEmpty ? a : "'" + a.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}

/// The ldae release, and the checkout it was built from when there is one.
public enum LdaeVersion {
    public static let release = "0.11.0"

    /// "0.11.0 (git 291fbce-dirty)" when the running executable sits in a git checkout's .build folder (the usual
    /// `swift build` layout) and git answers; the release alone otherwise.
    public static let describe: String = {
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            if FileUtil.exists(url.path + "/Package.swift") && FileUtil.exists(url.path + "/.git") { break }
            url = url.deletingLastPathComponent()
        }
        guard FileUtil.exists(url.path + "/.git"), FileUtil.exists("/usr/bin/git") else { return release }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        p.arguments = ["-C", url.path, "describe", "--always", "--dirty", "--tags"]
        let out = Pipe()
        p.standardOutput = out; p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return release }
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let s = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !s.isEmpty ? "\(release) (git \(s))" : release
    }()
}
