import Foundation
import XCTest
@testable import Ldae

/// The fine-tuning recipe's knobs: the JSON keys the classifier entries and checkpoints were written with, defaults
/// for missing keys, the flags of `ldae-zoo finetune`, and the ranges.
final class FinetuneConfigTests: XCTestCase {
    func testJSONKeysDefaultsAndRoundTrip() throws {
        var c = FinetuneConfig()
        c.head = .readout; c.initFrom = .random; c.baseLR = 1e-3; c.valSeed = 7
        let obj = try JSONSerialization.jsonObject(with: try JSON.encode(c, pretty: false)) as! [String: Any]
        XCTAssertEqual(Set(obj.keys), ["init", "head", "epochs", "batch_size", "base_lr", "layer_decay", "warmup_epochs", "min_lr",
                                       "weight_decay", "beta1", "beta2", "grad_clip", "label_smoothing", "drop_path", "flip", "crop",
                                       "crop_padding", "crop_scale_min", "val_seed", "eval_every", "eval_max_images", "seed",
                                       "checkpoint_every"])
        XCTAssertEqual(obj["init"] as? String, "random"); XCTAssertEqual(obj["base_lr"] as? Double, 1e-3)
        XCTAssertEqual(try JSON.decode(FinetuneConfig.self, from: try JSON.encode(c), file: "x"), c)
        let old = try JSON.decode(FinetuneConfig.self, from: Data(#"{"epochs":3,"val_fraction":0.2}"#.utf8), file: "old.json")
        var want = FinetuneConfig(); want.epochs = 3; want.valFraction = 0.2
        XCTAssertEqual(old, want)
    }

    func testFlagsAndRanges() throws {
        let k = FinetuneConfig.knobs.declared()
        let a = try Arguments(["--head", "readout", "--lr", "0.002", "--no-flip", "--val-seed", "5"], options: k.options, flags: k.switches)
        let c = try FinetuneConfig.knobs.apply(a, to: FinetuneConfig())
        XCTAssertEqual(c.head, .readout); XCTAssertEqual(c.baseLR, 0.002); XCTAssertFalse(c.flip); XCTAssertEqual(c.valSeed, 5)
        XCTAssertNoThrow(try FinetuneConfig().validate())
        for (bad, key) in [({ (c: inout FinetuneConfig) in c.epochs = 0 }, "epochs"), ({ $0.layerDecay = 0 }, "layer_decay"),
                           ({ $0.labelSmoothing = 1 }, "label_smoothing"), ({ $0.valFraction = 1 }, "val_fraction"),
                           ({ $0.baseLR = .infinity }, "base_lr")] {
            var c = FinetuneConfig(); bad(&c)
            XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("invalid fine-tuning config: \(key)"), "\($0)") }
        }
    }
}
