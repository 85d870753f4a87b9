/// Stochastic depth (Huang et al. 2016; timm's DropPath): in training, each image drops a block's attention branch
/// and, independently, its MLP branch with the block's probability p, and scales a kept branch by 1 / (1 - p).
/// Block i of L has p = rate * i / (L - 1) (timm's linspace(0, drop_path_rate, depth)). Inference keeps every branch.
///
/// The decisions of a global batch at step s are drawn from RNG(seed, stream: stream + s): for each block with p > 0,
/// for each image in batch order, the attention branch then the MLP branch, kept when uniform() >= p. So they are a
/// function of (seed, step) like the rest of a step, and an MPI rank takes its block of images (`slice`).
public struct DropPathMasks: Sendable, Equatable {
    /// [block][image] the scale of the block's attention branch: 0 (dropped) or 1 / (1 - p); 1 where p = 0.
    public var attn: [[Float]]
    /// [block][image] the same for the MLP branch.
    public var mlp: [[Float]]
    public static let stream: UInt64 = 0x4452_4F50_5041_5448

    public init(attn: [[Float]], mlp: [[Float]]) { self.attn = attn; self.mlp = mlp }

    /// The masks of a global batch of `batch` images at `step`.
    public static func draw(rates: [Double], batch: Int, seed: UInt64, step: Int) -> DropPathMasks {
        var rng = RNG(seed: seed, stream: stream &+ UInt64(step))
        var attn: [[Float]] = [], mlp: [[Float]] = []
        for p in rates {
            guard p > 0 else { attn.append([Float](repeating: 1, count: batch)); mlp.append([Float](repeating: 1, count: batch)); continue }
            let keep = Float(1 / (1 - p))
            var a = [Float](repeating: 0, count: batch), m = a
            for b in 0..<batch {
                a[b] = rng.uniform() >= p ? keep : 0
                m[b] = rng.uniform() >= p ? keep : 0
            }
            attn.append(a); mlp.append(m)
        }
        return DropPathMasks(attn: attn, mlp: mlp)
    }

    /// The masks of images `r` of the batch (an MPI rank's slice).
    public func slice(_ r: Range<Int>) -> DropPathMasks {
        DropPathMasks(attn: attn.map { Array($0[r]) }, mlp: mlp.map { Array($0[r]) })
    }
}
