// Forward passes (named steps as in MAE's models_mae.py: forward_encoder, forward_decoder).

extension LDAEModel {
    /// One pre-norm transformer block (timm Block; with adaLN, DiT's modulate/gate around both branches):
    ///   xMid = xIn + attn(norm1(xIn))      xOut = xMid + mlp(norm2(xMid))
    /// geluOut: where the GELU output goes ([N, Hd]; may be a.fc1 itself for inference).
    func blockForward(_ bp: BlockP, _ a: BlockActs, ln: UnsafeMutablePointer<Float>, geluOut: UnsafeMutablePointer<Float>,
                      cs: UnsafePointer<Float>?, batch: Int) {
        let n = batch * T, c = bp.width, p = params
        if let ada = bp.ada {
            // mod[B, 6C] = adaLN_modulation(SiLU(c))
            Linear.forward(out: a.mod!, inp: cs!, weight: p + ada.w, bias: p + ada.b, n: batch, c: W, oc: 6 * c)
        }
        // attention branch
        LayerNorm.forward(out: ln, mean: a.mean1, rstd: a.rstd1, inp: a.xIn, weight: p + bp.norm1.w, bias: p + bp.norm1.b, n: n, c: c)
        if let mod = a.mod {
            AdaLN.modulate(out: ln, x: ln, shift: mod, scale: mod + c, stride: 6 * c, b: batch, t: T, c: c)
        }
        Linear.forward(out: a.qkv, inp: ln, weight: p + bp.qkv.w, bias: p + bp.qkv.b, n: n, c: c, oc: 3 * c,
                       packedWeight: packed(bp.qkv))    // [N, 3C]
        Attention.forward(out: a.attOut, att: a.att, qkv: a.qkv, b: batch, t: T, c: c, heads: bp.heads)          // [N, C]
        if let mod = a.mod {
            Linear.forward(out: a.branch!, inp: a.attOut, weight: p + bp.proj.w, bias: p + bp.proj.b, n: n, c: c, oc: c,
                           packedWeight: packed(bp.proj))
            AdaLN.gatedResidual(out: a.xMid, x: a.xIn, gate: mod + 2 * c, y: a.branch!, stride: 6 * c, b: batch, t: T, c: c)
        } else {
            if a.xMid != a.xIn { a.xMid.update(from: a.xIn, count: n * c) }
            Linear.forward(out: a.xMid, inp: a.attOut, weight: p + bp.proj.w, bias: p + bp.proj.b, n: n, c: c, oc: c, accumulate: true,
                           packedWeight: packed(bp.proj))
        }
        // MLP branch
        LayerNorm.forward(out: ln, mean: a.mean2, rstd: a.rstd2, inp: a.xMid, weight: p + bp.norm2.w, bias: p + bp.norm2.b, n: n, c: c)
        if let mod = a.mod {
            AdaLN.modulate(out: ln, x: ln, shift: mod + 3 * c, scale: mod + 4 * c, stride: 6 * c, b: batch, t: T, c: c)
        }
        Linear.forward(out: a.fc1, inp: ln, weight: p + bp.fc1.w, bias: p + bp.fc1.b, n: n, c: c, oc: bp.hidden,
                       geluOut: geluOut, packedWeight: packed(bp.fc1))                         // [N, Hd] both
        if let mod = a.mod {
            Linear.forward(out: a.branch2!, inp: geluOut, weight: p + bp.fc2.w, bias: p + bp.fc2.b, n: n, c: bp.hidden, oc: c,
                           packedWeight: packed(bp.fc2))
            AdaLN.gatedResidual(out: a.xOut, x: a.xMid, gate: mod + 5 * c, y: a.branch2!, stride: 6 * c, b: batch, t: T, c: c)
        } else {
            if a.xOut != a.xMid { a.xOut.update(from: a.xMid, count: n * c) }
            Linear.forward(out: a.xOut, inp: geluOut, weight: p + bp.fc2.w, bias: p + bp.fc2.b, n: n, c: bp.hidden, oc: c, accumulate: true,
                           packedWeight: packed(bp.fc2))
        }
    }

    /// adaLN conditioning c = t_embedder(t) [B, W] and cs = SiLU(c), shared by every block.
    func conditionForward(_ cd: Cond, t: UnsafePointer<Float>, batch: Int) {
        let p = params
        AdaLN.timestepEmbedding(out: cd.freq, t: t, b: batch, dim: LDAEModel.freqDim)                   // [B, 256]
        Linear.forward(out: cd.h1, inp: cd.freq, weight: p + tEmb1!.w, bias: p + tEmb1!.b, n: batch, c: LDAEModel.freqDim, oc: W)
        AdaLN.silu(out: cd.s1, x: cd.h1, n: batch * W)
        Linear.forward(out: cd.c, inp: cd.s1, weight: p + tEmb2!.w, bias: p + tEmb2!.b, n: batch, c: W, oc: W)  // [B, W]
        AdaLN.silu(out: cd.cs, x: cd.c, n: batch * W)
    }

    /// forward_encoder: x [B, T, D] -> embed [N, W] -> blocks -> encNorm [N, W] (after `norm`).
    func forwardEncoder(_ a: TrainActs, batch: Int) {
        let n = batch * T, p = params
        let embed = a.enc.first?.xIn ?? a.encOut
        Linear.forward(out: embed, inp: a.x, weight: p + patchEmbed.w, bias: p + patchEmbed.b, n: n, c: D, oc: W,
                       packedWeight: packed(patchEmbed))  // [N, W]
        PosEmbedAdd.forward(x: embed, pos: p + posEmbed, b: batch, t: T, c: W)
        if adaln { conditionForward(a.cond, t: a.t, batch: batch) }
        for (l, bp) in blocks.enumerated() {
            blockForward(bp, a.enc[l], ln: a.s.ln, geluOut: a.s.gelu, cs: a.cond.cs, batch: batch)
        }
        LayerNorm.forward(out: a.encNorm, mean: a.encMean, rstd: a.encRstd, inp: a.encOut,
                          weight: p + norm.w, bias: p + norm.b, n: n, c: W)
    }

    /// forward_decoder: encNorm [N, W] -> decoder_embed [N, V] -> decoder blocks -> decoder_norm -> decoder_pred [N, D].
    func forwardDecoder(_ a: TrainActs, batch: Int) {
        let n = batch * T, p = params
        let dembed = a.dec.first?.xIn ?? a.decOut
        Linear.forward(out: dembed, inp: a.encNorm, weight: p + decoderEmbed.w, bias: p + decoderEmbed.b, n: n, c: W, oc: V,
                       packedWeight: packed(decoderEmbed))
        PosEmbedAdd.forward(x: dembed, pos: p + decoderPosEmbed, b: batch, t: T, c: V)
        for (l, bp) in decoderBlocks.enumerated() {
            blockForward(bp, a.dec[l], ln: a.s.ln, geluOut: a.s.gelu, cs: a.cond.cs, batch: batch)
        }
        LayerNorm.forward(out: a.decNorm, mean: a.decMean, rstd: a.decRstd, inp: a.decOut,
                          weight: p + decoderNorm.w, bias: p + decoderNorm.b, n: n, c: V)
        Linear.forward(out: a.out, inp: a.decNorm, weight: p + decoderPred.w, bias: p + decoderPred.b, n: n, c: V, oc: D,
                       packedWeight: packed(decoderPred))
    }

    /// Training forward. x: [B, T, D] encoder input; t: [B] in [0, 1) (used only with adaLN).
    /// Returns x0_hat [B, T, D], valid until the next forward. Keeps what backward needs.
    public func forward(_ x: UnsafePointer<Float>, t: UnsafePointer<Float>, batch: Int) -> UnsafePointer<Float> {
        precondition(batch > 0)
        let a = ensureTraining(batch: batch)
        a.x.update(from: x, count: batch * T * D)
        a.t.update(from: t, count: batch)
        // in chunks of images like inference (`forwardChunks`), each chunk writing its rows of the saved activations
        forwardChunks(batch: batch) { _, b0, b1 in
            let part = images(from: b0, of: a)
            forwardEncoder(part, batch: b1 - b0)
            forwardDecoder(part, batch: b1 - b0)
        }
        lastBatch = batch
        hasForward = true
        return UnsafePointer(a.out)
    }

    // MARK: inference (no saved activations: one residual buffer, shared scratch)

    struct InferBufs {
        var x: UnsafeMutablePointer<Float>        // [N, Cmax] residual stream
        var enc: UnsafeMutablePointer<Float>      // [N, W] encoder output after norm
        var block: BlockActs
        var ln: UnsafeMutablePointer<Float>
        var cond: Cond
    }

    func ensureInference(_ arena: Arena, batch: Int) -> InferBufs {
        let n = batch * T
        let hd = hmax, c = cmax
        let total = n * c * 2 + n * W + n * 3 * c + n * c + n * hd + 4 * n + batch * 6 * c + 2 * n * c
            + batch * (LDAEModel.freqDim + 5 * W) + 16 * 24
        arena.reset(total: total)
        arena.batch = batch
        let x = arena.take(n * c), enc = arena.take(n * W), ln = arena.take(n * c)
        let block = BlockActs(xIn: x, xMid: x, xOut: x, mean1: arena.take(n), rstd1: arena.take(n), mean2: arena.take(n),
                              rstd2: arena.take(n), qkv: arena.take(n * 3 * c), att: nil, attOut: arena.take(n * c),
                              fc1: arena.take(n * hd), mod: adaln ? arena.take(batch * 6 * c) : nil,
                              branch: adaln ? arena.take(n * c) : nil, branch2: adaln ? arena.take(n * c) : nil)
        let cond = takeCond(arena, batch: batch)
        precondition(arena.used <= arena.capacity)
        return InferBufs(x: x, enc: enc, block: block, ln: ln, cond: cond)
    }

    // MARK: forward chunks (training and inference)
    //
    // The batch is cut into chunks of `chunkTokens` tokens; each core takes one chunk at a time and runs the
    // whole network on it, with every kernel serial inside (`Parallel.serially`). A chunk's activations stay in that
    // core's caches from one layer to the next (layer by layer over the whole batch streamed each one through memory),
    // there is no barrier per layer, and a core slowed by other load takes fewer chunks. Each row's arithmetic is the
    // same either way, so the results do not depend on the split.

    /// Calls body(worker, b0, b1) for chunks [b0, b1) of the batch (`ChunkPlan.guided`: the last ones smaller),
    /// handed out to the cores one at a time (`Parallel.dynamic`: a core slowed by other load takes fewer), with the
    /// kernels serial inside.
    /// chunkTokens <= 0: one chunk of the whole batch, layer by layer with the kernels parallel inside.
    /// Packs the forward's weights first (`packWeights`).
    func forwardChunks(batch: Int, _ body: (Int, Int, Int) -> Void) {
        Parallel.withSingleThreadedBLAS {
            packWeights()
            if chunkTokens <= 0 { body(0, 0, batch); return }
            // at least one chunk per core when the batch allows; smaller chunks towards the end (`ChunkPlan`)
            let perChunk = max(1, min(chunkTokens / T, (batch + Parallel.workers - 1) / Parallel.workers))
            let plan = ChunkPlan.guided(batch: batch, perChunk: perChunk, workers: Parallel.workers,
                                        minChunk: max(1, minChunkTokens / T))
            Parallel.dynamic(plan.count) { w, i in
                Parallel.serially { body(w, plan[i].lowerBound, plan[i].upperBound) }
            }
        }
    }

    /// `forwardChunks` with each core's inference buffers.
    func inferenceShares(batch: Int, _ body: (InferBufs, Int, Int) -> Void) {
        forwardChunks(batch: batch) { w, b0, b1 in body(ensureInference(inferArenas[w], batch: b1 - b0), b0, b1) }
    }

    /// The encoder without saved activations; `tap(stage, residual [N, W])` sees the residual stream after the
    /// embedding (stage 0) and after each block (stage 1...depth).
    func inferEncoder(_ ib: InferBufs, x: UnsafePointer<Float>, t: UnsafePointer<Float>?, batch: Int,
                      tap: ((Int, UnsafePointer<Float>) -> Void)? = nil) {
        let n = batch * T, p = params
        Linear.forward(out: ib.x, inp: x, weight: p + patchEmbed.w, bias: p + patchEmbed.b, n: n, c: D, oc: W,
                       packedWeight: packed(patchEmbed))
        PosEmbedAdd.forward(x: ib.x, pos: p + posEmbed, b: batch, t: T, c: W)
        if adaln {
            let zeros = [Float](repeating: 0, count: batch)
            zeros.withUnsafeBufferPointer { z in conditionForward(ib.cond, t: t ?? z.baseAddress!, batch: batch) }
        }
        tap?(0, ib.x)
        for (l, bp) in blocks.enumerated() {
            blockForward(bp, ib.block, ln: ib.ln, geluOut: ib.block.fc1, cs: ib.cond.cs, batch: batch)
            tap?(l + 1, ib.x)
        }
        LayerNorm.forward(out: ib.enc, mean: ib.block.mean1, rstd: ib.block.rstd1, inp: ib.x,
                          weight: p + norm.w, bias: p + norm.b, n: n, c: W)
    }

    /// Mean-pooled encoder features after the final `norm` (timm global_pool='avg', fc_norm=False).
    /// x [B, T, D] -> out [B, W]. t nil means t = 0 (only used with adaLN).
    public func features(_ x: UnsafePointer<Float>, t: UnsafePointer<Float>?, batch: Int, out: UnsafeMutablePointer<Float>) {
        inferenceShares(batch: batch) { ib, b0, b1 in
            inferEncoder(ib, x: x + b0 * T * D, t: t.map { $0 + b0 }, batch: b1 - b0)
            MeanPool.forward(out: out + b0 * W, x: ib.enc, b: b1 - b0, t: T, c: W)
        }
    }

    /// Encoder + decoder without saving activations: x [B, T, D] -> out [B, T, D].
    public func reconstruct(_ x: UnsafePointer<Float>, t: UnsafePointer<Float>?, batch: Int, out: UnsafeMutablePointer<Float>) {
        inferenceShares(batch: batch) { ib, b0, b1 in
            let nb = b1 - b0, n = nb * T, p = params
            inferEncoder(ib, x: x + b0 * T * D, t: t.map { $0 + b0 }, batch: nb)
            Linear.forward(out: ib.x, inp: ib.enc, weight: p + decoderEmbed.w, bias: p + decoderEmbed.b, n: n, c: W, oc: V,
                           packedWeight: packed(decoderEmbed))
            PosEmbedAdd.forward(x: ib.x, pos: p + decoderPosEmbed, b: nb, t: T, c: V)
            for bp in decoderBlocks {
                blockForward(bp, ib.block, ln: ib.ln, geluOut: ib.block.fc1, cs: ib.cond.cs, batch: nb)
            }
            LayerNorm.forward(out: ib.ln, mean: ib.block.mean1, rstd: ib.block.rstd1, inp: ib.x,
                              weight: p + decoderNorm.w, bias: p + decoderNorm.b, n: n, c: V)
            Linear.forward(out: out + b0 * T * D, inp: ib.ln, weight: p + decoderPred.w, bias: p + decoderPred.b, n: n, c: V, oc: D,
                           packedWeight: packed(decoderPred))
        }
    }
}
