// `pca.h5` (HDF5, format ldae-pca; the input is the file or an H5Layout of it) as training and the zoo read it:
// `PCABasis.load` (format, version, the datasets' shapes against each other and the patch geometry, pixel scaling),
// then `LoadedTokenizer.load` (the same file as a tokenizer, checked against the shards' geometry) and its linear
// codec (top d components), one patch through it. The same bytes also go to `PCAPartialSums.load` (ldae-fit-pca
// --partial files, HDF5 as well).
import Foundation
import FuzzSupport
import Ldae

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let path = Fuzz.hdf5(data, size, to: "pca.h5") else { return 0 }
    Fuzz.expectNamedError {
        let b = try PCABasis.load(path)
        let g = PatchGeometry(imageSize: b.patchSize, patchSize: b.patchSize, channels: b.channels)
        let t = try LoadedTokenizer.load(path, geometry: g)
        let d = min(4, b.dim)
        guard case .linear(let codec) = try t.model(latentDim: d) else { fatalError("a PCA basis that is not linear") }
        guard b.dim <= 4096 else { return }
        let x = [Float](repeating: 0.5, count: b.dim)
        var z = [Float](repeating: 0, count: d), y = x
        codec.encode(x, count: 1, into: &z)
        codec.decode(z, count: 1, into: &y)
    }
    Fuzz.expectNamedError { _ = try PCAPartialSums.load(path) }
    return 0
}

@_cdecl("fuzz_pca_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
