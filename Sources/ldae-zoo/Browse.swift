import Foundation
import Ldae

/// `ldae-zoo list [NAME] [--json]`.
func runList(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo"], flags: ["json"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count <= 1 else { throw UsageError("list takes at most one NAME") }
    let store = zooStore(a)
    let entries = ZooListing.entries(store, name: a.positionals.first)
    if a.flag("json") {
        var d = try JSON.encode(entries)
        d.append(0x0A)
        FileHandle.standardOutput.write(d)
    } else {
        print("zoo: \(store.root)")
        print(ZooListing.render(entries))
    }
}

/// `ldae-zoo show NAME[@vN]` (manifest, evaluations, damage) and `ldae-zoo verify NAME[@vN]` (exit 1 when damaged).
func runShow(_ argv: [String], verify: Bool) throws {
    let a = try Arguments(argv, options: ["zoo"], flags: [])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count == 1 else { throw UsageError("\(verify ? "verify" : "show") takes one NAME[@vN]") }
    let store = zooStore(a)
    let ref = a.positionals[0]
    if verify {
        let (m, dir) = try store.load(ref, verify: true)
        print("ok: \(m.name)@\(m.version): sha256 of \(m.files.count) files verified (\(dir))")
        return
    }
    let (m, dir) = try store.load(ref, verify: false)
    var damage: String? = nil
    do { _ = try store.load("\(m.name)@\(m.version)", verify: true) } catch { damage = "\(error)" }
    print(ZooListing.show(m, dir: dir, verified: damage))
    if m.isClassifier { print(ClassifierInfo.show(m, dir: dir)) }
}

/// `ldae-zoo export NAME[@vN] --out DIR [--force]`: a timm / Hugging Face folder.
func runExport(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo", "out"], flags: ["force"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count == 1 else { throw UsageError("export takes one NAME[@vN]") }
    guard let out = a.string("out") else { throw UsageError("export needs --out DIR") }
    let store = zooStore(a)
    let (name, v) = try store.resolveRef(a.positionals[0])
    let r = try ZooExport.export(store: store, ref: "\(name)@v\(v)", out: out, overwrite: a.flag("force"))
    print("exported \(name)@v\(v) to \(out): \(r.files.joined(separator: ", ")) (\(r.tensors) encoder tensors)")
    print("timm: timm.create_model('\(ZooExport.timmArchitecture)', pretrained=True, pretrained_cfg_overlay=dict(file='\(out)/model.safetensors'), **model_args from config.json)")
}

/// `ldae-zoo card NAME[@vN]`: (re)writes and prints the model card.
func runCard(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo"], flags: [])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count == 1 else { throw UsageError("card takes one NAME[@vN]") }
    let store = zooStore(a)
    let (_, dir) = try store.load(a.positionals[0], verify: true)
    try store.withEntryLock(dir) { try ModelCard.write(dir: dir) }
    print(String(decoding: try FileUtil.read(dir + "/" + ModelCard.fileName), as: UTF8.self), terminator: "")
}

/// `ldae-zoo recommend NAME@vN --layers L,...`: the features `features` and `eval` use by default.
func runRecommend(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo", "layers", "layer", "why", "pooling"], flags: ["flip-tta"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count == 1, a.positionals[0].contains("@") else { throw UsageError("recommend takes one NAME@vN") }
    let store = zooStore(a)
    let (m, _) = try store.load(a.positionals[0], verify: true)
    guard let layers = try layerList(a, m.model) else { throw UsageError("recommend needs --layers L,...") }
    let spec = Manifest.FeatureSpec(layers: layers, pooling: try a.choice("pooling", default: FeaturePooling.mean),
                                    flipTTA: a.flag("flip-tta"), chosenBy: a.string("why") ?? "")
    try store.setFeatures(a.positionals[0], spec)
    print("\(m.name)@\(m.version): features = token mean of layers \(layers.map(\.description).joined(separator: ",")) (\(spec.pooling.rawValue) pooling, \(spec.pooling.width(of: layers, config: m.model)) values)")
}
