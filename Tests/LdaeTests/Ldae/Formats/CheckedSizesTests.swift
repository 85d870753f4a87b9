import Foundation
import XCTest
@testable import Ldae

/// Sizes read from files are checked before anything is allocated or read, with overflow reported (the library is
/// built with -Ounchecked in release, where Swift's own overflow and bounds traps are gone).
final class CheckedSizesTests: XCTestCase {
    /// A safetensors header whose offsets wrap around, or whose shape overflows, is an error naming the file.
    func testSafetensorsWithImpossibleOffsetsOrShapesIsRefused() throws {
        let dir = TestSupport.tempDir()
        func file(_ header: String, data: Int) throws -> String {
            var d = Data()
            var n = UInt64(header.utf8.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(header.utf8))
            d.append(Data(count: data))
            let p = dir + "/t\(header.hashValue & 0xFFFF).safetensors"
            try d.write(to: URL(fileURLWithPath: p))
            return p
        }
        let big = Int.max - 3
        for (h, why) in [(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[\#(big - 4),\#(big)]}}"#, "out of bounds"),
                         (#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#, "impossible shape"),
                         (#"{"a":{"dtype":"F32","shape":[-1,-4],"data_offsets":[0,16]}}"#, "impossible shape"),
                         (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, "out of bounds")] {
            let p = try file(h, data: 16)
            XCTAssertThrowsError(try Safetensors.read(p), h) { XCTAssertTrue("\($0)".contains(why) && "\($0)".contains(p), "\($0)") }
        }
    }

    func testNPYWithAnImpossibleShapeIsRefused() throws {
        let dir = TestSupport.tempDir()
        for (shape, why) in [("(4294967296, 4294967296)", "impossible shape"), ("(-2, -2)", "impossible shape"), ("(1000,)", "truncated")] {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
            d.append(contentsOf: Array(header.utf8))
            d.append(Data(count: 16))
            let p = dir + "/x.npy"
            try d.write(to: URL(fileURLWithPath: p))
            XCTAssertThrowsError(try NPY.read(p), shape) { XCTAssertTrue("\($0)".contains(why), "\($0)") }
        }
    }
}
