import Foundation

extension ZooStore {
    /// Records the entry's recommended features in its manifest (atomically; the manifest is not among the hashed
    /// files, so the entry still verifies). `ref` is NAME@vN: a recommendation belongs to one trained version.
    public func setFeatures(_ ref: String, _ spec: Manifest.FeatureSpec) throws {
        let dir = try load(ref, verify: true).1
        try withEntryLock(dir) {
            var m = try load(ref, verify: false).0   // re-read under the lock
            m.features = spec
            try JSON.write(m, to: dir + "/" + ZooStore.manifestFile)
            try ModelCard.write(dir: dir)
        }
    }
}
