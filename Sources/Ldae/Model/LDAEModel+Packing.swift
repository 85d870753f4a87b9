// The forward's token-wise linear weights, packed once per forward call for the AVX2 GEMM: every chunk of rows
// (`forwardChunks`) then reads the packed copy instead of packing its own (that packing was about 2% of the
// features time, at 16 chunks of a batch of 256).

extension LDAEModel {
    /// The linears applied to every token in a forward (not adaLN's, which run on [B] rows).
    var tokenLinears: [LinearP] {
        [patchEmbed] + blocks.flatMap { [$0.qkv, $0.proj, $0.fc1, $0.fc2] } + [decoderEmbed]
            + decoderBlocks.flatMap { [$0.qkv, $0.proj, $0.fc1, $0.fc2] } + [decoderPred]
    }

    /// Packs every token linear's weight [out, in] (op(B) = weight^T, [in, out]) from the current parameters, on the
    /// fast path; on the portable path marks them unpacked. Called at the start of every forward.
    func packWeights() {
        packedReady = false
        guard FastKernels.enabled else { return }
        let lins = tokenLinears
        if packedWeights == nil {
            var off = 0
            for l in lins {
                packedOffsets[l.w] = off
                off += (FastKernels.packedBSize(k: l.inF, n: l.outF) + 15) & ~15   // 64-byte aligned starts
            }
            packedWeights = LDAEModel.allocateAligned(off)
        }
        let base = packedWeights!, p = params, offsets = packedOffsets
        Parallel.dynamic(lins.count) { _, i in
            let l = lins[i]
            FastKernels.packB(transB: true, k: l.inF, n: l.outF, b: p + l.w, ldb: l.inF, into: base + offsets[l.w]!)
        }
        packedReady = true
    }

    /// Linear l's weight as packed by this forward's `packWeights`, or nil (portable path).
    func packed(_ l: LinearP) -> UnsafePointer<Float>? {
        guard packedReady, let base = packedWeights, let off = packedOffsets[l.w] else { return nil }
        return UnsafePointer(base + off)
    }
}
