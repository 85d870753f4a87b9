import Foundation

// The classifier's head: which tokens it reads (`HeadSpec`), the softmax cross-entropy with label smoothing, and the
// backward of the token pooling. The head itself is a linear layer (torch nn.Linear, weight [C, F], bias [C]) run by
// `Linear.forward` / `Linear.backward` (Classifier.swift).

/// What the linear head reads: the tokens of `layers`, each pooled by `pooling`, concatenated in order (F values),
/// mapped to `classes` logits. The default head is `[.final]` with mean pooling: timm's global_pool='avg'.
public struct HeadSpec: Codable, Equatable, Sendable {
    public var kind: FinetuneHead
    public var layers: [FeatureLayer]
    public var pooling: FeaturePooling
    public var classes: Int
    /// F, the head's input width.
    public var features: Int

    public init(kind: FinetuneHead, layers: [FeatureLayer], pooling: FeaturePooling, classes: Int, config: ModelConfig) {
        self.kind = kind; self.layers = layers; self.pooling = pooling; self.classes = classes
        features = pooling.width(of: layers, config: config)
    }

    /// The pooled head (timm's) on a model of this configuration.
    public static func pooled(classes: Int, config: ModelConfig) -> HeadSpec {
        HeadSpec(kind: .pooled, layers: [.final], pooling: .mean, classes: classes, config: config)
    }

    /// Weights then bias: C * F + C floats.
    public var parameterCount: Int { classes * features + classes }

    /// Encoder blocks the head needs run (the highest block read; every block when `final` is read).
    public func depthNeeded(_ c: ModelConfig) -> Int {
        layers.map { l -> Int in
            switch l { case .embed: return 0; case .block(let k): return k; case .final: return c.encoderDepth; case .decoderBlock: return c.encoderDepth }
        }.max() ?? c.encoderDepth
    }

    /// Refuses layers a classifier cannot read (the decoder is not part of it) and widths that do not add up.
    public func validate(_ c: ModelConfig) throws {
        guard classes >= 2 else { throw LdaeError("a classifier needs at least 2 classes, got \(classes)") }
        guard !layers.isEmpty else { throw LdaeError("the head reads no layer") }
        if let l = layers.first(where: \.isDecoder) {
            throw LdaeError("the head cannot read decoder layer \(l): a classifier keeps only the encoder")
        }
        for l in layers { if case .block(let k) = l, !(1...c.encoderDepth).contains(k) { throw LdaeError("the head reads block \(k) of a \(c.encoderDepth)-block encoder") } }
        guard features == pooling.width(of: layers, config: c) else {
            throw LdaeError("the head's input width \(features) is not what layers \(layers.map(\.description).joined(separator: ",")) with \(pooling.rawValue) pooling give (\(pooling.width(of: layers, config: c)))")
        }
    }
}

/// Softmax cross-entropy against label-smoothed targets q = (1 - s) onehot(y) + s / C (timm's
/// LabelSmoothingCrossEntropy), summed in Double.
public enum SoftmaxCrossEntropy {
    /// Returns the sum over the n rows of -sum_c q_c log p_c; writes dLogits[n, C] = (p - q) * scale when given.
    public static func loss(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, n: Int, classes C: Int,
                            smoothing s: Double, scale: Float, dLogits: UnsafeMutablePointer<Float>?) -> Double {
        var total = 0.0
        let off = s / Double(C), on = 1 - s + off
        var p = [Double](repeating: 0, count: C)
        for i in 0..<n {
            let z = logits + i * C, y = Int(labels[i])
            var m = -Double.infinity
            for c in 0..<C { m = max(m, Double(z[c])) }
            var sum = 0.0
            for c in 0..<C { p[c] = Foundation.exp(Double(z[c]) - m); sum += p[c] }
            let logSum = Foundation.log(sum) + m
            for c in 0..<C {
                let q = c == y ? on : off
                total -= q * (Double(z[c]) - logSum)
                if let d = dLogits { d[i * C + c] = Float((p[c] / sum - q)) * scale }
            }
        }
        return total
    }

    /// The rank of the true class y among the logits (0: the top class); ties favour the lower index, as
    /// `topKAccuracy`.
    public static func rank(logits z: UnsafePointer<Float>, label y: Int, classes C: Int) -> Int {
        let sy = z[y]
        var higher = 0
        for j in 0..<C where j != y { if z[j] > sy || (z[j] == sy && j < y) { higher += 1 } }
        return higher
    }
}

extension FeaturePooling {
    /// Backward of `pool`, ADDING: dx [b, G*G, c] += each cell's dout [b, factor * c] / the cell's token count.
    func poolBackward(dx: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, b: Int, grid G: Int, c: Int, stride: Int) {
        let bounds = (0...cells).map { min(G, $0 * G / cells) }
        var cellOf = [Int](repeating: 0, count: G)
        for j in 0..<cells { for r in bounds[j]..<bounds[j + 1] { cellOf[r] = j } }
        let size = (0..<cells).map { bounds[$0 + 1] - bounds[$0] }
        for bi in 0..<b {
            let d = dout + bi * stride
            for r in 0..<G { for col in 0..<G {
                let cy = cellOf[r], cx = cellOf[col]
                let inv = 1 / Float(max(size[cy] * size[cx], 1))
                let src = d + (cy * cells + cx) * c, dst = dx + (bi * G * G + r * G + col) * c
                for i in 0..<c { dst[i] += src[i] * inv }
            } }
        }
    }

    /// `pool` of one image's tokens x [G*G, c] into out [factor * c] (a row of a wider feature matrix).
    func poolOne(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, grid G: Int, c: Int) {
        pool(out: out, x: x, b: 1, grid: G, c: c)
    }
}
