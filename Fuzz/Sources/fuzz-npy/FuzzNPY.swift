// The .npy reader (Ldae/Formats/NPY.swift): the header alone (`NPY.header`, what `features-merge` and `probe`
// check first) and the whole array (`NPY.read`), on any bytes written as a file.
import Foundation
import FuzzSupport
import Ldae

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.write(Fuzz.bytes(data, size), to: "F.npy")
    Fuzz.expectNamedError {
        let h = try NPY.header(path)
        precondition(h.count == Checked.count(h.shape) && h.dataOffset >= 10, "header: inconsistent count or offset")
    }
    Fuzz.expectNamedError {
        let a = try NPY.read(path)
        precondition(a.values.count == Checked.count(a.shape), "array: values do not match the shape")
    }
    return 0
}

@_cdecl("fuzz_npy_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
