// The token-wise linear weights, packed for the GEMM's B operand (in the layout of the plan's kernel) once per pass rather than once per chunk of
// rows (the same weights serve every chunk): the forward packs op(B) = weight^T at its start, every chunk of
// `forwardChunks` then reads the packed copy; the backward packs op(B) = weight for the input-gradient products
// (dinp = dout @ weight) at its start.

/// One packed copy of every token linear's weight, in one aligned allocation addressed by offset.
final class PackedLinearWeights {
    /// true: op(B) = weight^T [in, out] (the forward); false: op(B) = weight [out, in] (the input gradient).
    let transposed: Bool
    private var base: UnsafeMutablePointer<Float>? = nil
    private var offsets: [Int: Int] = [:]   // by the weight's parameter offset
    private var kernel = GEMMKernel.portable   // whose layout `base` holds
    /// Whether the current pass packed them from the current parameters.
    private(set) var ready = false

    init(transposed: Bool) { self.transposed = transposed }
    deinit { LDAEModel.deallocateAligned(base) }

    /// Packs every linear in `lins` from `params` for the plan's GEMM (bf16: rounded to bf16 here, once per pass);
    /// on the portable path marks them unpacked.
    func pack(_ lins: [LDAEModel.LinearP], params p: UnsafePointer<Float>, plan: ExecutionPlan) {
        ready = false
        let gemm = plan.gemm
        guard gemm.packs else { return }
        func shape(_ l: LDAEModel.LinearP) -> (k: Int, n: Int) { transposed ? (l.inF, l.outF) : (l.outF, l.inF) }
        if base == nil || kernel != gemm {
            LDAEModel.deallocateAligned(base)
            var off = 0
            for l in lins {
                offsets[l.w] = off
                let s = shape(l)
                off += (gemm.packedBSize(k: s.k, n: s.n) + 15) & ~15   // 64-byte aligned starts
            }
            base = LDAEModel.allocateAligned(off)
            kernel = gemm
        }
        let b = base!, offs = offsets, t = transposed
        plan.dynamic(lins.count) { _, i in
            let l = lins[i], s = shape(l)
            gemm.packB(transB: t, k: s.k, n: s.n, b: p + l.w, ldb: l.inF, into: b + offs[l.w]!)
        }
        ready = true
    }

    /// Marks the copy stale (the parameters are about to change, or the pass is over).
    func invalidate() { ready = false }

    /// Linear l's packed weight from this pass's `pack`, or nil (portable path, or not packed).
    func weight(_ l: LDAEModel.LinearP) -> UnsafePointer<Float>? {
        guard ready, let b = base, let off = offsets[l.w] else { return nil }
        return UnsafePointer(b + off)
    }
}

extension LDAEModel {
    /// The linears applied to every token in a forward (not adaLN's, which run on [B] rows).
    var tokenLinears: [LinearP] {
        [patchEmbed] + blocks.flatMap { [$0.qkv, $0.proj, $0.fc1, $0.fc2] } + [decoderEmbed]
            + decoderBlocks.flatMap { [$0.qkv, $0.proj, $0.fc1, $0.fc2] } + [decoderPred]
    }

    /// Packs the forward's weights from the current parameters. Called at the start of every forward.
    func packWeights() { forwardPacks.pack(tokenLinears, params: params, plan: plan) }

    /// Packs the input-gradient products' weights (every token linear but the patch embedding, whose input needs no
    /// gradient). Called at the start of every backward.
    func packBackwardWeights() { backwardPacks.pack(Array(tokenLinears.dropFirst()), params: params, plan: plan) }

    /// Linear l's weight as packed by this forward's `packWeights`, or nil (portable path).
    func packed(_ l: LinearP) -> UnsafePointer<Float>? { forwardPacks.weight(l) }

    /// Linear l's weight as packed by this backward's `packBackwardWeights`, or nil (portable path).
    func packedForBackward(_ l: LinearP) -> UnsafePointer<Float>? { backwardPacks.weight(l) }
}
