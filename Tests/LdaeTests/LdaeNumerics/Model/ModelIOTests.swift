import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The model's weights in timm's layout: export, load, names, shapes, the decay mask.
final class ModelIOTests: XCTestCase {
    func testExportLoadRoundTripAndStrictErrors() throws {
        let config = ModelTests.tinyTestConfig(posEmbed: .learned)
        let a = try LDAEModel(config: config, seed: 1)
        let b = try LDAEModel(config: config, seed: 2)
        let path = TestSupport.tempDir() + "/w.safetensors"
        try Safetensors.write(a.exportTensors(), to: path)
        let read = try Safetensors.read(path)
        try b.load(read.tensors)
        for i in 0..<a.parameterCount { XCTAssertEqual(a.params[i], b.params[i]) }
        var rng = RNG(seed: 3)
        let x = FD.randn(2 * config.tokens * config.tokenDim, &rng)
        var fa = [Float](repeating: 0, count: 2 * 16), fb = fa
        a.features(x, t: nil, batch: 2, out: &fa); b.features(x, t: nil, batch: 2, out: &fb)
        XCTAssertEqual(fa, fb)

        var missing = read.tensors
        missing["blocks.1.attn.proj.weight"] = nil
        XCTAssertThrowsError(try b.load(missing)) { XCTAssert("\($0)".contains("blocks.1.attn.proj.weight")) }
        var wrong = read.tensors
        wrong["norm.weight"] = Safetensors.Tensor("norm.weight", shape: [15], values: [Float](repeating: 1, count: 15))
        XCTAssertThrowsError(try b.load(wrong)) { XCTAssert("\($0)".contains("norm.weight")) }
        var nan = read.tensors
        nan["norm.bias"] = Safetensors.Tensor("norm.bias", shape: [16], values: [Float](repeating: .nan, count: 16))
        XCTAssertThrowsError(try b.load(nan)) { XCTAssert("\($0)".contains("norm.bias")) }
    }

    func testTimmLayoutNamesShapesAndDecayMask() throws {
        let config = ModelPreset.tiny.config
        let m = try LDAEModel(config: config, seed: 0)
        let shapes = Dictionary(uniqueKeysWithValues: m.exportTensors().map { ($0.name, $0.shape) })
        XCTAssertEqual(shapes["patch_embed.proj.weight"], [192, 3, 4, 4])
        XCTAssertEqual(shapes["patch_embed.proj.bias"], [192])
        XCTAssertEqual(shapes["pos_embed"], [1, 64, 192])
        XCTAssertEqual(shapes["blocks.0.norm1.weight"], [192])
        XCTAssertEqual(shapes["blocks.0.attn.qkv.weight"], [576, 192])
        XCTAssertEqual(shapes["blocks.0.attn.qkv.bias"], [576])
        XCTAssertEqual(shapes["blocks.11.attn.proj.weight"], [192, 192])
        XCTAssertEqual(shapes["blocks.11.mlp.fc1.weight"], [768, 192])
        XCTAssertEqual(shapes["blocks.11.mlp.fc2.weight"], [192, 768])
        XCTAssertEqual(shapes["norm.bias"], [192])
        XCTAssertEqual(shapes["decoder_embed.weight"], [128, 192])
        XCTAssertEqual(shapes["decoder_pos_embed"], [1, 64, 128])
        XCTAssertEqual(shapes["decoder_blocks.3.attn.qkv.weight"], [384, 128])
        XCTAssertEqual(shapes["decoder_norm.weight"], [128])
        XCTAssertEqual(shapes["decoder_pred.weight"], [48, 128])
        XCTAssertNil(shapes["blocks.12.norm1.weight"])
        // encoder tensors are exactly timm's VisionTransformer(class_token=False, global_pool='avg') state dict
        let blockKeys = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                         "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"]
        let timm = Set(["patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed", "norm.weight", "norm.bias"]
                       + (0..<12).flatMap { l in blockKeys.map { "blocks.\(l).\($0)" } })
        XCTAssertEqual(Set(m.tensors.filter { $0.encoder }.map { $0.name }), timm)
        XCTAssert(m.tensors.filter { !$0.encoder }.allSatisfy { $0.name.hasPrefix("decoder_") })
        // parameter counts from the architecture
        func vit(_ w: Int, _ depth: Int, _ r: Int) -> Int { depth * (4 * w + (3 * w * w + 3 * w) + (w * w + w) + 2 * r * w * w + r * w + w) }
        let enc = 48 * 192 + 192 + 64 * 192 + vit(192, 12, 4) + 2 * 192
        let dec = 192 * 128 + 128 + 64 * 128 + vit(128, 4, 4) + 2 * 128 + 128 * 48 + 48
        XCTAssertEqual(m.encoderParameterCount, enc)
        XCTAssertEqual(m.parameterCount, enc + dec)
        XCTAssertEqual(Double(m.parameterCount) / 1e6, 6.18, accuracy: 0.015)  // the reference config
        // weight decay on linear weights only
        for info in m.tensors {
            let isLinearWeight = info.name.hasSuffix(".weight") && !info.name.contains("norm")
            XCTAssertEqual(info.decay, isLinearWeight, info.name)
        }
        XCTAssertEqual(m.tensors.filter { !$0.trainable }.map { $0.name }, ["pos_embed", "decoder_pos_embed"])
        // training FLOPs of the reference step (issue: 319 GFLOP at batch 128)
        XCTAssertEqual(m.trainingFlops(batch: 128) / 1e9, 319, accuracy: 1.5)
    }

    func testPatchEmbedExportIsAConvWeight() throws {
        let config = ModelPreset.micro.config
        let m = try LDAEModel(config: config, seed: 4)
        let p = config.patchSize, w = config.encoderWidth, d = config.tokenDim
        let conv = m.exportTensors().first { $0.name == "patch_embed.proj.weight" }!
        var rng = RNG(seed: 1)
        let patch = FD.randn(d, &rng)   // (row, col, channel)
        var ours = [Float](repeating: 0, count: w)
        Linear.forwardNaive(out: &ours, inp: patch, weight: m.params + m.patchEmbed.w, bias: nil, n: 1, c: d, oc: w)
        for o in 0..<w {
            var s: Float = 0
            for c in 0..<3 { for i in 0..<p { for j in 0..<p {
                s += conv.values[((o * 3 + c) * p + i) * p + j] * patch[(i * p + j) * 3 + c]
            } } }
            XCTAssertEqual(s, ours[o], accuracy: 1e-5)
        }
    }
}
