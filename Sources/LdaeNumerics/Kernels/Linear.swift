// Linear layer (torch nn.Linear, weight [OC, C]) over flat row-major buffers.
// Rows are split over the plan's threads; each runs a single-threaded GEMM on its rows, the plan's `gemm` (ldae's
// AVX2, AVX-512 or bf16 kernel, or OpenBLAS) for the forward and the input gradient (K = C or OC, at most a few
// hundred). The weight gradient (K = N rows, long reductions) takes OpenBLAS in fp32 on AVX2, where its kernel is the
// better one, and ldae's AVX-512 or bf16 kernel where the plan takes those (`ldae-train bench --kernels` compares them).

public enum Linear {
    /// out[N, OC] = inp[N, C] @ weight[OC, C]^T + bias[OC]   (accumulate: out += ...)
    /// geluOut [N, OC] (optional; may be out itself) = gelu(out), from the GEMM's registers with ldae's kernels:
    /// an MLP's fc1 and its activation in one pass. packedWeight: the weight from `plan.gemm.packB` (transB, k = C,
    /// n = OC), used by ldae's kernels instead of packing `weight` again.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, c: Int, oc: Int, accumulate: Bool = false,
                               geluOut: UnsafeMutablePointer<Float>? = nil, packedWeight: UnsafePointer<Float>? = nil,
                               plan: ExecutionPlan) {
        let gemm = plan.gemm
        plan.chunks(n, grain: 32) { r0, r1 in
            gemm.gemm(transA: false, transB: true, m: r1 - r0, n: oc, k: c, alpha: 1,
                              a: inp + r0 * c, lda: c, b: weight, ldb: c, beta: accumulate ? 1 : 0,
                              c: out + r0 * oc, ldc: oc, bias: bias, geluOut: geluOut.map { $0 + r0 * oc },
                              packedB: packedWeight)
        }
    }

    /// Backward of `forward`, ADDING into the gradients:
    ///   dinp[N, C] += dout[N, OC] @ weight[OC, C]   (overwriteDinp: = instead of +=; dinp nil: skipped)
    ///   dweight[OC, C] += dout^T @ inp[N, C]
    ///   dbias[OC] += sum over rows of dout
    /// dinpTimes [N, C] (optional, with overwriteDinp): dinp = (dout @ weight) * dinpTimes elementwise, in the GEMM's
    /// write-back (an MLP's fc2 input gradient times GELU's derivative: the gradient at fc1's output in one pass).
    /// packedWeight: the weight from `plan.gemm.packB` (not transposed, k = OC, n = C), used by ldae's kernels for
    /// the input gradient instead of packing `weight` again.
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, c: Int, oc: Int, overwriteDinp: Bool = false,
                                dinpTimes: UnsafePointer<Float>? = nil, packedWeight: UnsafePointer<Float>? = nil,
                                plan: ExecutionPlan) {
        require(dinpTimes == nil || overwriteDinp, "dinpTimes needs overwriteDinp")
        let gemm = plan.gemm
        var biasDone = false
        if let dinp {
            // with ldae's kernels the bias gradient comes with this product (column sums of dout, in fp32, taken as its
            // rows are packed or read): per-chunk partial sums, added into dbias in chunk order
            let fuse = dbias != nil && gemm != .portable
            let k = plan.chunkCount(n, grain: 32)
            let part: UnsafeMutablePointer<Float>? = fuse ? .allocate(capacity: k * oc) : nil
            part?.initialize(repeating: 0, count: k * oc)
            defer { part?.deallocate() }
            plan.chunksIndexed(n, grain: 32) { w, r0, r1 in
                gemm.gemm(transA: false, transB: false, m: r1 - r0, n: c, k: oc, alpha: 1,
                                  a: dout + r0 * oc, lda: oc, b: weight, ldb: c,
                                  beta: overwriteDinp ? 0 : 1, c: dinp + r0 * c, ldc: c, colsumA: part.map { $0 + w * oc },
                                  mulC: dinpTimes.map { $0 + r0 * c }, packedB: packedWeight)
            }
            if let part, let dbias {
                for w in 0..<k { for j in 0..<oc { dbias[j] += part[w * oc + j] } }
                biasDone = true
            }
        }
        // Weight gradient: split the reduction over rows (each core reads half of dout and inp); core 0 adds into
        // dweight, the others into partial sums added at the end. OpenBLAS on the AVX2 and portable paths.
        let wgemm: GEMMKernel = gemm == .avx512 || gemm == .bf16 ? gemm : .portable
        let k = plan.chunkCount(n, grain: 256)
        let part: UnsafeMutablePointer<Float>? = k > 1 ? .allocate(capacity: (k - 1) * oc * c) : nil
        defer { part?.deallocate() }
        plan.chunksIndexed(n, grain: 256) { w, r0, r1 in
            let dst = w == 0 ? dweight : part! + (w - 1) * oc * c
            wgemm.gemm(transA: true, transB: false, m: oc, n: c, k: r1 - r0, alpha: 1,
                       a: dout + r0 * oc, lda: oc, b: inp + r0 * c, ldb: c, beta: w == 0 ? 1 : 0, c: dst, ldc: c)
        }
        if let part {
            for w in 1..<k { Residual.forward(out: dweight, a: dweight, b: part + (w - 1) * oc * c, n: oc * c, plan: plan) }
        }
        if let dbias, !biasDone { columnSums(into: dbias, dout, n: n, oc: oc, plan: plan) }
    }

    /// acc[OC] += sum over rows of m[N, OC]
    static func columnSums(into acc: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, n: Int, oc: Int,
                           plan: ExecutionPlan) {
        let w = plan.workers
        let part = UnsafeMutablePointer<Float>.allocate(capacity: w * oc)
        part.initialize(repeating: 0, count: w * oc)
        defer { part.deallocate() }
        plan.chunksIndexed(n, grain: 64) { k, r0, r1 in
            let p = part + k * oc
            for r in r0..<r1 {
                let row = m + r * oc
                var j = 0
                while j + 8 <= oc { VMath.store(VMath.load(p + j) + VMath.load(row + j), p + j); j += 8 }
                while j < oc { p[j] += row[j]; j += 1 }
            }
        }
        for k in 0..<w { for j in 0..<oc { acc[j] += part[k * oc + j] } }
    }

    // MARK: naive reference (loops, Double accumulation)

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                    n: Int, c: Int, oc: Int) {
        for r in 0..<n {
            for o in 0..<oc {
                var s = Double(bias?[o] ?? 0)
                for i in 0..<c { s += Double(inp[r * c + i]) * Double(weight[o * c + i]) }
                out[r * oc + o] = Float(s)
            }
        }
    }

    public static func backwardNaive(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
                                     dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                     inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     n: Int, c: Int, oc: Int) {
        for r in 0..<n {
            for o in 0..<oc {
                let d = dout[r * oc + o]
                dbias?[o] += d
                for i in 0..<c {
                    dinp?[r * c + i] += d * weight[o * c + i]
                    dweight[o * c + i] += d * inp[r * c + i]
                }
            }
        }
    }
}
