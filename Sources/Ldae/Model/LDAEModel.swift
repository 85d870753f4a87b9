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
    let decoderEmbed: LinearP
    let decoderPosEmbed: Int
    let decoderBlocks: [BlockP]
    let decoderNorm: NormP
    let decoderPred: LinearP

    public init(config: ModelConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        T = config.tokens; D = config.tokenDim; W = config.encoderWidth; V = config.decoderWidth
        adaln = config.timeCond == .adaln
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
        if adaln {
            tEmb1 = linear("t_embedder.mlp.0", LDAEModel.freqDim, W)
            tEmb2 = linear("t_embedder.mlp.2", W, W)
        } else { tEmb1 = nil; tEmb2 = nil }
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

    /// Zeroed floats at a 64-byte (cache-line) boundary: with the arena's 16-float offsets every activation row of
    /// width 16k then starts on a cache line, so the 32-byte AVX loads and stores of the kernels never straddle two
    /// (a plain allocate returns page + 16 bytes for large sizes). Free with `deallocateAligned`.
    static func allocateAligned(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
        let f = p.bindMemory(to: Float.self, capacity: max(1, count))
        f.initialize(repeating: 0, count: count)
        return f
    }

    static func deallocateAligned(_ p: UnsafeMutablePointer<Float>?) {
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
            if n.hasPrefix("t_embedder") {
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

    // MARK: activations (grown on demand; one arena for training, one for inference)

    final class Arena {
        var base: UnsafeMutablePointer<Float>? = nil
        var capacity = 0
        var batch = 0
        var used = 0
        func reset(total: Int) {
            if total > capacity {
                LDAEModel.deallocateAligned(base)
                base = LDAEModel.allocateAligned(total)
                capacity = total
            }
            used = 0
        }
        func take(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = base! + used
            used += (n + 15) & ~15
            return p
        }
        func free() { LDAEModel.deallocateAligned(base); base = nil; capacity = 0 }
    }

    /// Saved activations of one block (training) or shared scratch (inference).
    struct BlockActs {
        var xIn: UnsafeMutablePointer<Float>      // [N, C] block input (residual stream)
        var xMid: UnsafeMutablePointer<Float>     // [N, C] after the attention residual
        var xOut: UnsafeMutablePointer<Float>     // [N, C] block output
        var mean1, rstd1, mean2, rstd2: UnsafeMutablePointer<Float>   // [N]
        var qkv: UnsafeMutablePointer<Float>      // [N, 3C]
        var att: UnsafeMutablePointer<Float>?     // [B, H, T, T] softmax probabilities (nil: not kept)
        var attOut: UnsafeMutablePointer<Float>   // [N, C] attention output before proj
        var fc1: UnsafeMutablePointer<Float>      // [N, Hd] before GELU
        var mod: UnsafeMutablePointer<Float>?     // [B, 6C] adaLN shift/scale/gate (msa, mlp)
        var branch: UnsafeMutablePointer<Float>?  // adaLN: [N, C] proj output (attn branch) before the gate
        var branch2: UnsafeMutablePointer<Float>? // adaLN: [N, C] fc2 output (mlp branch) before the gate

        /// The same buffers from image b0 on (every pointer advanced by b0 images of this block's widths): the view a
        /// forward chunk of images [b0, b0 + nb) works in.
        func images(from b0: Int, _ bp: BlockP, tokens T: Int) -> BlockActs {
            let r = b0 * T, c = bp.width
            return BlockActs(xIn: xIn + r * c, xMid: xMid + r * c, xOut: xOut + r * c,
                             mean1: mean1 + r, rstd1: rstd1 + r, mean2: mean2 + r, rstd2: rstd2 + r,
                             qkv: qkv + r * 3 * c, att: att.map { $0 + b0 * bp.heads * T * T }, attOut: attOut + r * c,
                             fc1: fc1 + r * bp.hidden, mod: mod.map { $0 + b0 * 6 * c },
                             branch: branch.map { $0 + r * c }, branch2: branch2.map { $0 + r * c })
        }
    }

    struct Scratch {
        var ln: UnsafeMutablePointer<Float>       // [N, Cmax] LayerNorm output
        var gelu: UnsafeMutablePointer<Float>     // [N, Hmax] GELU output
        var small: UnsafeMutablePointer<Float>    // [N, Cmax]
        var small2: UnsafeMutablePointer<Float>   // [N, Cmax]
        var big: UnsafeMutablePointer<Float>      // [N, max(Hmax, 3 Cmax)]
        var dresDec: UnsafeMutablePointer<Float>  // [N, V]
        var dresEnc: UnsafeMutablePointer<Float>  // [N, W]
        var dmod: UnsafeMutablePointer<Float>     // [B, 6 Cmax]
    }

    struct Cond { var freq, h1, s1, c, cs, dcs: UnsafeMutablePointer<Float> }

    func takeCond(_ a: Arena, batch: Int) -> Cond {
        Cond(freq: a.take(batch * LDAEModel.freqDim), h1: a.take(batch * W), s1: a.take(batch * W),
             c: a.take(batch * W), cs: a.take(batch * W), dcs: a.take(batch * W))
    }

    struct TrainActs {
        var x: UnsafeMutablePointer<Float>        // [N, D] copy of the input
        var t: UnsafeMutablePointer<Float>        // [B]
        var enc: [BlockActs]
        var encOut: UnsafeMutablePointer<Float>   // [N, W] residual stream after the last encoder block
        var encNorm: UnsafeMutablePointer<Float>  // [N, W] after `norm`
        var encMean, encRstd: UnsafeMutablePointer<Float>
        var dec: [BlockActs]
        var decOut: UnsafeMutablePointer<Float>   // [N, V]
        var decNorm: UnsafeMutablePointer<Float>  // [N, V]
        var decMean, decRstd: UnsafeMutablePointer<Float>
        var out: UnsafeMutablePointer<Float>      // [N, D] x0_hat
        // adaLN conditioning: freq [B, 256], h1 = mlp.0 [B, W], s1 = SiLU(h1), c = mlp.2 [B, W], cs = SiLU(c) [B, W],
        // dcs = dL/dcs [B, W]
        var cond: Cond
        var s: Scratch
    }

    let train = Arena()
    /// Inference buffers, one arena per core (each core runs whole chunks of the batch: `inferenceShares`).
    let inferArenas: [Arena] = (0..<Parallel.workers).map { _ in Arena() }
    /// Tokens per chunk of the forward (training and inference) and of the backward: the batch is cut into chunks of
    /// about this many tokens (at least one image); each core runs the whole network on a chunk at a time with the
    /// kernels serial inside, so the chunk's activations stay in its caches from layer to layer and there is no
    /// barrier per layer (the forward hands chunks out as cores free up, smaller ones at the end; the backward gives
    /// each core a fixed share, then hands out a tail of small chunks: `ChunkPlan`, `backward`). At 1024 tokens the
    /// largest buffer (the tiny config's MLP hidden layer, 1024 x 768 floats) is 3 MB. In `ldae-train bench --kernels`,
    /// against the whole batch layer by layer: features 0-9% faster (128 tokens: 10% slower), the training forward
    /// 1.03-1.18x, the backward 1.09-1.39x. 0 or less: the whole batch layer by layer, each kernel split over the cores.
    public var chunkTokens = 1024
    /// The forward's last chunks shrink down to this many tokens (`ChunkPlan.guided`); chunkTokens or more: equal
    /// chunks throughout.
    public var minChunkTokens = 256
    /// `backward`: the parameter gradients of cores 1..<workers, then of the tail's chunks
    /// ([workerGradsCount][parameterCount]), summed into grads.
    var workerGrads: UnsafeMutablePointer<Float>? = nil
    var workerGradsCount = 0
    /// At most this many tail chunks in the chunked backward (`ChunkPlan.backward`), each with a gradient buffer of
    /// its own (parameterCount floats: 25 MB for the tiny config). 0: fixed shares only.
    public var backwardTailChunks = 4
    /// The token linears' weights packed by `packWeights` (for the forward) and `packBackwardWeights` (for the
    /// input gradients).
    let forwardPacks = PackedLinearWeights(transposed: true)
    let backwardPacks = PackedLinearWeights(transposed: false)
    var acts: TrainActs? = nil
    var lastBatch = 0
    var hasForward = false

    var cmax: Int { max(W, V) }
    var hmax: Int { cmax * config.mlpRatio }

    func makeScratch(_ a: Arena, batch: Int) -> Scratch {
        let n = batch * T
        return Scratch(ln: a.take(n * cmax), gelu: a.take(n * hmax), small: a.take(n * cmax), small2: a.take(n * cmax),
                       big: a.take(n * max(hmax, 3 * cmax)), dresDec: a.take(n * V), dresEnc: a.take(n * W),
                       dmod: a.take(batch * 6 * cmax))
    }

    func scratchSize(batch: Int) -> Int {
        let n = batch * T
        return 16 * 8 + n * cmax * 3 + n * hmax + n * max(hmax, 3 * cmax) + n * (V + W) + batch * 6 * cmax
    }

    func blockActsSize(_ bp: BlockP, batch: Int) -> Int {
        let n = batch * T, c = bp.width
        var s = n * c * 3 + 4 * n + n * 3 * c + batch * bp.heads * T * T + n * c + n * bp.hidden + 16 * 12
        if adaln { s += batch * 6 * c + 2 * n * c }
        return s
    }

    func takeBlockActs(_ a: Arena, _ bp: BlockP, batch: Int, xIn: UnsafeMutablePointer<Float>) -> BlockActs {
        let n = batch * T, c = bp.width
        return BlockActs(xIn: xIn, xMid: a.take(n * c), xOut: a.take(n * c),
                         mean1: a.take(n), rstd1: a.take(n), mean2: a.take(n), rstd2: a.take(n),
                         qkv: a.take(n * 3 * c), att: a.take(batch * bp.heads * T * T), attOut: a.take(n * c),
                         fc1: a.take(n * bp.hidden),
                         mod: adaln ? a.take(batch * 6 * c) : nil,
                         branch: adaln ? a.take(n * c) : nil, branch2: adaln ? a.take(n * c) : nil)
    }

    /// The training buffers from image b0 on (see `BlockActs.images`); the scratch rows at the widest layer's stride.
    func images(from b0: Int, of a: TrainActs) -> TrainActs {
        let r = b0 * T, f = LDAEModel.freqDim, s = a.s
        return TrainActs(
            x: a.x + r * D, t: a.t + b0,
            enc: zip(a.enc, blocks).map { $0.images(from: b0, $1, tokens: T) },
            encOut: a.encOut + r * W, encNorm: a.encNorm + r * W, encMean: a.encMean + r, encRstd: a.encRstd + r,
            dec: zip(a.dec, decoderBlocks).map { $0.images(from: b0, $1, tokens: T) },
            decOut: a.decOut + r * V, decNorm: a.decNorm + r * V, decMean: a.decMean + r, decRstd: a.decRstd + r,
            out: a.out + r * D,
            cond: Cond(freq: a.cond.freq + b0 * f, h1: a.cond.h1 + b0 * W, s1: a.cond.s1 + b0 * W, c: a.cond.c + b0 * W,
                       cs: a.cond.cs + b0 * W, dcs: a.cond.dcs + b0 * W),
            s: Scratch(ln: s.ln + r * cmax, gelu: s.gelu + r * hmax, small: s.small + r * cmax, small2: s.small2 + r * cmax,
                       big: s.big + r * max(hmax, 3 * cmax), dresDec: s.dresDec + r * V, dresEnc: s.dresEnc + r * W,
                       dmod: s.dmod + b0 * 6 * cmax))
    }

    func ensureTraining(batch: Int) -> TrainActs {
        if let a = acts, train.batch == batch { return a }
        let n = batch * T
        var total = scratchSize(batch: batch) + n * D * 2 + batch + 16 * 20
        total += n * W * 2 + n * 2 + n * V * 2 + n * 2 + n * W
        total += batch * (LDAEModel.freqDim + 5 * W)
        for bp in blocks + decoderBlocks { total += blockActsSize(bp, batch: batch) }
        total += n * V
        train.reset(total: total)
        train.batch = batch
        let x = train.take(n * D), t = train.take(batch)
        let embed = train.take(n * W)
        var enc: [BlockActs] = []
        var cur = embed
        for bp in blocks { let ba = takeBlockActs(train, bp, batch: batch, xIn: cur); enc.append(ba); cur = ba.xOut }
        let encOut = cur
        let encNorm = train.take(n * W), encMean = train.take(n), encRstd = train.take(n)
        let dembed = train.take(n * V)
        var dec: [BlockActs] = []
        cur = dembed
        for bp in decoderBlocks { let ba = takeBlockActs(train, bp, batch: batch, xIn: cur); dec.append(ba); cur = ba.xOut }
        let decOut = cur
        let decNorm = train.take(n * V), decMean = train.take(n), decRstd = train.take(n)
        let out = train.take(n * D)
        let cond = takeCond(train, batch: batch)
        let s = makeScratch(train, batch: batch)
        precondition(train.used <= train.capacity)
        let a = TrainActs(x: x, t: t, enc: enc, encOut: encOut, encNorm: encNorm, encMean: encMean, encRstd: encRstd,
                          dec: dec, decOut: decOut, decNorm: decNorm, decMean: decMean, decRstd: decRstd, out: out,
                          cond: cond, s: s)
        acts = a
        return a
    }

    /// Bytes of activation memory held for training at `batch` (for reports).
    public func activationBytes(batch: Int) -> Int { train.capacity * 4 + inferArenas.reduce(0) { $0 + $1.capacity * 4 } }

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
