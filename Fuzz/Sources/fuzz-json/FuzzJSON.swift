// The JSON documents users copy with shard folders and zoo entries, through the library's own loaders:
//   part 1  index.json      ShardIndex.load (format, version, JSON.decode) and ShardSet (the shards it lists,
//                           counts, geometry)
//   part 2  manifest.json   ZooStore.load (JSON.decode, format, version, the files it lists), what ZooModel checks
//                           next (the model config), the model card and `ldae-zoo show`/`list`
//   part 3  evals.jsonl     EvalRecord.readAll (lenient: lines that do not decode are counted) in the card and list
// The input is split into the three files at the line "--ldae-fuzz-part--" (Fuzz.split); an input without one is
// an index.json alone.
import Foundation
import FuzzSupport
import Ldae

let shards = Fuzz.path("shards")
let zoo = Fuzz.path("zoo")
let entry = zoo + "/m/v1"
let made: Void = {
    try! FileManager.default.createDirectory(atPath: shards, withIntermediateDirectories: true)
    try! FileManager.default.createDirectory(atPath: entry, withIntermediateDirectories: true)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = made
    let parts = Fuzz.split(Data(bytes: data, count: size), parts: 3)
    Fuzz.write(parts[0], to: "shards/" + ShardFormat.indexFile)
    Fuzz.write(parts[1], to: "zoo/m/v1/" + ZooStore.manifestFile)
    Fuzz.write(parts[2], to: "zoo/m/v1/" + ZooStore.evalsFile)
    Fuzz.expectNamedError {
        let (idx, _, _) = try ShardIndex.load(shards)
        _ = idx.geometry.valuesPerImage
        let set = try ShardSet(shards)
        precondition(set.count == set.shards.reduce(0) { $0 + $1.count }, "shard counts do not add up")
    }
    let store = ZooStore(root: zoo)
    Fuzz.expectNamedError {
        let (m, dir) = try store.load("m", verify: true)
        let path = dir + "/" + ZooStore.manifestFile
        // ZooModel's check before it builds the model
        try Fuzz.naming(path) { try m.model.validate() }
        let evals = EvalRecord.readAll(dir + "/" + ZooStore.evalsFile)
        _ = ModelCard.render(m, evals: evals.records)
        _ = ZooListing.show(m, dir: dir, verified: nil)
    }
    _ = ZooListing.render(ZooListing.entries(store, verify: true))
    return 0
}

@_cdecl("fuzz_json_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
