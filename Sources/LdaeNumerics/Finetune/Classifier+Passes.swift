import Foundation

// The classifier's passes. Training: the encoder forward in chunks of images (`LDAEModel.forwardChunks`, each core
// a chunk at a time with the kernels single-threaded inside), activations saved, stopping at the highest block the
// head reads; the tapped tokens pooled into feature rows; the head over the whole batch. Backward: the head and the
// pooling over the whole batch (serially, so their sums do not depend on the split), then the encoder in chunks as
// `LDAEModel.backward` does, ADDING into the model's gradients (encoder tensors only) and the head's.
//
// Drop path rides on the blocks' adaLN gating path: a block with a rate > 0 gets a modulation buffer whose shifts
// and scales are 0 (LayerNorm output unchanged: x * (1 + 0) + 0) and whose gates hold each image's branch scale, 0
// or 1 / (1 - p); `blockForward` then computes x + gate * branch and `blockBackward` its gradient, as for DiT.

extension Classifier {
    struct Acts {
        var x: UnsafeMutablePointer<Float>            // [N, D] the input
        var embed: UnsafeMutablePointer<Float>        // [N, W] patch + position embedding (block 0's input)
        var blocks: [LDAEModel.BlockActs]             // blocks 0..<depth; mod/branch/branch2 where drop path is on
        var norm, mean, rstd: UnsafeMutablePointer<Float>   // the final norm's output [N, W] and statistics [N]
        var s: LDAEModel.Scratch
        var feats, logits, dLogits, dFeats: UnsafeMutablePointer<Float>   // [B, F], [B, C], [B, C], [B, F]
        var dTaps: [UnsafeMutablePointer<Float>]      // per tap: dL/d its tokens [N, W]
        /// The residual stream after the last block run.
        var last: UnsafeMutablePointer<Float> { blocks.last?.xOut ?? embed }
    }

    func takeActs(_ a: Arena, batch B: Int) -> Acts {
        let n = B * T
        let x = a.take(n * D), embed = a.take(n * W)
        var blocks: [LDAEModel.BlockActs] = [], cur = embed
        for l in 0..<depth {
            let bp = model.blocks[l], c = bp.width, drop = dropRates[l] > 0
            let ba = LDAEModel.BlockActs(xIn: cur, xMid: a.take(n * c), xOut: a.take(n * c), mean1: a.take(n), rstd1: a.take(n),
                                         mean2: a.take(n), rstd2: a.take(n), qkv: a.take(n * 3 * c), att: a.take(B * bp.heads * T * T),
                                         attOut: a.take(n * c), fc1: a.take(n * bp.hidden), mod: drop ? a.take(B * 6 * c) : nil,
                                         branch: drop ? a.take(n * c) : nil, branch2: drop ? a.take(n * c) : nil)
            blocks.append(ba); cur = ba.xOut
        }
        let norm = a.take(n * W), mean = a.take(n), rstd = a.take(n)
        let s = model.takeScratch(a, batch: B)
        let F = spec.features, C = spec.classes
        return Acts(x: x, embed: embed, blocks: blocks, norm: norm, mean: mean, rstd: rstd, s: s,
                    feats: a.take(B * F), logits: a.take(B * C), dLogits: a.take(B * C), dFeats: a.take(B * F),
                    dTaps: taps.map { _ in a.take(n * W) })
    }

    /// The buffers from image b0 on: the view a chunk of images works in (scratch rows at the model's strides, as
    /// `LDAEModel.images(from:of:)`).
    func view(_ a: Acts, from b0: Int) -> Acts {
        let r = b0 * T, m = model, s = a.s, cmax = m.cmax, hmax = m.hmax, F = spec.features, C = spec.classes
        let scratch = LDAEModel.Scratch(ln: s.ln + r * cmax, gelu: s.gelu + r * hmax, small: s.small + r * cmax,
                                        small2: s.small2 + r * cmax, big: s.big + r * max(hmax, 3 * cmax),
                                        dresDec: s.dresDec + r * m.V, dresEnc: s.dresEnc + r * W, dmod: s.dmod + b0 * 6 * cmax)
        return Acts(x: a.x + r * D, embed: a.embed + r * W, blocks: zip(a.blocks, m.blocks).map { $0.images(from: b0, $1, tokens: T) },
                    norm: a.norm + r * W, mean: a.mean + r, rstd: a.rstd + r, s: scratch,
                    feats: a.feats + b0 * F, logits: a.logits + b0 * C, dLogits: a.dLogits + b0 * C, dFeats: a.dFeats + b0 * F,
                    dTaps: a.dTaps.map { $0 + r * W })
    }

    func ensure(batch B: Int) -> Acts {
        if let a = acts, actsBatch == B { return a }
        let a = arena.carve { takeActs($0, batch: B) }
        acts = a; actsBatch = B
        return a
    }

    /// The tokens [N, W] of a tapped layer in a view.
    func tokens(_ v: Acts, _ l: FeatureLayer) -> UnsafeMutablePointer<Float> {
        switch l {
        case .embed: return v.embed
        case .block(let k): return v.blocks[k - 1].xOut
        case .final, .decoderBlock: return v.norm
        }
    }

    /// Writes each dropping block's modulation rows: shifts and scales 0, gates the images' branch scales (all 1
    /// when keep is nil).
    func setGates(_ a: Acts, batch B: Int, keep: DropPathMasks?) {
        for (l, ba) in a.blocks.enumerated() {
            guard let mod = ba.mod else { continue }
            let c = model.blocks[l].width
            mod.update(repeating: 0, count: B * 6 * c)
            for b in 0..<B {
                (mod + b * 6 * c + 2 * c).update(repeating: keep?.attn[l][b] ?? 1, count: c)
                (mod + b * 6 * c + 5 * c).update(repeating: keep?.mlp[l][b] ?? 1, count: c)
            }
        }
    }

    /// One chunk's encoder forward, then its images' feature rows.
    func encoderForward(_ v: Acts, batch nb: Int, plan: ExecutionPlan) {
        let m = model, p = m.params, n = nb * T, G = m.config.grid, F = spec.features
        Linear.forward(out: v.embed, inp: v.x, weight: p + m.patchEmbed.w, bias: p + m.patchEmbed.b, n: n, c: D, oc: W,
                       packedWeight: m.packed(m.patchEmbed), plan: plan)
        PosEmbedAdd.forward(x: v.embed, pos: p + m.posEmbed, b: nb, t: T, c: W, plan: plan)
        for l in 0..<depth { m.blockForward(m.blocks[l], v.blocks[l], ln: v.s.ln, geluOut: v.s.gelu, cs: nil, batch: nb, plan: plan) }
        if taps.contains(where: { $0.layer == .final }) {
            LayerNorm.forward(out: v.norm, mean: v.mean, rstd: v.rstd, inp: v.last, weight: p + m.norm.w, bias: p + m.norm.b,
                              n: n, c: W, plan: plan)
        }
        for (layer, offs) in taps {
            let src = tokens(v, layer)
            for i in 0..<nb { for off in offs { spec.pooling.poolOne(out: v.feats + i * F + off, x: src + i * T * W, grid: G, c: W) } }
        }
    }

    /// Training forward: x [B, T, D] pixel-scaled; keep: the images' drop-path scales (nil: none dropped). Returns
    /// the logits [B, C] (valid until the next forward) and keeps what `backward` needs.
    public func forwardTrain(_ x: UnsafePointer<Float>, batch B: Int, keep: DropPathMasks? = nil) -> UnsafePointer<Float> {
        require(B > 0)
        if let k = keep { require(k.attn.count == model.blocks.count && k.attn.allSatisfy { $0.count == B }, "drop-path masks for another batch") }
        let a = ensure(batch: B)
        a.x.update(from: x, count: B * T * D)
        setGates(a, batch: B, keep: keep)
        model.forwardChunks(batch: B) { _, b0, b1, plan in encoderForward(view(a, from: b0), batch: b1 - b0, plan: plan) }
        let C = spec.classes, F = spec.features
        BLAS.withOneThread {
            Linear.forward(out: a.logits, inp: a.feats, weight: headParams, bias: headParams + C * F, n: B, c: F, oc: C, plan: model.plan)
        }
        lastBatch = B; hasForward = true
        return UnsafePointer(a.logits)
    }

    /// Where the loss writes dL/dlogits [B, C] of the last forward.
    public var logitGradient: UnsafeMutablePointer<Float> { acts!.dLogits }

    /// Backward of the last `forwardTrain` from `logitGradient`, ADDING into the encoder's and the head's gradients.
    public func backward() {
        require(hasForward, "backward needs a forward since the last backward")
        defer { hasForward = false }
        let a = acts!, B = lastBatch, C = spec.classes, F = spec.features, n = B * T, G = model.config.grid
        let plan = model.plan
        BLAS.withOneThread {
            Linear.backward(dinp: a.dFeats, dweight: headGrads, dbias: headGrads + C * F, dout: a.dLogits, inp: a.feats,
                            weight: headParams, n: B, c: F, oc: C, overwriteDinp: true, plan: plan)
            for (i, tap) in taps.enumerated() {
                a.dTaps[i].update(repeating: 0, count: n * W)
                for off in tap.offsets { spec.pooling.poolBackward(dx: a.dTaps[i], dout: a.dFeats + off, b: B, grid: G, c: W, stride: F) }
            }
            model.packBackwardWeights()
            defer { model.backwardPacks.invalidate() }
            let k = plan.chunkTokens > 0 ? plan.chunkCount(B) : 1
            if k <= 1 { encoderBackward(a, batch: B, g: model.grads, plan: plan); return }
            let count = model.encoderParameterCount   // the encoder's tensors come first in the flat buffer
            let chunks = ChunkPlan.backward(batch: B, perChunk: max(1, plan.chunkTokens / T), workers: k, maxTail: plan.backwardTailChunks)
            let buffers = k - 1 + chunks.tail.count
            if workerGradsCount < buffers {
                LDAEModel.deallocateAligned(workerGrads)
                workerGrads = LDAEModel.allocateAligned(buffers * count)
                workerGradsCount = buffers
            }
            let parts = workerGrads!, serial = plan.serial
            func run(_ r: Range<Int>, into g: UnsafeMutablePointer<Float>) { encoderBackward(view(a, from: r.lowerBound), batch: r.count, g: g, plan: serial) }
            plan.sharesThenDynamic(k, tail: chunks.tail.count, share: { w in
                let g = w == 0 ? model.grads : parts + (w - 1) * count
                if w > 0 { g.update(repeating: 0, count: count) }
                for r in chunks.shares[w] { run(r, into: g) }
            }) { _, i in
                let g = parts + (k - 1 + i) * count
                g.update(repeating: 0, count: count)
                run(chunks.tail[i], into: g)
            }
            Residual.addInto(model.grads, sources: (0..<buffers).map { UnsafePointer(parts + $0 * count) }, n: count, plan: plan)
        }
    }

    /// The encoder's backward on one view from its tap gradients, adding the parameter gradients into g.
    func encoderBackward(_ v: Acts, batch nb: Int, g: UnsafeMutablePointer<Float>, plan: ExecutionPlan) {
        let m = model, p = m.params, n = nb * T, s = v.s, dres = s.dresEnc
        func tapGradient(_ l: FeatureLayer) -> UnsafeMutablePointer<Float>? { taps.firstIndex { $0.layer == l }.map { v.dTaps[$0] } }
        dres.update(repeating: 0, count: n * W)
        if let d = tapGradient(.final) {
            LayerNorm.backward(dinp: dres, dweight: g + m.norm.w, dbias: g + m.norm.b, dout: d, inp: v.last, weight: p + m.norm.w,
                               mean: v.mean, rstd: v.rstd, n: n, c: W, plan: plan)
        }
        let unused = UnsafeMutablePointer(s.dresDec)   // the conditioning's buffers: never read without adaLN weights
        for l in (0..<depth).reversed() {
            if let d = tapGradient(.block(l + 1)) { Residual.forward(out: dres, a: dres, b: d, n: n * W, plan: plan) }
            m.blockBackward(m.blocks[l], v.blocks[l], dres: dres, s: s, cs: unused, dcs: unused, batch: nb, g: g, plan: plan)
        }
        if let d = tapGradient(.embed) { Residual.forward(out: dres, a: dres, b: d, n: n * W, plan: plan) }
        PosEmbedAdd.backward(dpos: g + m.posEmbed, dx: dres, b: nb, t: T, c: W, plan: plan)
        Linear.backward(dinp: nil, dweight: g + m.patchEmbed.w, dbias: g + m.patchEmbed.b, dout: dres, inp: v.x,
                        weight: p + m.patchEmbed.w, n: n, c: D, oc: W, plan: plan)
    }

    /// Inference: logits [B, C] of clean images x [B, T, D] (no drop path), through the model's inference pass.
    public func logits(_ x: UnsafePointer<Float>, batch B: Int, out: UnsafeMutablePointer<Float>) {
        let C = spec.classes, F = spec.features
        var f = [Float](repeating: 0, count: B * F)
        f.withUnsafeMutableBufferPointer { fp in
            model.features(x, t: nil, batch: B, layers: spec.layers, pooling: spec.pooling, out: fp.baseAddress!)
            BLAS.withOneThread {
                Linear.forward(out: out, inp: fp.baseAddress!, weight: headParams, bias: headParams + C * F, n: B, c: F, oc: C, plan: model.plan)
            }
        }
    }
}
