import Foundation

/// The labels a class-conditioned run (model `num_classes`) feeds the model: each training image's label from the
/// shards, replaced by the null label C with probability `class_dropout` (DiT's label dropout), drawn per image of
/// the global batch from RNG(seed, stream: labelStream + step), so they are a function of (seed, step) like the
/// noise and do not depend on how many ranks share the batch. Only the training images' labels are ever read: the
/// held-out validation split's are never looked at.
public struct ClassLabels: Sendable {
    public let classes: Int
    public let dropout: Double
    public let seed: UInt64
    /// Labels of every image of the shard set (-1 where unlabelled; such images are refused before training).
    let labels: [Int32]
    static let labelStream: UInt64 = 0x4C41_4245_4C00_0000

    /// Checks that the shards are labelled with exactly `classes` classes; every training image's label is in range.
    public init(shards: ShardSet, trainIndices: [Int], classes: Int, config: TrainConfig) throws {
        guard shards.labeled, !shards.classNames.isEmpty else {
            throw LdaeError("class conditioning (--class-cond) needs labelled shards (ldae-prep of a class-folder layout); these have no class names", file: shards.sources[0])
        }
        guard shards.classNames.count == classes else {
            throw LdaeError("the model has num_classes \(classes) but the shards have \(shards.classNames.count) classes", file: shards.sources[0])
        }
        let all = try shards.allLabels()
        for i in trainIndices where all[i] < 0 || Int(all[i]) >= classes {
            let (s, row) = shards.locate(i)
            throw LdaeError("image \(row) has label \(all[i]), outside 0..<\(classes) (class conditioning needs every training image labelled)", file: shards.shards[s].path)
        }
        self.classes = classes; dropout = config.labelDropout; seed = config.seed; labels = all
    }

    /// The labels of the global batch `indices` (the loader's order) at `step`, null (= classes) where dropped.
    public func batch(_ indices: [Int], step: Int) -> [Int32] {
        var rng = RNG(seed: seed, stream: ClassLabels.labelStream &+ UInt64(step))
        return indices.map { i in rng.uniform() < dropout ? Int32(classes) : labels[i] }
    }
}
