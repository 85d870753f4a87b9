import Foundation
import XCTest
@testable import Ldae

/// The recipe: typed options with their JSON words, older files, ranges.
final class TrainConfigTests: XCTestCase {
    func testMethodOptionsKeepTheirJSONWordsAndOlderFilesDecode() throws {
        var c = TrainConfig()
        c.tokenizer = .pixel; c.schedule = .cosine; c.target = .noise; c.noiseLevels = .single
        let json = String(decoding: try JSON.encode(c, pretty: false), as: UTF8.self)
        for w in ["\"tokenizer\":\"pixel\"", "\"schedule\":\"cosine\"", "\"target\":\"noise\"", "\"noise_levels\":\"single\"",
                  "\"latent_scale\":\"none\"", "\"crop\":\"none\"", "\"base_lr\":"] {
            XCTAssertTrue(json.contains(w), "\(w) in \(json)")
        }
        XCTAssertEqual(try JSON.decode(TrainConfig.self, from: Data(json.utf8), file: "x"), c)
        // a config written before the new keys existed decodes with their defaults
        let old = #"{"tokenizer":"pca","latent_dim":8,"schedule":"ddpm","noise_levels":"multi","target":"image","base_lr":0.001}"#
        let d = try JSON.decode(TrainConfig.self, from: Data(old.utf8), file: "old.json")
        XCTAssertEqual(d.latentDim, 8); XCTAssertEqual(d.schedule, .ddpm); XCTAssertEqual(d.baseLR, 0.001)
        XCTAssertEqual(d.latentScale, .none); XCTAssertEqual(d.crop, .none); XCTAssertEqual(d.valFraction, 0)
        XCTAssertEqual(d.sigmaMax, 2.0.squareRoot())
        // an unknown word is an error, not a silent default
        XCTAssertThrowsError(try JSON.decode(TrainConfig.self, from: Data(#"{"schedule":"edm2"}"#.utf8), file: "bad.json"))
        XCTAssertEqual(NoiseScheduleKind.choices, "ldae|ddpm|linear|cosine|edm")
        XCTAssertEqual(TokenizerKind.choiceList, "pca, pixel, patch-ae, patch-vae or conv-vae")
    }

    func testValidateRejectsOutOfRangeKnobs() {
        func fails(_ f: (inout TrainConfig) -> Void, _ what: String) {
            var c = TrainConfig(); f(&c)
            XCTAssertThrowsError(try c.validate(), what) { XCTAssertTrue("\($0)".contains("invalid training config"), "\($0)") }
        }
        fails({ $0.sigmaMax = 0 }, "sigma_max")
        fails({ $0.valFraction = 1 }, "val_fraction")
        fails({ $0.cropScaleMin = 0 }, "crop_scale_min")
        fails({ $0.ema = 1 }, "ema")
        fails({ $0.timesteps = 1 }, "timesteps")
        fails({ $0.tokenizer = .pixel; $0.latentScale = .whiten }, "latent scale with pixels")
        XCTAssertNoThrow(try TrainConfig().validate())
    }
}
