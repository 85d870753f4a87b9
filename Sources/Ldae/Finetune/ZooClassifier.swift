import Foundation

/// A classifier entry loaded for inference: manifest (verified: sha256 of every file), its `classifier` section and
/// the `Classifier` with its weights.
public final class ZooClassifier {
    public let ref: String            // "NAME@vN"
    public let manifest: Manifest
    public let info: ClassifierInfo
    public let dir: String
    public let classifier: Classifier

    /// Loads and verifies `ref`; an entry that is not a classifier, or whose weights do not fit its manifest, is one
    /// error naming the file.
    public init(store: ZooStore, ref: String, command: String, plan: ExecutionPlan = .automatic) throws {
        let (m, dir) = try store.load(ref, verify: true)
        self.manifest = m; self.dir = dir; self.ref = "\(m.name)@\(m.version)"
        let mpath = dir + "/" + ZooStore.manifestFile
        do { info = try m.requireClassifier(command) } catch let e as LdaeError { throw LdaeError(e.reason, file: mpath) }
        guard info.classNames.count == info.head.classes else {
            throw LdaeError("damaged classifier entry: \(info.classNames.count) label names for a head of \(info.head.classes) classes", file: mpath)
        }
        do { classifier = try Classifier(config: m.model, spec: info.head, plan: plan) } catch let e as LdaeError { throw LdaeError(e.reason, file: mpath) }
        let wpath = dir + "/" + ZooStore.weightsFile
        let (tensors, _, _) = try Safetensors.read(wpath)
        do { try classifier.load(tensors, head: true) } catch let e as LdaeError { throw LdaeError(e.reason, file: wpath) }
    }

    /// Logits [n, C] of pixel-scaled patchified images x [n, T, D].
    public func logits(_ x: UnsafePointer<Float>, batch n: Int, out: UnsafeMutablePointer<Float>) {
        classifier.logits(x, batch: n, out: out)
    }
}

/// Softmax of a row of logits, in Double.
public func softmax(_ z: UnsafePointer<Float>, count C: Int) -> [Double] {
    var m = -Double.infinity
    for c in 0..<C { m = max(m, Double(z[c])) }
    var p = (0..<C).map { Foundation.exp(Double(z[$0]) - m) }
    let s = p.reduce(0, +)
    for c in 0..<C { p[c] /= s }
    return p
}
