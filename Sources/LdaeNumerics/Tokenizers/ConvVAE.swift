import Foundation

// A small convolutional VAE tokenizer (the l-DAE paper's `conv-vae`, Table 2): one d-vector per p x p patch.
// Activations are NHWC (channels last); a layer's side at resolution level r is S / 2^r and its width
// ch(r) = w * 2^min(r, 1) (w at full resolution, 2w below); L = log2(p) levels down, grid g = S / p.
//
//   encoder: x [B, T, D] -> image [B, S, S, C]
//            conv_in 3x3 s1 p1 (C -> w) + SiLU
//            L x [down.i: conv 4x4 s2 p1 (ch(i) -> ch(i+1)) + SiLU]
//            conv_out 1x1 (2w -> 2d) = (mean | raw logvar) per cell; logvar = clamp(raw, -30, 20)
//   decoder: z [B, T, d] = [B, g, g, d]
//            conv_in 1x1 (d -> 2w) + SiLU
//            L x [nearest upsample x2, up.j: conv 3x3 s1 p1 (ch(r+1) -> ch(r)) + SiLU]   (r = L-1-j)
//            conv_out 3x3 s1 p1 (w -> C), no output activation -> image [B, S, S, C] -> x_hat [B, T, D]
//
// Parameters and gradients are flat buffers addressed by offset (llm.c style); conv weights [OC, k, k, IC]
// (Kernels/Conv2D.swift), biases [OC]. Forward passes are in ConvVAE+Forward.swift, the training pass in
// ConvVAE+Backward.swift. One pass at a time per instance (the activation buffers are shared); single-threaded
// apart from OpenBLAS's own threads, which are the caller's choice.

public final class ConvVAE {
    public let config: ConvVAEConfig
    public let parameterCount: Int
    /// [parameterCount] each, addressed by the tensors' offsets.
    public let params: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>

    public struct Tensor: Sendable {
        public let name: String
        /// Conv weights [OC, k, k, IC] (torch's [OC, IC, k, k] permuted by (0, 2, 3, 1)); biases [OC].
        public let shape: [Int]
        public let offset: Int
        public let count: Int
    }

    /// Every parameter tensor, in storage order.
    public let tensors: [Tensor]

    /// One conv layer: parameter offsets and sizes; `side` is its input's height and width.
    struct ConvP {
        let w: Int, b: Int
        let inC: Int, outC: Int, kernel: Int, stride: Int, pad: Int, side: Int
        var outSide: Int { Conv2D.outputSize(side, kernel: kernel, stride: stride, pad: pad) }
    }

    /// Kernel of the encoder's stride-2 convs (4x4, pad 1: every input pixel under exactly two taps per axis).
    static let downKernel = 4

    let S: Int, C: Int, d: Int, L: Int, g: Int
    let encIn: ConvP
    let encDown: [ConvP]
    let encOut: ConvP
    let decIn: ConvP
    /// Indexed by j = 0..<L, from the coarsest level up: up.j writes level L-1-j.
    let decUp: [ConvP]
    let decOut: ConvP
    let arena = Arena()

    /// Channels at resolution level r.
    func ch(_ r: Int) -> Int { config.width * (r == 0 ? 1 : 2) }

    /// The network's layers in storage order, with their parameter tensors: computed without allocating (a file's
    /// weights are checked against `layout(config).tensors` before a VAE of its settings is built).
    package struct Layout {
        package var tensors: [Tensor] = []
        var count = 0
        let encIn: ConvP, encDown: [ConvP], encOut: ConvP, decIn: ConvP, decUp: [ConvP], decOut: ConvP
    }

    package static func layout(_ config: ConvVAEConfig) -> Layout {
        let (S, C, d, L, width) = (config.imageSize, config.channels, config.latentDim, config.stages, config.width)
        let g = config.grid
        func ch(_ r: Int) -> Int { width * (r == 0 ? 1 : 2) }
        var list: [Tensor] = []
        var off = 0
        func conv(_ name: String, _ inC: Int, _ outC: Int, kernel: Int, stride: Int, pad: Int, side: Int) -> ConvP {
            let wn = outC * kernel * kernel * inC
            list.append(Tensor(name: name + ".weight", shape: [outC, kernel, kernel, inC], offset: off, count: wn))
            list.append(Tensor(name: name + ".bias", shape: [outC], offset: off + wn, count: outC))
            defer { off += wn + outC }
            return ConvP(w: off, b: off + wn, inC: inC, outC: outC, kernel: kernel, stride: stride, pad: pad, side: side)
        }
        let encIn = conv("encoder.conv_in", C, ch(0), kernel: 3, stride: 1, pad: 1, side: S)
        let encDown = (0..<L).map { i in
            conv("encoder.down.\(i)", ch(i), ch(i + 1), kernel: ConvVAE.downKernel, stride: 2, pad: 1, side: S >> i)
        }
        let encOut = conv("encoder.conv_out", ch(L), 2 * d, kernel: 1, stride: 1, pad: 0, side: g)
        let decIn = conv("decoder.conv_in", d, ch(L), kernel: 1, stride: 1, pad: 0, side: g)
        let decUp = (0..<L).map { j in
            let r = L - 1 - j
            return conv("decoder.up.\(j)", ch(r + 1), ch(r), kernel: 3, stride: 1, pad: 1, side: S >> r)
        }
        let decOut = conv("decoder.conv_out", ch(0), C, kernel: 3, stride: 1, pad: 1, side: S)
        return Layout(tensors: list, count: off, encIn: encIn, encDown: encDown, encOut: encOut, decIn: decIn, decUp: decUp,
                      decOut: decOut)
    }

    public init(config: ConvVAEConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        S = config.imageSize; C = config.channels; d = config.latentDim; L = config.stages; g = config.grid
        let l = ConvVAE.layout(config)
        (encIn, encDown, encOut, decIn, decUp, decOut) = (l.encIn, l.encDown, l.encOut, l.decIn, l.decUp, l.decOut)
        tensors = l.tensors
        parameterCount = l.count
        params = LDAEModel.allocateAligned(parameterCount)
        grads = LDAEModel.allocateAligned(parameterCount)
        initialize(seed: seed)
    }

    deinit {
        LDAEModel.deallocateAligned(params); LDAEModel.deallocateAligned(grads)
        arena.free()
    }

    /// torch's default conv init (kaiming_uniform with a = sqrt(5)): weights and biases uniform in
    /// [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = k * k * IC; tensor i from RNG(seed, stream: i).
    func initialize(seed: UInt64) {
        for (i, t) in tensors.enumerated() {
            var rng = RNG(seed: seed, stream: UInt64(i))
            let fanIn = t.name.hasSuffix(".bias") ? tensors[i - 1].shape.dropFirst().reduce(1, *) : t.shape.dropFirst().reduce(1, *)
            let bound = 1 / Double(fanIn).squareRoot()
            let p = params + t.offset
            for k in 0..<t.count { p[k] = Float((2 * rng.uniform() - 1) * bound) }
        }
    }

    /// Posterior mean and log-variance (clamped to [-30, 20]) [B, T, d] each, of patchified x [B, T, D].
    public func encode(_ x: UnsafePointer<Float>, batch: Int, mean: UnsafeMutablePointer<Float>,
                       logvar: UnsafeMutablePointer<Float>) {
        require(batch >= 1, "conv-vae: batch must be >= 1")
        let a = activations(batch: batch)
        unpatchify(x, into: a.img, batch: batch)
        forwardEncoder(a, batch: batch)
        let n = batch * g * g * d
        mean.update(from: a.mean, count: n)
        logvar.update(from: a.logvar, count: n)
    }

    /// x_hat [B, T, D] (patchified, pixel scale) from z [B, T, d].
    public func decode(_ z: UnsafePointer<Float>, batch: Int, out: UnsafeMutablePointer<Float>) {
        require(batch >= 1, "conv-vae: batch must be >= 1")
        let a = activations(batch: batch)
        forwardDecoder(a, z: z, batch: batch)
        patchify(a.out, into: out, batch: batch)
    }

    // MARK: patchified tokens <-> NHWC images

    /// img [B, S, S, C] from x [B, T, D] (PatchGeometry's layout: tokens row-major, (row, col, channel) in a patch):
    /// each patch row is p * C contiguous floats in both.
    func unpatchify(_ x: UnsafePointer<Float>, into img: UnsafeMutablePointer<Float>, batch: Int) {
        let p = config.patchSize, run = p * C, D = p * run
        for b in 0..<batch { for ty in 0..<g { for tx in 0..<g { for py in 0..<p {
            let src = x + ((b * g + ty) * g + tx) * D + py * run
            (img + ((b * S + ty * p + py) * S + tx * p) * C).update(from: src, count: run)
        } } } }
    }

    /// x [B, T, D] from img [B, S, S, C] (the inverse of `unpatchify`).
    func patchify(_ img: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, batch: Int) {
        let p = config.patchSize, run = p * C, D = p * run
        for b in 0..<batch { for ty in 0..<g { for tx in 0..<g { for py in 0..<p {
            let dst = x + ((b * g + ty) * g + tx) * D + py * run
            dst.update(from: img + ((b * S + ty * p + py) * S + tx * p) * C, count: run)
        } } } }
    }
}
