// A fitted tokenizer file (the input is the file or an H5Layout of it; HDF5, format ldae-tokenizer: patch-ae,
// patch-vae, conv-vae) as `ldae-train --tokenizer-file` and the zoo read it: `TokenizerFile.load` (attributes,
// settings JSON, the weights' names JSON, geometry, every weight, latent variance, loss curve, Adam state),
// `LoadedTokenizer.load` against the file's own geometry, the objective's codec (`model(latentDim:)`: the registry
// builds the linear codec or the conv VAE from the weights, checking each name and shape), and, for small
// geometries, one image through encode and decode.
import Foundation
import FuzzSupport
import Ldae

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let path = Fuzz.hdf5(data, size, to: "tok.h5") else { return 0 }
    Fuzz.expectNamedError {
        let f = try TokenizerFile.load(path)
        let g = PatchGeometry(imageSize: f.imageSize, patchSize: f.patchSize, channels: f.channels)
        let t = try LoadedTokenizer.load(path, geometry: g)
        let m = try t.model(latentDim: f.latentDim)
        guard g.valuesPerImage <= 16_384, g.tokens * f.latentDim <= 16_384 else { return }
        let x = [Float](repeating: 0.25, count: g.valuesPerImage)
        var z = [Float](repeating: 0, count: g.tokens * f.latentDim), y = x
        switch m {
        case .pixel: break
        case .linear(let c):
            c.encode(x, count: g.tokens, into: &z)
            c.decode(z, count: g.tokens, into: &y)
        case .image(let c):
            c.encode(x, batch: 1, into: &z)
            c.decode(z, batch: 1, into: &y)
        }
    }
    return 0
}

@_cdecl("fuzz_tokenizer_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
