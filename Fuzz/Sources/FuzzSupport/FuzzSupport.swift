// What every fuzz target shares: a scratch folder for the input written as a file, and the oracle.
//
// The oracle: a loader given any bytes either returns or throws an error that names the file it was reading
// (`errorLine(error)` contains the scratch folder's path, as every ldae command's one-line error does). A trap
// (fatalError, require, a Swift overflow or bounds check), an AddressSanitizer report, a timeout or an allocation
// above libFuzzer's limits is a finding; so is an error that does not say which file it is about (the target
// stops with `fatalError`, which libFuzzer reports as a crash and saves the input of).
import Foundation
import Ldae

/// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

public enum Fuzz {
    /// The process's entry point. SwiftPM's debug builds link an executable target with `main` defined as
    /// `<module>_main` (so that tests can link it), and `-parse-as-library` leaves that undefined: each target
    /// defines it (`@_cdecl("fuzz_npy_main")`) as a call to this, which hands the command line to libFuzzer.
    public static func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt {
        // Swift's crash backtracer would hold a crashing process for seconds; libFuzzer reports crashes itself.
        setenv("SWIFT_BACKTRACE", "enable=no", 0)
        var c = argc
        var v = argv
        return LLVMFuzzerRunDriver(&c, &v, callback)
    }

    /// One folder per fuzzing process, in /dev/shm when there is one (the inputs are written there once per run),
    /// removed at exit; those of earlier processes that crashed (a finding ends the process) are removed first.
    public static let dir: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        for old in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where old.hasPrefix("ldae-fuzz-") {
            if let pid = Int32(old.dropFirst("ldae-fuzz-".count)), kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: base + "/" + old)
            }
        }
        let d = base + "/ldae-fuzz-\(getpid())"
        try? FileManager.default.removeItem(atPath: d)
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Fuzz.dir) }
        return d
    }()

    /// `dir/name`.
    public static func path(_ name: String) -> String { dir + "/" + name }

    /// Writes `bytes` to `dir/name` (replacing it) and returns its path.
    @discardableResult
    public static func write(_ bytes: UnsafeRawBufferPointer, to name: String) -> String {
        let p = path(name)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create \(p)")
        var done = 0
        while done < bytes.count {
            let r = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            precondition(r > 0, "cannot write \(p)")
            done += r
        }
        close(fd)
        return p
    }

    @discardableResult
    public static func write(_ data: Data, to name: String) -> String {
        data.withUnsafeBytes { write($0, to: name) }
    }

    /// Runs `body`; a thrown error must name a file of the scratch folder (else: a finding).
    public static func expectNamedError(_ body: () throws -> Void) {
        do { try body() } catch {
            let line = errorLine(error)
            if !line.contains(dir) {
                fatalError("fuzz finding: an error that names no file: \(type(of: error)): \(line)")
            }
        }
    }

    /// The fuzz input as a buffer.
    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: size > 0 ? UnsafeRawPointer(data) : nil, count: size)
    }

    /// Splits an input into `parts` pieces at the separator line "\n--ldae-fuzz-part--\n" (seeds are made this way;
    /// a mutated input with fewer separators gives empty trailing parts).
    public static func split(_ data: Data, parts: Int) -> [Data] {
        let sep = Data("\n--ldae-fuzz-part--\n".utf8)
        var out: [Data] = []
        var rest = data[...]
        while out.count < parts - 1, let r = rest.range(of: sep) {
            out.append(Data(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(Data(rest))
        while out.count < parts { out.append(Data()) }
        return out
    }

    /// The model of the weights and checkpoint targets (and of their seeds): the smallest valid ViT, 4 x 4 images of
    /// 2 x 2 patches, widths 8, one block each side.
    public static var tinyModel: ModelConfig {
        var c = ModelConfig()
        c.imageSize = 4; c.patchSize = 2
        c.encoderWidth = 8; c.encoderDepth = 1; c.encoderHeads = 1
        c.decoderWidth = 8; c.decoderDepth = 1; c.decoderHeads = 1; c.mlpRatio = 1
        return c
    }

    /// Adds the file to an error that names none (the callers of `LDAEModel.load` and codecs do this: ZooModel,
    /// Trainer, LoadedTokenizer).
    public static func naming(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as LdaeError where e.file == nil { throw LdaeError(e.reason, file: path) }
    }
}
