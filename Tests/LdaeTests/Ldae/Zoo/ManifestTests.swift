import Foundation
import XCTest
@testable import Ldae

final class ManifestTests: XCTestCase {
    /// TrainConfig and Manifest survive the snake_case JSON round trip (acronym fields like base_lr, pca_sha256).
    func testConfigAndManifestRoundTrip() throws {
        var tc = TrainConfig(); tc.baseLR = 3e-4; tc.minLR = 1e-6; tc.seed = 9
        let back = try JSON.decode(TrainConfig.self, from: try JSON.encode(tc), file: "x")
        XCTAssertEqual(back, tc)
        XCTAssertTrue(String(decoding: try JSON.encode(tc), as: UTF8.self).contains("\"base_lr\""))
        let m = Manifest(name: "n", model: ModelPreset.micro.config,
                         tokenizer: .init(kind: .pca, latentDim: 16, patchSize: 4, pcaFile: "pca.h5", pcaSHA256: "ff"),
                         training: tc, data: .init(indexSHA256: "ee", images: 3, sources: ["a"], classNames: []), seed: 9,
                         steps: 5, epochs: 1, finalLoss: 0.5, parameterCount: 10, encoderParameterCount: 6, trainSeconds: 1, weightsDtype: "f32")
        let mb = try JSON.decode(Manifest.self, from: try JSON.encode(m), file: "m")
        XCTAssertEqual(mb.tokenizer.pcaSHA256, "ff"); XCTAssertEqual(mb.data.indexSHA256, "ee"); XCTAssertEqual(mb.training, tc)
    }
}
