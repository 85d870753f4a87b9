import Foundation

extension ZooStore {
    /// Records the entry's recommended features in its manifest (atomically; the manifest is not among the hashed
    /// files, so the entry still verifies). `ref` is NAME@vN: a recommendation belongs to one trained version.
    public func setFeatures(_ ref: String, _ spec: Manifest.FeatureSpec) throws {
        var (m, dir) = try load(ref, verify: true)
        m.features = spec
        try JSON.write(m, to: dir + "/" + ZooStore.manifestFile)
        try ModelCard.write(dir: dir)
    }
}
