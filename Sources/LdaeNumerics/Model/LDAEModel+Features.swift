import Foundation

// Features at any layer: the token mean of the residual stream where the representation is read.

/// A place in the network whose tokens are mean-pooled into features.
///   embed           patch embedding + positional embedding          [W]
///   block(k)        residual stream after encoder block k (1-based)  [W]
///   final           after the encoder's last norm (timm's pooled output, fc_norm=False)   [W]
///   decoderBlock(k) residual stream after decoder block k (1-based)  [V]
/// Written on the command line as `embed`, `1`..`depth`, `final`, `dec1`..`decN`.
public enum FeatureLayer: Hashable, Sendable, CustomStringConvertible, Codable {
    case embed
    case block(Int)
    case final
    case decoderBlock(Int)

    public var description: String {
        switch self {
        case .embed: return "embed"
        case .block(let k): return "\(k)"
        case .final: return "final"
        case .decoderBlock(let k): return "dec\(k)"
        }
    }

    /// Parses one layer name for a model of this configuration.
    public init(_ s: String, config c: ModelConfig) throws {
        let v = s.trimmingCharacters(in: .whitespaces).lowercased()
        func range(_ k: Int, _ n: Int, _ what: String) throws -> Int {
            guard k >= 1 && k <= n else {
                throw UsageError("layer '\(s)': the model has \(n) \(what) block\(n == 1 ? "" : "s") (1...\(n))")
            }
            return k
        }
        if v == "embed" { self = .embed } else if v == "final" { self = .final }
        else if v.hasPrefix("dec"), let k = Int(v.dropFirst(3)) { self = .decoderBlock(try range(k, c.decoderDepth, "decoder")) }
        else if let k = Int(v) { self = .block(try range(k, c.encoderDepth, "encoder")) }
        else { throw UsageError("layer '\(s)' is not embed, 1...\(c.encoderDepth), final or dec1...dec\(c.decoderDepth)") }
    }

    public var isDecoder: Bool { if case .decoderBlock = self { return true } else { return false } }

    /// "2,3,4" -> [.block(2), .block(3), .block(4)].
    public static func list(_ s: String, config c: ModelConfig) throws -> [FeatureLayer] {
        let parts = s.split(separator: ",").map(String.init)
        guard !parts.isEmpty else { throw UsageError("empty layer list") }
        return try parts.map { try FeatureLayer($0, config: c) }
    }

    /// Every layer of the model, in network order.
    public static func all(_ c: ModelConfig) -> [FeatureLayer] {
        [.embed] + (1...c.encoderDepth).map { .block($0) } + [.final] + (0..<c.decoderDepth).map { .decoderBlock($0 + 1) }
    }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        switch s {
        case "embed": self = .embed
        case "final": self = .final
        default:
            if s.hasPrefix("dec"), let k = Int(s.dropFirst(3)) { self = .decoderBlock(k) }
            else if let k = Int(s) { self = .block(k) }
            else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown layer '\(s)'")) }
        }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// How a layer's tokens [T, C] become features.
public enum FeaturePooling: String, MethodOption {
    /// The mean over all tokens: [C] (timm's global_pool='avg').
    case mean
    /// The mean over each cell of a 2 x 2 split of the token grid, row-major cells: [4 C], coarse layout kept.
    case grid2
    /// The same over a 4 x 4 split: [16 C].
    case grid4

    /// Cells per side.
    public var cells: Int {
        switch self { case .mean: return 1; case .grid2: return 2; case .grid4: return 4 }
    }
    /// Values per channel.
    public var factor: Int { cells * cells }

    /// Width of the concatenated features of `layers` for a model of configuration `c`.
    public func width(of layers: [FeatureLayer], config c: ModelConfig) -> Int {
        factor * layers.reduce(0) { $0 + ($1.isDecoder ? c.decoderWidth : c.encoderWidth) }
    }

    /// out [b, factor * c] from x [b, G*G, c]. Cell j of k along a side covers rows [floor(j G / k), floor((j+1) G / k)),
    /// so for an odd grid the later cells are the larger ones; k is capped at G.
    func pool(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, b: Int, grid G: Int, c: Int) {
        let k = cells
        if k == 1 { MeanPool.forward(out: out, x: x, b: b, t: G * G, c: c); return }
        let bounds = (0...k).map { min(G, $0 * G / k) }
        var cellOf = [Int](repeating: 0, count: G)
        for j in 0..<k { for r in bounds[j]..<bounds[j + 1] { cellOf[r] = j } }
        let size = (0..<k).map { bounds[$0 + 1] - bounds[$0] }
        for bi in 0..<b {
            let o = out + bi * k * k * c
            o.initialize(repeating: 0, count: k * k * c)
            for r in 0..<G { for col in 0..<G {
                let src = x + (bi * G * G + r * G + col) * c, dst = o + (cellOf[r] * k + cellOf[col]) * c
                for i in 0..<c { dst[i] += src[i] }
            } }
            for cy in 0..<k { for cx in 0..<k {
                let inv = 1 / Float(max(size[cy] * size[cx], 1))
                let dst = o + (cy * k + cx) * c
                for i in 0..<c { dst[i] *= inv }
            } }
        }
    }
}

extension LDAEModel {
    /// Width of one layer's features (before pooling's factor).
    public func width(of layer: FeatureLayer) -> Int {
        layer.isDecoder ? V : W
    }

    /// Pooled features of clean images at `layers`, concatenated in the order given.
    /// x [B, T, D] -> out [B, pooling.factor * sum of widths]. t nil means t = 0 (only used with adaLN).
    public func features(_ x: UnsafePointer<Float>, t: UnsafePointer<Float>?, batch: Int, layers: [FeatureLayer],
                         pooling: FeaturePooling = .mean, out: UnsafeMutablePointer<Float>) {
        if layers == [.final] && pooling == .mean { features(x, t: t, batch: batch, out: out); return }
        let F = pooling.factor, G = config.grid
        let total = F * layers.reduce(0) { $0 + width(of: $1) }
        var offsets: [FeatureLayer: [Int]] = [:]        // a layer may be asked for twice
        var o = 0
        for l in layers { offsets[l, default: []].append(o); o += F * width(of: l) }
        let needDecoder = layers.contains { $0.isDecoder }
        inferenceShares(batch: batch, t: t) { ib, b0, b1, plan in
            let nb = b1 - b0
            var pooled = [Float](repeating: 0, count: nb * F * cmax)
            func tap(_ layer: FeatureLayer, _ buf: UnsafePointer<Float>, _ c: Int) {
                guard let offs = offsets[layer] else { return }
                pooled.withUnsafeMutableBufferPointer { pp in
                    pooling.pool(out: pp.baseAddress!, x: buf, b: nb, grid: G, c: c)
                    for off in offs { for i in 0..<nb { (out + (b0 + i) * total + off).update(from: pp.baseAddress! + i * F * c, count: F * c) } }
                }
            }
            forwardEncoder(x + b0 * T * D, inferenceBuffers(ib, norm: ib.enc), cs: ib.cond.cs, batch: nb, plan: plan) { stage, buf in
                tap(stage == 0 ? .embed : .block(stage), buf, self.W)
            }
            tap(.final, ib.enc, W)
            guard needDecoder else { return }
            forwardDecoder(ib.enc, inferenceBuffers(ib, norm: ib.ln), out: nil, cs: ib.cond.cs, batch: nb, plan: plan) { k, buf in
                tap(.decoderBlock(k), buf, self.V)
            }
        }
    }
}
