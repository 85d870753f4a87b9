// Forward passes (named steps as in MAE's models_mae.py: forward_encoder, forward_decoder), shared by training (which
// saves every block's activations) and inference (one residual buffer, one block's scratch): the two differ only in
// the buffers they give (`PassBuffers`). Each kernel call runs under the plan it is given: the model's own, or its
// single-threaded `serial` form inside a chunk.

extension LDAEModel {
    /// Where one pass through the encoder or the decoder reads and writes.
    struct PassBuffers {
        /// [N, C] the embedding's output: block 0's input.
        var embed: UnsafeMutablePointer<Float>
        /// Block l's activations (training: its own; inference: the shared scratch).
        var block: (Int) -> BlockActs
        /// [N, C] the residual stream after the last block (the final norm's input).
        var last: UnsafeMutablePointer<Float>
        /// [N, Cmax] LayerNorm output and [N, Hmax] GELU output inside the blocks.
        var ln: UnsafeMutablePointer<Float>, gelu: UnsafeMutablePointer<Float>
        /// The final norm's output [N, C] and statistics [N].
        var norm: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    }

    /// The training activations as the encoder's and the decoder's buffers.
    func encoderBuffers(_ a: TrainActs) -> PassBuffers {
        PassBuffers(embed: a.enc.first?.xIn ?? a.encOut, block: { a.enc[$0] }, last: a.encOut, ln: a.s.ln, gelu: a.s.gelu,
                    norm: a.encNorm, mean: a.encMean, rstd: a.encRstd)
    }
    func decoderBuffers(_ a: TrainActs) -> PassBuffers {
        PassBuffers(embed: a.dec.first?.xIn ?? a.decOut, block: { a.dec[$0] }, last: a.decOut, ln: a.s.ln, gelu: a.s.gelu,
                    norm: a.decNorm, mean: a.decMean, rstd: a.decRstd)
    }
    /// One core's inference buffers for either pass: the residual stream stays in ib.x, GELU writes over fc1.
    func inferenceBuffers(_ ib: InferBufs, norm: UnsafeMutablePointer<Float>) -> PassBuffers {
        PassBuffers(embed: ib.x, block: { _ in ib.block }, last: ib.x, ln: ib.ln, gelu: ib.block.fc1,
                    norm: norm, mean: ib.block.mean1, rstd: ib.block.rstd1)
    }

    /// One pre-norm transformer block (timm Block; with adaLN, DiT's modulate/gate around both branches):
    ///   xMid = xIn + attn(norm1(xIn))      xOut = xMid + mlp(norm2(xMid))
    /// geluOut: where the GELU output goes ([N, Hd]; may be a.fc1 itself for inference).
    func blockForward(_ bp: BlockP, _ a: BlockActs, ln: UnsafeMutablePointer<Float>, geluOut: UnsafeMutablePointer<Float>,
                      cs: UnsafePointer<Float>?, batch: Int, plan: ExecutionPlan) {
        let n = batch * T, c = bp.width, p = params
        if let ada = bp.ada {
            // mod[B, 6C] = adaLN_modulation(SiLU(c))
            Linear.forward(out: a.mod!, inp: cs!, weight: p + ada.w, bias: p + ada.b, n: batch, c: W, oc: 6 * c, plan: plan)
        }
        // attention branch
        LayerNorm.forward(out: ln, mean: a.mean1, rstd: a.rstd1, inp: a.xIn, weight: p + bp.norm1.w, bias: p + bp.norm1.b,
                          n: n, c: c, plan: plan)
        if let mod = a.mod {
            AdaLN.modulate(out: ln, x: ln, shift: mod, scale: mod + c, stride: 6 * c, b: batch, t: T, c: c, plan: plan)
        }
        Linear.forward(out: a.qkv, inp: ln, weight: p + bp.qkv.w, bias: p + bp.qkv.b, n: n, c: c, oc: 3 * c,
                       packedWeight: packed(bp.qkv), plan: plan)                                        // [N, 3C]
        Attention.forward(out: a.attOut, att: a.att, qkv: a.qkv, b: batch, t: T, c: c, heads: bp.heads, plan: plan)  // [N, C]
        if let mod = a.mod {
            Linear.forward(out: a.branch!, inp: a.attOut, weight: p + bp.proj.w, bias: p + bp.proj.b, n: n, c: c, oc: c,
                           packedWeight: packed(bp.proj), plan: plan)
            AdaLN.gatedResidual(out: a.xMid, x: a.xIn, gate: mod + 2 * c, y: a.branch!, stride: 6 * c, b: batch, t: T, c: c,
                                plan: plan)
        } else {
            if a.xMid != a.xIn { a.xMid.update(from: a.xIn, count: n * c) }
            Linear.forward(out: a.xMid, inp: a.attOut, weight: p + bp.proj.w, bias: p + bp.proj.b, n: n, c: c, oc: c,
                           accumulate: true, packedWeight: packed(bp.proj), plan: plan)
        }
        // MLP branch
        LayerNorm.forward(out: ln, mean: a.mean2, rstd: a.rstd2, inp: a.xMid, weight: p + bp.norm2.w, bias: p + bp.norm2.b,
                          n: n, c: c, plan: plan)
        if let mod = a.mod {
            AdaLN.modulate(out: ln, x: ln, shift: mod + 3 * c, scale: mod + 4 * c, stride: 6 * c, b: batch, t: T, c: c, plan: plan)
        }
        Linear.forward(out: a.fc1, inp: ln, weight: p + bp.fc1.w, bias: p + bp.fc1.b, n: n, c: c, oc: bp.hidden,
                       geluOut: geluOut, packedWeight: packed(bp.fc1), plan: plan)                       // [N, Hd] both
        if let mod = a.mod {
            Linear.forward(out: a.branch2!, inp: geluOut, weight: p + bp.fc2.w, bias: p + bp.fc2.b, n: n, c: bp.hidden, oc: c,
                           packedWeight: packed(bp.fc2), plan: plan)
            AdaLN.gatedResidual(out: a.xOut, x: a.xMid, gate: mod + 5 * c, y: a.branch2!, stride: 6 * c, b: batch, t: T, c: c,
                                plan: plan)
        } else {
            if a.xOut != a.xMid { a.xOut.update(from: a.xMid, count: n * c) }
            Linear.forward(out: a.xOut, inp: geluOut, weight: p + bp.fc2.w, bias: p + bp.fc2.b, n: n, c: bp.hidden, oc: c,
                           accumulate: true, packedWeight: packed(bp.fc2), plan: plan)
        }
    }

    /// adaLN conditioning c = t_embedder(t) [B, W] (time conditioning) + y_embedder[y] (class conditioning, labels
    /// read from cd.y) and cs = SiLU(c), shared by every block.
    func conditionForward(_ cd: Cond, t: UnsafePointer<Float>, batch: Int, plan: ExecutionPlan) {
        let p = params
        if timeEmbedded {
            AdaLN.timestepEmbedding(out: cd.freq, t: t, b: batch, dim: LDAEModel.freqDim)               // [B, 256]
            Linear.forward(out: cd.h1, inp: cd.freq, weight: p + tEmb1!.w, bias: p + tEmb1!.b, n: batch, c: LDAEModel.freqDim,
                           oc: W, plan: plan)
            AdaLN.silu(out: cd.s1, x: cd.h1, n: batch * W)
            Linear.forward(out: cd.c, inp: cd.s1, weight: p + tEmb2!.w, bias: p + tEmb2!.b, n: batch, c: W, oc: W, plan: plan)  // [B, W]
        } else {
            cd.c.update(repeating: 0, count: batch * W)
        }
        if let y = yEmb { LabelEmbedding.forward(c: cd.c, table: p + y, labels: cd.y, b: batch, c: W, classes: config.numClasses!) }
        AdaLN.silu(out: cd.cs, x: cd.c, n: batch * W)
    }

    /// Writes the class labels of a pass into cd.y [B] (nil: the null label C for every image, as for features).
    func setLabels(_ cd: Cond, labels: UnsafePointer<Int32>?, batch: Int) {
        guard let c = config.numClasses else { return }
        for i in 0..<batch { cd.y[i] = Float(labels.map { Int($0[i]) } ?? c) }
    }

    /// forward_encoder: x [B, T, D] -> patch_embed + pos_embed [N, W] -> blocks -> norm [N, W] (b.norm).
    /// cs: the conditioning (adaLN). tap(stage, residual [N, W]) sees the residual stream after the embedding
    /// (stage 0) and after each block (stage 1...depth).
    func forwardEncoder(_ x: UnsafePointer<Float>, _ b: PassBuffers, cs: UnsafePointer<Float>?, batch: Int, plan: ExecutionPlan,
                        tap: ((Int, UnsafePointer<Float>) -> Void)? = nil) {
        let n = batch * T, p = params
        Linear.forward(out: b.embed, inp: x, weight: p + patchEmbed.w, bias: p + patchEmbed.b, n: n, c: D, oc: W,
                       packedWeight: packed(patchEmbed), plan: plan)                                    // [N, W]
        PosEmbedAdd.forward(x: b.embed, pos: p + posEmbed, b: batch, t: T, c: W, plan: plan)
        tap?(0, b.embed)
        for (l, bp) in blocks.enumerated() {
            let ba = b.block(l)
            blockForward(bp, ba, ln: b.ln, geluOut: b.gelu, cs: cs, batch: batch, plan: plan)
            tap?(l + 1, ba.xOut)
        }
        LayerNorm.forward(out: b.norm, mean: b.mean, rstd: b.rstd, inp: b.last, weight: p + norm.w, bias: p + norm.b,
                          n: n, c: W, plan: plan)
    }

    /// forward_decoder: enc [N, W] -> decoder_embed + decoder_pos_embed [N, V] -> decoder blocks, then, when `out` is
    /// given, decoder_norm -> decoder_pred into out [N, D]. tap(k, residual [N, V]) after decoder block k (1-based).
    func forwardDecoder(_ enc: UnsafePointer<Float>, _ b: PassBuffers, out: UnsafeMutablePointer<Float>?,
                        cs: UnsafePointer<Float>?, batch: Int, plan: ExecutionPlan,
                        tap: ((Int, UnsafePointer<Float>) -> Void)? = nil) {
        let n = batch * T, p = params
        Linear.forward(out: b.embed, inp: enc, weight: p + decoderEmbed.w, bias: p + decoderEmbed.b, n: n, c: W, oc: V,
                       packedWeight: packed(decoderEmbed), plan: plan)
        PosEmbedAdd.forward(x: b.embed, pos: p + decoderPosEmbed, b: batch, t: T, c: V, plan: plan)
        for (l, bp) in decoderBlocks.enumerated() {
            let ba = b.block(l)
            blockForward(bp, ba, ln: b.ln, geluOut: b.gelu, cs: cs, batch: batch, plan: plan)
            tap?(l + 1, ba.xOut)
        }
        guard let out else { return }
        LayerNorm.forward(out: b.norm, mean: b.mean, rstd: b.rstd, inp: b.last, weight: p + decoderNorm.w,
                          bias: p + decoderNorm.b, n: n, c: V, plan: plan)
        Linear.forward(out: out, inp: b.norm, weight: p + decoderPred.w, bias: p + decoderPred.b, n: n, c: V, oc: D,
                       packedWeight: packed(decoderPred), plan: plan)
    }

    /// Training forward. x: [B, T, D] encoder input; t: [B] in [0, 1) (used only with adaLN time conditioning);
    /// labels [B] in 0...C (C the null label; class conditioning only, nil = null for all).
    /// Returns x0_hat [B, T, D], valid until the next forward. Keeps what backward needs.
    public func forward(_ x: UnsafePointer<Float>, t: UnsafePointer<Float>, labels: UnsafePointer<Int32>? = nil,
                        batch: Int) -> UnsafePointer<Float> {
        require(batch > 0)
        if let c = config.numClasses, let labels {
            for i in 0..<batch { require(labels[i] >= 0 && Int(labels[i]) <= c, "label \(labels[i]) outside 0...\(c)") }
        }
        let a = ensureTraining(batch: batch)
        a.x.update(from: x, count: batch * T * D)
        a.t.update(from: t, count: batch)
        setLabels(a.cond, labels: labels, batch: batch)
        // in chunks of images like inference, each chunk writing its rows of the saved activations
        forwardChunks(batch: batch) { _, b0, b1, plan in
            let part = images(from: b0, of: a), nb = b1 - b0
            if adaln { conditionForward(part.cond, t: part.t, batch: nb, plan: plan) }
            forwardEncoder(part.x, encoderBuffers(part), cs: part.cond.cs, batch: nb, plan: plan)
            forwardDecoder(part.encNorm, decoderBuffers(part), out: part.out, cs: part.cond.cs, batch: nb, plan: plan)
        }
        lastBatch = batch
        hasForward = true
        return UnsafePointer(a.out)
    }

    // MARK: forward chunks (training and inference)
    //
    // The batch is cut into chunks of `plan.chunkTokens` tokens; each core takes one chunk at a time and runs the
    // whole network on it, with every kernel single-threaded inside (`plan.serial`). A chunk's activations stay in that
    // core's caches from one layer to the next (layer by layer over the whole batch streamed each one through memory),
    // there is no barrier per layer, and a core slowed by other load takes fewer chunks. Each row's arithmetic is the
    // same either way, so the results do not depend on the split.

    /// Calls body(worker, b0, b1, plan) for chunks [b0, b1) of the batch (`ChunkPlan.guided`: the last ones smaller),
    /// handed out to the cores one at a time (`ExecutionPlan.dynamic`), with the kernels single-threaded inside.
    /// chunkTokens <= 0: one chunk of the whole batch, layer by layer with the kernels parallel inside.
    /// Packs the forward's weights first (`packWeights`).
    func forwardChunks(batch: Int, _ body: (Int, Int, Int, ExecutionPlan) -> Void) {
        BLAS.withOneThread {
            packWeights()
            if plan.chunkTokens <= 0 { body(0, 0, batch, plan); return }
            // at least one chunk per core when the batch allows; smaller chunks towards the end (`ChunkPlan`)
            let workers = plan.workers, serial = plan.serial
            let perChunk = max(1, min(plan.chunkTokens / T, (batch + workers - 1) / workers))
            let chunks = ChunkPlan.guided(batch: batch, perChunk: perChunk, workers: workers,
                                          minChunk: max(1, plan.minChunkTokens / T))
            plan.dynamic(chunks.count) { w, i in body(w, chunks[i].lowerBound, chunks[i].upperBound, serial) }
        }
    }

    /// `forwardChunks` with each core's inference buffers, and the chunk's conditioning computed (t nil: t = 0; the
    /// null label under class conditioning: features never see a label).
    func inferenceShares(batch: Int, t: UnsafePointer<Float>?, _ body: (InferBufs, Int, Int, ExecutionPlan) -> Void) {
        forwardChunks(batch: batch) { w, b0, b1, plan in
            let ib = ensureInference(inferArenas[w], batch: b1 - b0)
            if adaln {
                setLabels(ib.cond, labels: nil, batch: b1 - b0)
                let zeros = [Float](repeating: 0, count: b1 - b0)
                zeros.withUnsafeBufferPointer { z in
                    conditionForward(ib.cond, t: t.map { $0 + b0 } ?? z.baseAddress!, batch: b1 - b0, plan: plan)
                }
            }
            body(ib, b0, b1, plan)
        }
    }

    /// Mean-pooled encoder features after the final `norm` (timm global_pool='avg', fc_norm=False).
    /// x [B, T, D] -> out [B, W]. t nil means t = 0 (only used with adaLN).
    public func features(_ x: UnsafePointer<Float>, t: UnsafePointer<Float>?, batch: Int, out: UnsafeMutablePointer<Float>) {
        inferenceShares(batch: batch, t: t) { ib, b0, b1, plan in
            forwardEncoder(x + b0 * T * D, inferenceBuffers(ib, norm: ib.enc), cs: ib.cond.cs, batch: b1 - b0, plan: plan)
            MeanPool.forward(out: out + b0 * W, x: ib.enc, b: b1 - b0, t: T, c: W)
        }
    }

    /// Encoder + decoder without saving activations: x [B, T, D] -> out [B, T, D].
    public func reconstruct(_ x: UnsafePointer<Float>, t: UnsafePointer<Float>?, batch: Int, out: UnsafeMutablePointer<Float>) {
        inferenceShares(batch: batch, t: t) { ib, b0, b1, plan in
            forwardEncoder(x + b0 * T * D, inferenceBuffers(ib, norm: ib.enc), cs: ib.cond.cs, batch: b1 - b0, plan: plan)
            forwardDecoder(ib.enc, inferenceBuffers(ib, norm: ib.ln), out: out + b0 * T * D, cs: ib.cond.cs,
                           batch: b1 - b0, plan: plan)
        }
    }
}
