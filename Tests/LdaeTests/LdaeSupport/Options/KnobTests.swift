import Foundation
import XCTest
@testable import Ldae

/// ldae-train's flag tables.
final class KnobTests: XCTestCase {
    func testEveryRecipeFlagSetsItsField() throws {
        let argv = ["--tokenizer", "pixel", "--latent-dim", "8", "--latent-scale", "none", "--schedule", "edm",
                    "--sigma-max", "2", "--noise-levels", "single", "--sigma", "0.5", "--target", "noise", "--input-scaling",
                    "--residual-weight", "0.3", "--no-loss-weighting", "--timesteps", "500", "--epochs", "3",
                    "--batch-size", "64", "--lr", "0.002", "--min-lr", "1e-5", "--warmup-epochs", "0.5",
                    "--weight-decay", "0.05", "--beta2", "0.99", "--clip", "2", "--ema", "0.9", "--no-flip", "--crop", "rrc",
                    "--crop-padding", "2", "--crop-scale-min", "0.5", "--val-fraction", "0.2", "--val-seed", "7",
                    "--checkpoint-every", "50", "--seed", "11"]
        let d = TrainConfig.knobs.declared()
        let c = try TrainConfig.knobs.apply(try Arguments(argv, options: d.options, flags: d.switches), to: TrainConfig())
        var e = TrainConfig()
        e.tokenizer = .pixel; e.latentDim = 8; e.latentScale = .none; e.schedule = .edm; e.sigmaMax = 2; e.noiseLevels = .single
        e.singleSigma = 0.5; e.target = .noise; e.inputScaling = true; e.residualWeight = 0.3; e.lossWeighting = false
        e.timesteps = 500; e.epochs = 3; e.batchSize = 64; e.baseLR = 0.002; e.minLR = 1e-5; e.warmupEpochs = 0.5
        e.weightDecay = 0.05; e.beta2 = 0.99; e.gradClip = 2; e.ema = 0.9; e.flip = false; e.crop = .rrc; e.cropPadding = 2
        e.cropScaleMin = 0.5; e.valFraction = 0.2; e.valSeed = 7; e.checkpointEvery = 50; e.seed = 11
        XCTAssertEqual(c, e)
        // absent flags keep the defaults; names are unique; a bad word or number is a usage error naming the flag
        XCTAssertEqual(try TrainConfig.knobs.apply(try Arguments([], options: d.options, flags: d.switches), to: TrainConfig()), TrainConfig())
        XCTAssertEqual(d.options.count + d.switches.count, TrainConfig.knobs.filter { $0.flag != nil }.count)
        XCTAssertThrowsError(try TrainConfig.knobs.apply(try Arguments(["--crop", "big"], options: d.options, flags: d.switches), to: TrainConfig())) {
            XCTAssertTrue("\($0)".contains("--crop must be one of none, pad or rrc"), "\($0)")
        }
        XCTAssertThrowsError(try TrainConfig.knobs.apply(try Arguments(["--seed", "-1"], options: d.options, flags: d.switches), to: TrainConfig())) {
            XCTAssertTrue("\($0)".contains("--seed expects a non-negative integer"), "\($0)")
        }
        let m = ModelConfig.knobs.declared()
        let mc = try ModelConfig.knobs.apply(try Arguments(["--encoder-depth", "3", "--decoder-heads", "2", "--time-cond", "adaln"],
                                                           options: m.options, flags: m.switches), to: ModelPreset.micro.config)
        var me = ModelPreset.micro.config
        me.encoderDepth = 3; me.decoderHeads = 2; me.timeCond = .adaln
        XCTAssertEqual(mc, me)
    }
}
