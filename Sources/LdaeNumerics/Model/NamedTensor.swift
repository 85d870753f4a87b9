/// A named float tensor in row-major order: what the model exports and loads (`LDAEModel.exportTensors`), and what
/// safetensors files hold (`Safetensors.Tensor`).
public struct NamedTensor: Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    public init(_ name: String, shape: [Int], values: [Float]) {
        require(shape.reduce(1, *) == values.count, "tensor \(name): shape \(shape) vs \(values.count) values")
        self.name = name; self.shape = shape; self.values = values
    }
}
