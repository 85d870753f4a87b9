import Foundation

/// `Prep.run`'s first steps: the files to read, and where the output folder stands (empty, interrupted, complete).
struct PrepInput {
    let folder: ImageFolder
    /// This part's files, in listing order.
    let files: [ImageFolder.File]
    /// What the listing found but cannot use (symlink loops, dangling links, files outside the class folders, ...):
    /// recorded once, by part 0, and counted like any skipped file.
    let listed: [ImageFolder.Skipped]
    /// sha256 of the (label, path) list: a resumed run must see the same files.
    let filesSHA256: String
    let settings: [String: String]

    /// Lists the input folder (never inside the output folder) and takes this part's share of it.
    static func list(_ o: Prep.Options) throws -> PrepInput {
        let inAbs = URL(fileURLWithPath: o.input).standardizedFileURL.path, outAbs = URL(fileURLWithPath: o.out).standardizedFileURL.path
        if outAbs == inAbs || outAbs.hasPrefix(inAbs.hasSuffix("/") ? inAbs : inAbs + "/") {
            throw LdaeError("the output folder is inside the input folder (its shards would be read as images); choose another --out", file: o.out)
        }
        let folder = try ImageFolder(root: o.input, classNames: o.classNames)
        var files = folder.files
        if let p = o.part { files = Array(files[ImageFolder.partRange(count: files.count, part: p.index, of: p.count)]) }
        if folder.files.isEmpty { throw LdaeError("no files found (expected class subfolders of images, or images)", file: o.input) }
        var fh = SHA256()
        for f in files { fh.update(Data("\(f.label)\t\(f.path)\n".utf8)) }
        return PrepInput(folder: folder, files: files, listed: (o.part?.index ?? 0) == 0 ? folder.skipped : [],
                         filesSHA256: fh.finalize(), settings: Prep.settings(o))
    }

    /// Entries read: this part's files and the listing's unusable entries.
    var entries: Int { files.count + listed.count }

    /// Too many unusable entries stop the run before anything is created.
    func refuseTooManyUnusable(_ o: Prep.Options) throws {
        guard let first = listed.first, o.failOnError || Double(listed.count) > o.maxSkipFraction * Double(entries) else { return }
        throw LdaeError((o.failOnError ? "" : "\(listed.count) of \(entries) entries cannot be used, above --max-skip-fraction \(o.maxSkipFraction); ")
                        + "\(first.path): \(first.reason)" + (o.failOnError ? " (--on-error fail)" : ""), file: o.input)
    }

    enum Start { case from(Prep.State), done(Prep.Result) }

    /// A fresh state for an empty folder; the saved one of an interrupted run (`resume`, same settings and files,
    /// every recorded shard present); `done` for a complete run of the same settings (`resume`). Anything else in
    /// the folder is refused.
    static func startOrResume(_ o: Prep.Options, _ input: PrepInput) throws -> Start {
        let statePath = o.out + "/" + Prep.stateFile, indexPath = o.out + "/" + ShardFormat.indexFile
        let settings = input.settings
        if o.resume && FileUtil.exists(statePath) {
            let s = try JSON.read(Prep.State.self, path: statePath)
            if s.settings != settings {
                let diff = settings.keys.filter { settings[$0] != s.settings[$0] }.sorted()
                throw LdaeError("cannot resume: settings differ from the interrupted run (\(diff.joined(separator: ", ")))", file: statePath)
            }
            if s.filesSha256 != input.filesSHA256 { throw LdaeError("cannot resume: the input files changed since the interrupted run", file: statePath) }
            for sh in s.shards where !FileUtil.exists(o.out + "/" + sh.file) {
                throw LdaeError("cannot resume: a shard recorded as complete is missing", file: o.out + "/" + sh.file)
            }
            return .from(s)
        }
        if FileUtil.exists(indexPath) || FileUtil.exists(statePath) || Prep.existingShards(o.out) > 0 {
            if o.resume, FileUtil.exists(indexPath) {
                let idx = try ShardIndex.load(indexPath).index
                guard idx.settings == settings else {
                    throw LdaeError("the folder holds a complete run with different settings; choose another --out", file: indexPath)
                }
                return .done(Prep.Result(index: idx, elapsed: 0, resumedShards: idx.shards.count, alreadyComplete: true,
                                         ignoredTopLevel: input.folder.ignoredTopLevel))
            }
            throw LdaeError("output folder already holds shards; use --resume to continue an interrupted run, or choose an empty folder", file: o.out)
        }
        return .from(Prep.State(settings: settings, filesSha256: input.filesSHA256, nextFile: 0, shards: [],
                                skipped: input.listed.map { .init(path: $0.path, reason: $0.reason.description) },
                                skippedCounts: input.listed.reduce(into: [:]) { $0[$1.reason.category, default: 0] += 1 },
                                filesWithWarnings: 0, corruptDataWarnings: 0))
    }
}
