// Backward passes: the reverse of LDAEModel+Forward.swift; every parameter gradient is ADDED into `grads`.

extension LDAEModel {
    /// Backward of one block. dres [N, C] holds dL/dxOut on entry and dL/dxIn on return.
    func blockBackward(_ bp: BlockP, _ a: BlockActs, dres: UnsafeMutablePointer<Float>, s: Scratch,
                       cs: UnsafePointer<Float>, dcs: UnsafeMutablePointer<Float>, batch: Int,
                       g: UnsafeMutablePointer<Float>, plan: ExecutionPlan) {
        let n = batch * T, c = bp.width, hid = bp.hidden, p = params
        let dmod = s.dmod
        if a.mod != nil { dmod.update(repeating: 0, count: batch * 6 * c) }

        // ---- MLP branch: xOut = xMid + [gate *] fc2(gelu(fc1(mod(norm2(xMid)))))
        LayerNorm.apply(out: s.ln, inp: a.xMid, mean: a.mean2, rstd: a.rstd2, weight: p + bp.norm2.w, bias: p + bp.norm2.b, n: n, c: c, plan: plan)
        var lnIn = UnsafeMutablePointer(s.ln)     // input of fc1 [N, C]
        if let mod = a.mod {
            AdaLN.modulate(out: s.small2, x: s.ln, shift: mod + 3 * c, scale: mod + 4 * c, stride: 6 * c, b: batch, t: T, c: c, plan: plan)
            lnIn = s.small2
        }
        // s.gelu = gelu(fc1) [N, Hd] for fc2's weight gradient; a.fc1 becomes gelu'(fc1) (consumed: see `backward`)
        GELU.forwardAndDerivative(out: s.gelu, x: a.fc1, n: n * hid, plan: plan)
        var dBranch = dres
        if let mod = a.mod {
            AdaLN.gatedResidualBackward(dy: s.small, dgate: dmod + 5 * c, dout: dres, y: a.branch2!, gate: mod + 5 * c,
                                        stride: 6 * c, b: batch, t: T, c: c, plan: plan)
            dBranch = s.small
        }
        Linear.backward(dinp: s.big, dweight: g + bp.fc2.w, dbias: g + bp.fc2.b, dout: dBranch, inp: s.gelu,
                        weight: p + bp.fc2.w, n: n, c: hid, oc: c, overwriteDinp: true,
                        dinpTimes: a.fc1, packedWeight: packedForBackward(bp.fc2), plan: plan)                                                    // d fc1 [N, Hd]
        Linear.backward(dinp: s.small, dweight: g + bp.fc1.w, dbias: g + bp.fc1.b, dout: s.big, inp: lnIn,
                        weight: p + bp.fc1.w, n: n, c: c, oc: hid, overwriteDinp: true,
                        packedWeight: packedForBackward(bp.fc1), plan: plan)     // d ln2 [N, C]
        if let mod = a.mod {
            AdaLN.modulateBackward(dx: s.small, dy: s.small, x: s.ln, scale: mod + 4 * c, dshift: dmod + 3 * c,
                                   dscale: dmod + 4 * c, stride: 6 * c, b: batch, t: T, c: c, plan: plan)
        }
        LayerNorm.backward(dinp: dres, dweight: g + bp.norm2.w, dbias: g + bp.norm2.b, dout: s.small, inp: a.xMid,
                           weight: p + bp.norm2.w, mean: a.mean2, rstd: a.rstd2, n: n, c: c, plan: plan)  // dres = dL/dxMid

        // ---- attention branch: xMid = xIn + [gate *] proj(attn(qkv(mod(norm1(xIn)))))
        dBranch = dres
        if let mod = a.mod {
            AdaLN.gatedResidualBackward(dy: s.small, dgate: dmod + 2 * c, dout: dres, y: a.branch!, gate: mod + 2 * c,
                                        stride: 6 * c, b: batch, t: T, c: c, plan: plan)
            dBranch = s.small
        }
        Linear.backward(dinp: s.small2, dweight: g + bp.proj.w, dbias: g + bp.proj.b, dout: dBranch, inp: a.attOut,
                        weight: p + bp.proj.w, n: n, c: c, oc: c, overwriteDinp: true,
                        packedWeight: packedForBackward(bp.proj), plan: plan)     // d attOut [N, C]
        Attention.backward(dqkv: s.big, dout: s.small2, qkv: a.qkv, att: a.att!, b: batch, t: T, c: c,
                           heads: bp.heads, overwrite: true, plan: plan)                                  // d qkv [N, 3C]
        LayerNorm.apply(out: s.ln, inp: a.xIn, mean: a.mean1, rstd: a.rstd1, weight: p + bp.norm1.w, bias: p + bp.norm1.b, n: n, c: c, plan: plan)
        lnIn = s.ln
        if let mod = a.mod {
            AdaLN.modulate(out: s.small2, x: s.ln, shift: mod, scale: mod + c, stride: 6 * c, b: batch, t: T, c: c, plan: plan)
            lnIn = s.small2
        }
        Linear.backward(dinp: s.small, dweight: g + bp.qkv.w, dbias: g + bp.qkv.b, dout: s.big, inp: lnIn,
                        weight: p + bp.qkv.w, n: n, c: c, oc: 3 * c, overwriteDinp: true,
                        packedWeight: packedForBackward(bp.qkv), plan: plan)   // d ln1 [N, C]
        if let mod = a.mod {
            AdaLN.modulateBackward(dx: s.small, dy: s.small, x: s.ln, scale: mod + c, dshift: dmod,
                                   dscale: dmod + c, stride: 6 * c, b: batch, t: T, c: c, plan: plan)
        }
        LayerNorm.backward(dinp: dres, dweight: g + bp.norm1.w, dbias: g + bp.norm1.b, dout: s.small, inp: a.xIn,
                           weight: p + bp.norm1.w, mean: a.mean1, rstd: a.rstd1, n: n, c: c, plan: plan)  // dres = dL/dxIn
        if let ada = bp.ada {
            Linear.backward(dinp: dcs, dweight: g + ada.w, dbias: g + ada.b, dout: dmod, inp: cs, weight: p + ada.w,
                            n: batch, c: W, oc: 6 * c, plan: plan)
        }
    }

    /// Backward of the last `forward` from dL/dOutput [B, T, D]; ADDS into grads. Consumes the forward: some saved
    /// activations are overwritten in place (each MLP's pre-activation becomes GELU's derivative), so a second
    /// backward needs a new forward.
    ///
    /// Like the forward, in chunks of `plan.chunkTokens` tokens with the kernels single-threaded inside, cut by
    /// `ChunkPlan.backward`: each core first runs a fixed share of the batch, adding its parameter gradients into its
    /// own buffer (core 0 into grads); then the cores take the tail's smaller chunks as they free up, each chunk adding
    /// into a buffer of its own. The buffers are summed in a fixed order at the end, so the result depends only on the
    /// batch and the number of threads, not on timing.
    public func backward(_ dOutput: UnsafePointer<Float>) {
        require(hasForward, "backward needs a forward since the last backward")
        defer { hasForward = false }
        let a = acts!, batch = lastBatch
        BLAS.withOneThread {
            packBackwardWeights()
            defer { backwardPacks.invalidate() }
            let k = plan.chunkTokens > 0 ? plan.chunkCount(batch) : 1
            if k <= 1 { backwardRows(a, dOutput, batch: batch, g: grads, plan: plan); return }
            let count = parameterCount, serial = plan.serial
            let chunks = ChunkPlan.backward(batch: batch, perChunk: max(1, plan.chunkTokens / T), workers: k,
                                            maxTail: plan.backwardTailChunks)
            let buffers = k - 1 + chunks.tail.count
            if workerGradsCount < buffers {
                LDAEModel.deallocateAligned(workerGrads)
                workerGrads = LDAEModel.allocateAligned(buffers * count)
                workerGradsCount = buffers
            }
            let parts = workerGrads!
            func run(_ r: Range<Int>, into g: UnsafeMutablePointer<Float>) {
                backwardRows(images(from: r.lowerBound, of: a), dOutput + r.lowerBound * T * D, batch: r.count, g: g, plan: serial)
            }
            plan.sharesThenDynamic(k, tail: chunks.tail.count, share: { w in
                let g = w == 0 ? grads : parts + (w - 1) * count
                if w > 0 { g.update(repeating: 0, count: count) }
                for r in chunks.shares[w] { run(r, into: g) }
            }) { _, i in
                let g = parts + (k - 1 + i) * count
                g.update(repeating: 0, count: count)
                run(chunks.tail[i], into: g)
            }
            Residual.addInto(grads, sources: (0..<buffers).map { UnsafePointer(parts + $0 * count) }, n: count, plan: plan)
        }
    }

    /// Backward of images [0, batch) of the activations a (a chunk's view, or the whole batch) from dOutput
    /// [batch, T, D], adding the parameter gradients into g.
    func backwardRows(_ a: TrainActs, _ dOutput: UnsafePointer<Float>, batch: Int, g: UnsafeMutablePointer<Float>,
                      plan: ExecutionPlan) {
        let n = batch * T, p = params, s = a.s
        if adaln { a.cond.dcs.update(repeating: 0, count: batch * W) }
        // ---- decoder
        Linear.backward(dinp: s.small, dweight: g + decoderPred.w, dbias: g + decoderPred.b, dout: dOutput,
                        inp: a.decNorm, weight: p + decoderPred.w, n: n, c: V, oc: D, overwriteDinp: true,
                        packedWeight: packedForBackward(decoderPred), plan: plan)
        s.dresDec.update(repeating: 0, count: n * V)
        LayerNorm.backward(dinp: s.dresDec, dweight: g + decoderNorm.w, dbias: g + decoderNorm.b, dout: s.small,
                           inp: a.decOut, weight: p + decoderNorm.w, mean: a.decMean, rstd: a.decRstd, n: n, c: V, plan: plan)
        for (l, bp) in decoderBlocks.enumerated().reversed() {
            blockBackward(bp, a.dec[l], dres: s.dresDec, s: s, cs: a.cond.cs, dcs: a.cond.dcs, batch: batch, g: g, plan: plan)
        }
        if config.posEmbed == .learned {
            PosEmbedAdd.backward(dpos: g + decoderPosEmbed, dx: s.dresDec, b: batch, t: T, c: V, plan: plan)
        }
        Linear.backward(dinp: s.small, dweight: g + decoderEmbed.w, dbias: g + decoderEmbed.b, dout: s.dresDec,
                        inp: a.encNorm, weight: p + decoderEmbed.w, n: n, c: W, oc: V, overwriteDinp: true,
                        packedWeight: packedForBackward(decoderEmbed), plan: plan)
        // ---- encoder
        s.dresEnc.update(repeating: 0, count: n * W)
        LayerNorm.backward(dinp: s.dresEnc, dweight: g + norm.w, dbias: g + norm.b, dout: s.small, inp: a.encOut,
                           weight: p + norm.w, mean: a.encMean, rstd: a.encRstd, n: n, c: W, plan: plan)
        for (l, bp) in blocks.enumerated().reversed() {
            blockBackward(bp, a.enc[l], dres: s.dresEnc, s: s, cs: a.cond.cs, dcs: a.cond.dcs, batch: batch, g: g, plan: plan)
        }
        if config.posEmbed == .learned {
            PosEmbedAdd.backward(dpos: g + posEmbed, dx: s.dresEnc, b: batch, t: T, c: W, plan: plan)
        }
        Linear.backward(dinp: nil, dweight: g + patchEmbed.w, dbias: g + patchEmbed.b, dout: s.dresEnc,
                        inp: a.x, weight: p + patchEmbed.w, n: n, c: D, oc: W, plan: plan)
        if adaln { conditionBackward(a.cond, s: s, batch: batch, g: g, plan: plan) }
    }

    /// Backward of the t embedder and the label embedding from dcs = dL/d SiLU(c).
    func conditionBackward(_ cd: Cond, s: Scratch, batch: Int, g: UnsafeMutablePointer<Float>, plan: ExecutionPlan) {
        let p = params
        AdaLN.siluBackwardInPlace(cd.dcs, x: cd.c, n: batch * W)                                     // d c
        if let y = yEmb { LabelEmbedding.backward(dtable: g + y, dc: cd.dcs, labels: cd.y, b: batch, c: W, classes: config.numClasses!) }
        guard timeEmbedded else { return }
        let ds1 = s.dmod
        Linear.backward(dinp: ds1, dweight: g + tEmb2!.w, dbias: g + tEmb2!.b, dout: cd.dcs, inp: cd.s1,
                        weight: p + tEmb2!.w, n: batch, c: W, oc: W, overwriteDinp: true, plan: plan)
        AdaLN.siluBackwardInPlace(ds1, x: cd.h1, n: batch * W)                                       // d h1
        Linear.backward(dinp: nil, dweight: g + tEmb1!.w, dbias: g + tEmb1!.b, dout: ds1, inp: cd.freq,
                        weight: p + tEmb1!.w, n: batch, c: LDAEModel.freqDim, oc: W, plan: plan)
    }
}
