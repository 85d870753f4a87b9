// The activation buffers: what a training forward saves for the backward, and one core's inference buffers. Each
// layout is one function of `take`s on an `Arena` (run twice: count, then carve), so sizes are written only there.
//
// Shapes: B batch, T tokens, N = B*T rows, C a block's width (W encoder, V decoder), Cmax = max(W, V),
// Hd = C * mlp_ratio, Hmax = Cmax * mlp_ratio, D = p*p*3.

extension LDAEModel {
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
        /// chunk of images [b0, b0 + nb) works in.
        func images(from b0: Int, _ bp: BlockP, tokens T: Int) -> BlockActs {
            let r = b0 * T, c = bp.width
            return BlockActs(xIn: xIn + r * c, xMid: xMid + r * c, xOut: xOut + r * c,
                             mean1: mean1 + r, rstd1: rstd1 + r, mean2: mean2 + r, rstd2: rstd2 + r,
                             qkv: qkv + r * 3 * c, att: att.map { $0 + b0 * bp.heads * T * T }, attOut: attOut + r * c,
                             fc1: fc1 + r * bp.hidden, mod: mod.map { $0 + b0 * 6 * c },
                             branch: branch.map { $0 + r * c }, branch2: branch2.map { $0 + r * c })
        }
    }

    /// The backward's scratch, rows at the widest layer's stride.
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

    /// adaLN conditioning: freq [B, 256], h1 = mlp.0 [B, W], s1 = SiLU(h1), c = mlp.2 [B, W] (+ the label's embedding
    /// row), cs = SiLU(c) [B, W], dcs = dL/dcs [B, W], y [B] the class labels as floats (C = the null label).
    struct Cond { var freq, h1, s1, c, cs, dcs, y: UnsafeMutablePointer<Float> }

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
        var cond: Cond
        var s: Scratch
    }

    /// One core's inference buffers: one residual stream, one block's scratch reused by every block.
    struct InferBufs {
        var x: UnsafeMutablePointer<Float>        // [N, Cmax] residual stream
        var enc: UnsafeMutablePointer<Float>      // [N, W] encoder output after norm
        var block: BlockActs
        var ln: UnsafeMutablePointer<Float>       // [N, Cmax]
        var cond: Cond
    }

    var cmax: Int { max(W, V) }
    var hmax: Int { cmax * config.mlpRatio }

    // MARK: layouts

    func takeCond(_ a: Arena, batch: Int) -> Cond {
        Cond(freq: a.take(batch * LDAEModel.freqDim), h1: a.take(batch * W), s1: a.take(batch * W),
             c: a.take(batch * W), cs: a.take(batch * W), dcs: a.take(batch * W), y: a.take(batch))
    }

    func takeScratch(_ a: Arena, batch: Int) -> Scratch {
        let n = batch * T
        return Scratch(ln: a.take(n * cmax), gelu: a.take(n * hmax), small: a.take(n * cmax), small2: a.take(n * cmax),
                       big: a.take(n * max(hmax, 3 * cmax)), dresDec: a.take(n * V), dresEnc: a.take(n * W),
                       dmod: a.take(batch * 6 * cmax))
    }

    /// A training block's saved activations after its input xIn (the previous block's xOut).
    func takeBlockActs(_ a: Arena, _ bp: BlockP, batch: Int, xIn: UnsafeMutablePointer<Float>) -> BlockActs {
        let n = batch * T, c = bp.width
        return BlockActs(xIn: xIn, xMid: a.take(n * c), xOut: a.take(n * c),
                         mean1: a.take(n), rstd1: a.take(n), mean2: a.take(n), rstd2: a.take(n),
                         qkv: a.take(n * 3 * c), att: a.take(batch * bp.heads * T * T), attOut: a.take(n * c),
                         fc1: a.take(n * bp.hidden),
                         mod: adaln ? a.take(batch * 6 * c) : nil,
                         branch: adaln ? a.take(n * c) : nil, branch2: adaln ? a.take(n * c) : nil)
    }

    /// Everything a training forward saves, in order: input, encoder, decoder, output, conditioning, scratch.
    func takeTrainActs(_ a: Arena, batch: Int) -> TrainActs {
        let n = batch * T
        let x = a.take(n * D), t = a.take(batch)
        var enc: [BlockActs] = [], cur = a.take(n * W)                  // the patch embedding
        for bp in blocks { let ba = takeBlockActs(a, bp, batch: batch, xIn: cur); enc.append(ba); cur = ba.xOut }
        let encOut = cur
        let encNorm = a.take(n * W), encMean = a.take(n), encRstd = a.take(n)
        var dec: [BlockActs] = []
        cur = a.take(n * V)                                             // the decoder embedding
        for bp in decoderBlocks { let ba = takeBlockActs(a, bp, batch: batch, xIn: cur); dec.append(ba); cur = ba.xOut }
        let decOut = cur
        let decNorm = a.take(n * V), decMean = a.take(n), decRstd = a.take(n)
        let out = a.take(n * D)
        return TrainActs(x: x, t: t, enc: enc, encOut: encOut, encNorm: encNorm, encMean: encMean, encRstd: encRstd,
                         dec: dec, decOut: decOut, decNorm: decNorm, decMean: decMean, decRstd: decRstd, out: out,
                         cond: takeCond(a, batch: batch), s: takeScratch(a, batch: batch))
    }

    /// One core's inference buffers at the widest layer's widths (no attention probabilities kept).
    func takeInferBufs(_ a: Arena, batch: Int) -> InferBufs {
        let n = batch * T, c = cmax
        let x = a.take(n * c), enc = a.take(n * W), ln = a.take(n * c)
        let block = BlockActs(xIn: x, xMid: x, xOut: x, mean1: a.take(n), rstd1: a.take(n), mean2: a.take(n),
                              rstd2: a.take(n), qkv: a.take(n * 3 * c), att: nil, attOut: a.take(n * c),
                              fc1: a.take(n * hmax), mod: adaln ? a.take(batch * 6 * c) : nil,
                              branch: adaln ? a.take(n * c) : nil, branch2: adaln ? a.take(n * c) : nil)
        return InferBufs(x: x, enc: enc, block: block, ln: ln, cond: takeCond(a, batch: batch))
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
                       cs: a.cond.cs + b0 * W, dcs: a.cond.dcs + b0 * W, y: a.cond.y + b0),
            s: Scratch(ln: s.ln + r * cmax, gelu: s.gelu + r * hmax, small: s.small + r * cmax, small2: s.small2 + r * cmax,
                       big: s.big + r * max(hmax, 3 * cmax), dresDec: s.dresDec + r * V, dresEnc: s.dresEnc + r * W,
                       dmod: s.dmod + b0 * 6 * cmax))
    }

    /// The training activations for this batch size (carved again when it changes).
    func ensureTraining(batch: Int) -> TrainActs {
        if let a = acts, trainBatch == batch { return a }
        let a = train.carve { takeTrainActs($0, batch: batch) }
        acts = a
        trainBatch = batch
        return a
    }

    func ensureInference(_ arena: Arena, batch: Int) -> InferBufs {
        arena.carve { takeInferBufs($0, batch: batch) }
    }

    /// Bytes of activation memory held (training and inference arenas), for reports.
    public func activationBytes(batch: Int) -> Int { train.capacity * 4 + inferArenas.reduce(0) { $0 + $1.capacity * 4 } }
}
