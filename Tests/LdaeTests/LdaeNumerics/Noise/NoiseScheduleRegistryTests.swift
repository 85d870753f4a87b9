import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The schedules' registry: the words configs hold, the command line's choices and the refusal of other words.
final class NoiseScheduleRegistryTests: XCTestCase {
    func testEveryKindIsRegisteredOnceUnderItsOwnWord() {
        let names = NoiseScheduleKind.registry.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "duplicate schedule names in \(names)")
        XCTAssertEqual(NoiseScheduleKind.allCases.map(\.rawValue), names)
        for kind in [NoiseScheduleKind.ldae, .ddpm, .linear, .cosine, .edm] {
            XCTAssertEqual(NoiseScheduleKind(rawValue: kind.rawValue), kind)
            XCTAssertEqual(kind.definition.name, kind.rawValue)
        }
        XCTAssertNil(NoiseScheduleKind(rawValue: "edm2"))
        XCTAssertNil(NoiseScheduleKind(rawValue: ""))
        let usage = NoiseScheduleKind.usageLines(indent: "  ")
        for n in names { XCTAssertEqual(usage.components(separatedBy: "  \(n) ").count, 2, "\(n) once in\n\(usage)") }
    }

    /// The training config's JSON for the schedules that existed before the registry, as that code wrote it (the
    /// `train_config` of a checkpoint of `ldae-train --tokenizer pixel --batch-size 4 --schedule S`).
    func testTheJSONOfEarlierSchedulesIsUnchanged() throws {
        for s in ["ldae", "ddpm", "linear", "cosine"] {
            let expected = #"{"base_lr":0.00015,"batch_size":4,"beta1":0.9,"beta2":0.95,"checkpoint_every":500,"crop":"none","crop_padding":4,"crop_scale_min":0.35,"ema":0,"epochs":10,"flip":true,"grad_clip":1,"input_scaling":false,"latent_dim":16,"latent_scale":"none","loss_weighting":true,"min_lr":0,"noise_levels":"multi","residual_weight":0.1,"schedule":""# + s + #"","seed":0,"sigma_max":1.4142135623730951,"single_sigma":0.3333333333333333,"target":"image","timesteps":1000,"tokenizer":"pixel","val_fraction":0,"val_seed":0,"warmup_epochs":1,"weight_decay":0}"#
            var c = TrainConfig()
            c.tokenizer = .pixel; c.batchSize = 4
            c.schedule = try XCTUnwrap(NoiseScheduleKind(rawValue: s))
            XCTAssertEqual(String(decoding: try JSON.encode(c, pretty: false), as: UTF8.self), expected)
            XCTAssertEqual(try JSON.decode(TrainConfig.self, from: Data(expected.utf8), file: "x"), c)
        }
    }

    func testUnknownWordsAreRefusedNamingTheChoices() throws {
        XCTAssertThrowsError(try JSON.decode(TrainConfig.self, from: Data(#"{"schedule":"karras"}"#.utf8), file: "bad.json")) {
            let m = "\($0)"
            XCTAssertTrue(m.contains("bad.json") && m.contains("'karras' is not one of ldae, ddpm, linear, cosine or edm"), m)
        }
        let a = try Arguments(["--schedule", "karras"], options: ["schedule"], flags: [])
        XCTAssertThrowsError(try a.choice("schedule", default: NoiseScheduleKind.ldae)) {
            XCTAssertTrue("\($0)".contains("--schedule must be one of ldae, ddpm, linear, cosine or edm, got 'karras'"), "\($0)")
        }
        let b = try Arguments(["--schedule", "edm"], options: ["schedule"], flags: [])
        XCTAssertEqual(try b.choice("schedule", default: NoiseScheduleKind.ldae), .edm)
    }
}
