// The l-DAE network: a pre-norm ViT encoder (timm VisionTransformer layout, no class token, avg pooling) and an
// MAE-style transformer decoder. Parameters and gradients live in one flat allocation each, addressed by offset
// (llm.c style); forward/backward are in LDAEModel+Forward.swift / +Backward.swift, weights I/O in +IO.swift.
//
// Shapes (B batch, T tokens, D = p*p*3 token dim, W encoder width, V decoder width, N = B*T):
//   x [B, T, D] -> patch_embed [N, W] + pos_embed -> blocks (W) -> norm [N, W]            (forward_encoder)
//   -> decoder_embed [N, V] + decoder_pos_embed -> decoder_blocks (V) -> decoder_norm -> decoder_pred [N, D]
//                                                                                        (forward_decoder)

public final class LDAEModel {
    public let config: ModelConfig
    public let parameterCount: Int
    public let encoderParameterCount: Int
    public let params: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    /// Threads, kernels and chunking of every pass (`ExecutionPlan`).
    public let plan: ExecutionPlan

    public struct TensorInfo: Sendable {
        public let name: String
        /// Shape as stored in `params`. Same as the exported (timm) shape except patch_embed.proj.weight,
        /// stored [W, p*p*3] with (row, col, channel) columns and exported [W, 3, p, p].
        public let shape: [Int]
        public let offset: Int
        public let count: Int
        /// Weight decay applies (linear/conv weights only; no norms, biases, pos embeds).
        public let decay: Bool
        /// Part of the encoder (what timm loads) rather than the decoder.
        public let encoder: Bool
        /// False for the fixed sin-cos positional embeddings (their gradient stays zero).
        public let trainable: Bool
    }

    public private(set) var tensors: [TensorInfo]

    // MARK: layout

    struct LinearP { let w: Int; let b: Int; let inF: Int; let outF: Int }
    struct NormP { let w: Int; let b: Int; let c: Int }
    struct BlockP {
        let width: Int, heads: Int, hidden: Int
        let norm1: NormP, qkv: LinearP, proj: LinearP, norm2: NormP, fc1: LinearP, fc2: LinearP
        let ada: LinearP?   // adaLN_modulation.1: [6 width, W] on SiLU(c)
    }

    let T: Int, D: Int, W: Int, V: Int
    let adaln: Bool
    static let freqDim = 256

    let patchEmbed: LinearP
    let posEmbed: Int
    let blocks: [BlockP]
    let norm: NormP
    let tEmb1: LinearP?, tEmb2: LinearP?
    /// y_embedder.embedding_table [C + 1, W] (class conditioning; row C is the null label), nil without it.
    let yEmb: Int?
    /// Whether the timestep enters the conditioning (t_embedder); class conditioning alone has adaln without it.
    let timeEmbedded: Bool
    let decoderEmbed: LinearP
    let decoderPosEmbed: Int
    let decoderBlocks: [BlockP]
    let decoderNorm: NormP
    let decoderPred: LinearP

    public init(config: ModelConfig, seed: UInt64, plan: ExecutionPlan = .automatic) throws {
        try config.validate()
        self.config = config
        self.plan = plan
        inferArenas = (0..<plan.workers).map { _ in Arena() }
        T = config.tokens; D = config.tokenDim; W = config.encoderWidth; V = config.decoderWidth
        adaln = config.conditioned
        timeEmbedded = config.timeCond == .adaln
        var list: [TensorInfo] = []
        var off = 0
        var encoderPart = true
        func add(_ name: String, _ shape: [Int], decay: Bool, trainable: Bool = true) -> Int {
            let n = shape.reduce(1, *)
            list.append(TensorInfo(name: name, shape: shape, offset: off, count: n, decay: decay,
                                   encoder: encoderPart, trainable: trainable))
            off += n
            return off - n
        }
        func linear(_ name: String, _ inF: Int, _ outF: Int) -> LinearP {
            let w = add(name + ".weight", [outF, inF], decay: true)
            let b = add(name + ".bias", [outF], decay: false)
            return LinearP(w: w, b: b, inF: inF, outF: outF)
        }
        func layerNorm(_ name: String, _ c: Int) -> NormP {
            NormP(w: add(name + ".weight", [c], decay: false), b: add(name + ".bias", [c], decay: false), c: c)
        }
        let adaln = self.adaln, W = self.W, V = self.V, T = self.T, D = self.D
        func block(_ prefix: String, width: Int, heads: Int) -> BlockP {
            let hidden = width * config.mlpRatio
            return BlockP(width: width, heads: heads, hidden: hidden,
                          norm1: layerNorm(prefix + ".norm1", width),
                          qkv: linear(prefix + ".attn.qkv", width, 3 * width),
                          proj: linear(prefix + ".attn.proj", width, width),
                          norm2: layerNorm(prefix + ".norm2", width),
                          fc1: linear(prefix + ".mlp.fc1", width, hidden),
                          fc2: linear(prefix + ".mlp.fc2", hidden, width),
                          ada: adaln ? linear(prefix + ".adaLN_modulation.1", W, 6 * width) : nil)
        }
        let learned = config.posEmbed == .learned
        patchEmbed = linear("patch_embed.proj", D, W)
        posEmbed = add("pos_embed", [1, T, W], decay: false, trainable: learned)
        blocks = (0..<config.encoderDepth).map { block("blocks.\($0)", width: W, heads: config.encoderHeads) }
        norm = layerNorm("norm", W)
        if config.timeCond == .adaln {
            tEmb1 = linear("t_embedder.mlp.0", LDAEModel.freqDim, W)
            tEmb2 = linear("t_embedder.mlp.2", W, W)
        } else { tEmb1 = nil; tEmb2 = nil }
        if let c = config.numClasses {
            yEmb = add("y_embedder.embedding_table.weight", [c + 1, W], decay: false)
        } else { yEmb = nil }
        let encCount = off
        encoderPart = false
        decoderEmbed = linear("decoder_embed", W, V)
        decoderPosEmbed = add("decoder_pos_embed", [1, T, V], decay: false, trainable: learned)
        decoderBlocks = (0..<config.decoderDepth).map { block("decoder_blocks.\($0)", width: V, heads: config.decoderHeads) }
        decoderNorm = layerNorm("decoder_norm", V)
        decoderPred = linear("decoder_pred", V, D)
        tensors = list
        parameterCount = off
        encoderParameterCount = encCount
        params = LDAEModel.allocateAligned(off)
        grads = LDAEModel.allocateAligned(off)
        initialize(seed: seed)
    }

    /// A model with `other`'s configuration and current parameters that runs with another plan.
    public convenience init(copying other: LDAEModel, plan: ExecutionPlan) throws {
        try self.init(config: other.config, seed: 0, plan: plan)
        params.update(from: other.params, count: parameterCount)
    }

    /// Zeroed floats at a 64-byte (cache-line) boundary (a plain allocate returns page + 16 bytes for large sizes), so
    /// that the arenas' 16-float offsets start every buffer on a cache line. Free with `deallocateAligned`.
    package static func allocateAligned(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
        let f = p.bindMemory(to: Float.self, capacity: max(1, count))
        f.initialize(repeating: 0, count: count)
        return f
    }

    package static func deallocateAligned(_ p: UnsafeMutablePointer<Float>?) {
        if let p { UnsafeMutableRawPointer(p).deallocate() }
    }

    deinit {
        LDAEModel.deallocateAligned(params); LDAEModel.deallocateAligned(grads)
        train.free(); inferArenas.forEach { $0.free() }
        LDAEModel.deallocateAligned(workerGrads)
    }

    /// MAE init: xavier_uniform linears (patch_embed on its flattened [W, D] weight), zero biases, LayerNorm 1/0,
    /// fixed 2-D sin-cos pos embeds (or trunc-normal std 0.02 when learned). adaLN (DiT): t_embedder normal(0.02),
    /// adaLN_modulation zero.
    func initialize(seed: UInt64) {
        var rng = RNG(seed: seed)
        for info in tensors {
            let p = params + info.offset
            let n = info.name
            if n.hasSuffix(".bias") { p.update(repeating: 0, count: info.count); continue }
            if n.hasPrefix("norm") || n.contains(".norm") || n.hasPrefix("decoder_norm") {
                p.update(repeating: 1, count: info.count); continue
            }
            if n == "pos_embed" || n == "decoder_pos_embed" {
                let width = info.shape[2]
                if config.posEmbed == .sincos {
                    let pe = SinCosPosEmbed.make(dim: width, grid: config.grid)
                    pe.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: pe.count) }
                } else {
                    for i in 0..<info.count {
                        var v = rng.normal()
                        while abs(v) > 2 { v = rng.normal() }
                        p[i] = Float(0.02 * v)
                    }
                }
                continue
            }
            if n.contains("adaLN_modulation") { p.update(repeating: 0, count: info.count); continue }
            if n.hasPrefix("t_embedder") || n.hasPrefix("y_embedder") {
                for i in 0..<info.count { p[i] = Float(0.02 * rng.normal()) }
                continue
            }
            // linear weight [out, in]: xavier uniform
            let fanOut = info.shape[0], fanIn = info.shape[1]
            let bound = (6.0 / Double(fanIn + fanOut)).squareRoot()
            for i in 0..<info.count { p[i] = Float((rng.uniform() * 2 - 1) * bound) }
        }
    }

    public func zeroGrad() { grads.update(repeating: 0, count: parameterCount) }

    // MARK: activations (LDAEModel+Activations.swift; grown on demand)

    /// The training forward's saved activations.
    let train = Arena()
    /// Inference buffers, one arena per thread (each runs whole chunks of the batch: `inferenceShares`).
    let inferArenas: [Arena]
    var acts: TrainActs? = nil
    /// The batch `acts` was carved for.
    var trainBatch = 0
    var lastBatch = 0
    var hasForward = false
    /// `backward`: the parameter gradients of cores 1..<workers, then of the tail's chunks
    /// ([workerGradsCount][parameterCount]), summed into grads.
    var workerGrads: UnsafeMutablePointer<Float>? = nil
    var workerGradsCount = 0
    /// The token linears' weights packed by `packWeights` (for the forward) and `packBackwardWeights` (for the
    /// input gradients).
    let forwardPacks = PackedLinearWeights(transposed: true)
    let backwardPacks = PackedLinearWeights(transposed: false)

    // MARK: FLOPs

    /// Multiply-add FLOPs (2 per MAC) of one forward pass at batch B (linears + attention matmuls).
    public func forwardFlops(batch: Int) -> Double {
        let n = Double(batch * T)
        var f = 2 * n * Double(D * W) + 2 * n * Double(W * V) + 2 * n * Double(V * D)
        for bp in blocks + decoderBlocks {
            let c = Double(bp.width), h = Double(bp.hidden)
            f += 2 * n * (3 * c * c + c * c + 2 * c * h)
            f += 2 * 2 * Double(batch) * Double(T * T) * c   // QK^T and AV over all heads
            if adaln { f += 2 * Double(batch) * Double(W) * 6 * c }
        }
        if adaln { f += 2 * Double(batch) * Double(LDAEModel.freqDim * W + W * W) }
        return f
    }

    /// FLOPs of one training step (forward + backward; backward = 2x forward, minus the input gradient of
    /// patch_embed, which is not needed).
    public func trainingFlops(batch: Int) -> Double {
        3 * forwardFlops(batch: batch) - 2 * Double(batch * T) * Double(D * W)
    }
}
