// The image glue (Sources/CCodecs jpeg.c and png.c through System/Codecs.swift, and Images/ImageProcessor.swift) as
// `ldae-prep` runs it on one file, with the production limits (`ImageProcessor.Settings`' default --max-pixels):
// the bounded read (magic bytes, a PNG's IHDR or a JPEG's SOF found by walking its segments, the read limit), the
// size checks before decoding, JPEG (RGB, gray, CMYK/YCCK, Adobe inversion, reduced DCT scale, EXIF orientation,
// truncation), PNG (palette, tRNS, 1-16 bits, interlace, alpha on the background, gAMA), orientation, resize and
// patchify. A bad file must come back as a SkipReason (prep counts it and goes on); nothing else may escape.
// The input's length picks the variant: odd lengths take --png-gamma srgb and --resize stretch.
import Foundation
import FuzzSupport
import Ldae

let geometry = PatchGeometry(imageSize: 32, patchSize: 4)
nonisolated(unsafe) let processors: [ImageProcessor] = [false, true].map { variant in
    var s = ImageProcessor.Settings(geometry: geometry, policy: variant ? .stretch : .crop)
    s.pngGamma = variant ? .srgb : .ignore
    return ImageProcessor(s)
}
nonisolated(unsafe) let out = UnsafeMutablePointer<UInt8>.allocate(capacity: geometry.valuesPerImage)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.write(Fuzz.bytes(data, size), to: "image")
    do {
        _ = try processors[size % 2].process(path: path, into: out)
    } catch is SkipReason {
    } catch {
        fatalError("fuzz finding: ImageProcessor threw \(type(of: error)), not a SkipReason: \(error)")
    }
    return 0
}

@_cdecl("fuzz_image_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
