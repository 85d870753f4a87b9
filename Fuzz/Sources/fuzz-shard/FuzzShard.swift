// A shard file (HDF5, format ldae-shard; the input is the file or an H5Layout of it) read as training, features and
// PCA read it: `ShardSet` opens the folder (index.json), checks the file against its index (size, sha256, format
// attributes, geometry), then reads `patches` and `labels` (whole shard, row ranges, all labels). The input is the
// shard; its index.json is written to agree with it (geometry attributes and the first dimension of `patches` read
// from the file where they can be, its size and sha256), so that the reader gets past the index's checks into the
// datasets (index.json itself is fuzzed by fuzz-json).
import Foundation
import FuzzSupport
import Ldae

let dir = Fuzz.path("shards")
let file = ShardFormat.fileName(0)
let made: Void = { try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }()

/// What the shard says of itself, as far as it can be read (defaults otherwise).
func describe(_ path: String) -> (geometry: PatchGeometry, count: Int) {
    var g = PatchGeometry(imageSize: 8, patchSize: 4, channels: 3), n = 2
    guard let f = try? H5File.open(path) else { return (g, n) }
    defer { try? f.close() }
    if let v = (try? f.intAttribute("image_size")) ?? nil { g.imageSize = v }
    if let v = (try? f.intAttribute("patch_size")) ?? nil { g.patchSize = v }
    if let v = (try? f.intAttribute("channels")) ?? nil { g.channels = v }
    if let d = try? f.dataset(ShardFormat.patches), let rows = d.shape.first { n = rows }
    return (g, n)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = made
    guard let path = Fuzz.hdf5(data, size, to: "shards/" + file) else { return 0 }
    let (g, n) = describe(path)
    let sha = (try? SHA256.hex(file: path)) ?? ""
    let index = ShardIndex(imageSize: g.imageSize, patchSize: g.patchSize, channels: g.channels, resize: "crop",
                           labeled: false, classNames: [], shards: [.init(file: file, count: n, sha256: sha, bytes: FileUtil.size(path))],
                           settings: [:], skippedCounts: [:], skipped: [])
    Fuzz.write(try! JSON.encode(index), to: "shards/" + ShardFormat.indexFile)
    Fuzz.expectNamedError {
        let set = try ShardSet(dir)
        let (p, l) = try set.read(shard: 0)
        precondition(p.count == set.shards[0].count * set.geometry.valuesPerImage && l.count == set.shards[0].count,
                     "read returned the wrong sizes")
        if set.count > 1 { _ = try set.read(shard: 0, rows: 1..<set.count) }
        _ = try set.allLabels()
        try set.forEachBatch(3) { _, _, _ in }
    }
    return 0
}

@_cdecl("fuzz_shard_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
