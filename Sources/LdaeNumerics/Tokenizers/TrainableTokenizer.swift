import Foundation

/// One weight tensor of a trainable tokenizer: its name in the file (`w.NAME`), shape, offset in the flat buffer.
public struct TokenizerTensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let count: Int
    /// False for buffers set from the data and kept (the patch mean).
    public let trainable: Bool
    public init(name: String, shape: [Int], offset: Int, trainable: Bool = true) {
        self.name = name; self.shape = shape; self.offset = offset; count = shape.reduce(1, *); self.trainable = trainable
    }
}

/// A tokenizer while `ldae-fit-tokenizer` trains it: weights and gradients in flat buffers addressed by `layout`.
public protocol TrainableTokenizer: AnyObject {
    var parameterCount: Int { get }
    var params: UnsafeMutablePointer<Float> { get }
    var grads: UnsafeMutablePointer<Float> { get }
    var layout: [TokenizerTensor] { get }
    /// Data-dependent initialisation from a sample of patchified images x [B, T, D] (the patch mean; PCA init).
    func prepare(_ x: UnsafePointer<Float>, batch: Int) throws
    /// Zeroes the gradients, then writes d(loss)/d(params) for images x [B, T, D]; loss = reconstruction MSE (mean
    /// over every value) + kl_weight * KL (mean over every latent element). The posterior noise comes from rng.
    func lossAndGradient(_ x: UnsafePointer<Float>, batch: Int, rng: inout RNG) -> (mse: Double, kl: Double)
}

extension TrainableTokenizer {
    /// The weights as the file stores them.
    public func exportTensors() -> [(name: String, shape: [Int], values: [Float])] {
        layout.map { ($0.name, $0.shape, Array(UnsafeBufferPointer(start: params + $0.offset, count: $0.count))) }
    }

}
