import Foundation
import XCTest
@testable import Ldae

/// `--precision fp32|bf16|auto`: its resolution for a CPU with or without AVX512-BF16 (injected), the plan's kernel
/// choice, the command line's one error line, and the records of entries made before it existed.
final class PrecisionTests: XCTestCase {
    func testResolutionForACPUWithAndWithoutBF16() throws {
        XCTAssertEqual(try Precision.resolve(.fp32, bf16Supported: true), .fp32)
        XCTAssertEqual(try Precision.resolve(.fp32, bf16Supported: false), .fp32)
        XCTAssertEqual(try Precision.resolve(.auto, bf16Supported: true), .bf16)
        XCTAssertEqual(try Precision.resolve(.auto, bf16Supported: false), .fp32)
        XCTAssertEqual(try Precision.resolve(.bf16, bf16Supported: true), .bf16)
        XCTAssertThrowsError(try Precision.resolve(.bf16, bf16Supported: false)) { e in
            XCTAssertTrue(e is LdaeError, "\(type(of: e))")   // exit status 1, not a usage error
            let s = "\(e)"
            XCTAssertTrue(s.contains("--precision bf16") && s.contains("AVX512-BF16") && s.contains("--precision fp32"), s)
        }
        // the portable kernels never run bf16: auto is fp32 there, bf16 an error naming the flag
        XCTAssertEqual(try Precision.resolve(.auto, fastKernels: false), .fp32)
        XCTAssertThrowsError(try Precision.resolve(.bf16, fastKernels: false)) { XCTAssertTrue("\($0)".contains("--portable-kernels"), "\($0)") }
        XCTAssertEqual(try Precision.resolve(.auto, fastKernels: true), GEMMKernel.bf16.available ? .bf16 : .fp32)
        XCTAssertEqual(Precision.choices, "fp32|bf16|auto")
    }

    func testThePlanTakesTheBF16KernelOnlyWhereItRuns() {
        let bf = ExecutionPlan(precision: .bf16)
        XCTAssertEqual(bf.gemm == .bf16, GEMMKernel.bf16.available)
        XCTAssertEqual(bf.resolvedPrecision, GEMMKernel.bf16.available ? .bf16 : .fp32)   // what records hold: what ran
        XCTAssertNotEqual(ExecutionPlan(precision: .fp32).gemm, .bf16)
        XCTAssertEqual(ExecutionPlan(fastKernels: false, precision: .bf16).gemm, .portable)
        XCTAssertNotEqual(ExecutionPlan(precision: .auto).precision, .auto)                 // resolved at init
        XCTAssertEqual(ExecutionPlan(avx512: false).gemm, FastKernels.available ? .avx2 : .portable)
        XCTAssertEqual(ExecutionPlan.automatic.resolvedPrecision, .fp32)                    // the library's default
    }

    func testBF16WhereItCannotRunIsOneErrorLine() throws {
        guard FileManager.default.isExecutableFile(atPath: TestSupport.executable("ldae-train")) else { throw XCTSkip("build ldae-train first") }
        // on a CPU with AVX512-BF16, --portable-kernels is the configuration without the bf16 kernel
        let args = ["bench", "--precision", "bf16", "--steps", "1"] + (GEMMKernel.bf16.available ? ["--portable-kernels"] : [])
        let (st, out, err) = try TestSupport.run("ldae-train", args)
        XCTAssertEqual(st, 1, err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
        XCTAssertTrue(err.hasPrefix("ldae-train bench: error: --precision bf16 needs"), err)
        XCTAssertEqual(out, "", "nothing ran before the error")
        let (st2, _, err2) = try TestSupport.run("ldae-train", ["bench", "--precision", "fp16"])
        XCTAssertEqual(st2, 2); XCTAssertTrue(err2.contains("--precision must be one of fp32, bf16 or auto, got 'fp16'"), err2)
        let (hs, hout, _) = try TestSupport.run("ldae-train", ["--help"])
        XCTAssertEqual(hs, 0); XCTAssertTrue(hout.contains("--precision fp32|bf16|auto"), hout)
    }

    func testEntriesWithoutAPrecisionReadAsFP32() throws {
        // the committed zoo entries predate the field
        let path = TestSupport.repo + "/zoo/cifar10-ldae-vit96/v1/" + ZooStore.manifestFile
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertFalse(text.contains("\"precision\""))
        let m = try JSON.read(Manifest.self, path: path)
        XCTAssertNil(m.precision)
        XCTAssertEqual(m.computePrecision, .fp32)
        XCTAssertTrue(ModelCard.render(m, evals: []).contains("fp32 matrix products"))
        // and a new one round-trips its value; a word that is no precision is refused
        var n = m
        n.precision = .bf16
        let back = try JSON.decode(Manifest.self, from: try JSON.encode(n, pretty: false), file: "m")
        XCTAssertEqual(back.computePrecision, .bf16)
        let bad = String(decoding: try JSON.encode(n, pretty: false), as: UTF8.self).replacingOccurrences(of: "\"bf16\"", with: "\"bf8\"")
        XCTAssertThrowsError(try JSON.decode(Manifest.self, from: Data(bad.utf8), file: "m")) { XCTAssertTrue("\($0)".contains("bf8"), "\($0)") }
    }
}
