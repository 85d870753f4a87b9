// Weights in and out: timm layout for the encoder (patch_embed.proj.weight as a conv weight [W, 3, p, p]),
// the decoder under decoder_* names, as named tensors (F32 in safetensors files).

extension LDAEModel {
    /// The exported shape of a tensor (timm's, for patch_embed.proj.weight a conv weight [W, C, p, p]).
    public func exportShape(_ info: TensorInfo) -> [Int] {
        info.name == "patch_embed.proj.weight" ? [W, config.channels, config.patchSize, config.patchSize] : info.shape
    }

    /// Weights in timm layout + decoder tensors, in parameter order.
    public func exportTensors() -> [NamedTensor] { exportTensors(from: params) }

    /// The same for another set of weights in this model's layout (e.g. the EMA of the parameters).
    public func exportTensors(from weights: UnsafePointer<Float>) -> [NamedTensor] {
        tensors.map { info in
            var v = Array(UnsafeBufferPointer(start: weights + info.offset, count: info.count))
            if info.name == "patch_embed.proj.weight" { v = patchWeightToConv(v) }
            return NamedTensor(info.name, shape: exportShape(info), values: v)
        }
    }

    /// Strict load: every tensor of this model must be present with its exported shape (extra names are ignored,
    /// e.g. optimizer state kept in the same file). Errors name the tensor.
    public func load(_ dict: [String: NamedTensor]) throws {
        for info in tensors {
            guard let t = dict[info.name] else { throw LdaeError("weights: missing tensor '\(info.name)'") }
            let shape = exportShape(info)
            guard t.shape == shape, t.values.count == info.count else {
                throw LdaeError("weights: tensor '\(info.name)' has shape \(t.shape), expected \(shape)")
            }
            if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
                throw LdaeError("weights: tensor '\(info.name)' has a non-finite value at index \(bad)")
            }
        }
        for info in tensors {
            var v = dict[info.name]!.values
            if info.name == "patch_embed.proj.weight" { v = patchWeightFromConv(v) }
            v.withUnsafeBufferPointer { (params + info.offset).update(from: $0.baseAddress!, count: info.count) }
        }
    }

    /// ours [W, (i*p + j)*C + ch]  ->  conv [W, ch, i, j]
    func patchWeightToConv(_ v: [Float]) -> [Float] {
        let p = config.patchSize, ch = config.channels
        var out = [Float](repeating: 0, count: v.count)
        for o in 0..<W { for c in 0..<ch { for i in 0..<p { for j in 0..<p {
            out[((o * ch + c) * p + i) * p + j] = v[o * D + (i * p + j) * ch + c]
        } } } }
        return out
    }

    func patchWeightFromConv(_ v: [Float]) -> [Float] {
        let p = config.patchSize, ch = config.channels
        var out = [Float](repeating: 0, count: v.count)
        for o in 0..<W { for c in 0..<ch { for i in 0..<p { for j in 0..<p {
            out[o * D + (i * p + j) * ch + c] = v[((o * ch + c) * p + i) * p + j]
        } } } }
        return out
    }

    /// Looks up a tensor by name.
    public func tensor(named name: String) -> TensorInfo? { tensors.first { $0.name == name } }
}
