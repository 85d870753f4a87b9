import XCTest
@testable import Ldae
@testable import LdaeNumerics
@testable import LdaeSupport

/// The recipe study's knobs: typed options, the held-out split, crops, the latent scale, sigma_max, features at any layer.
final class RecipeKnobTests: XCTestCase {
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

    func testSigmaMaxSetsTheEndOfTheLDAESchedule() {
        var c = TrainConfig(); c.sigmaMax = 0.5
        let s = NoiseSchedule(c)
        XCTAssertEqual(s.gammaSigma(c.timesteps).sigma, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.gammaSigma(1).sigma, 0)
        XCTAssertEqual(s.gammaSigma(500).sigma, 0.5 * 499 / 999, accuracy: 1e-12)
    }

    func testHoldOutIsDeterministicDisjointAndSized() {
        let h = HoldOut(fraction: 0.1, seed: 3)
        let (tr, va) = h.split(count: 1003)
        XCTAssertEqual(va.count, 100)
        XCTAssertEqual(tr.count + va.count, 1003)
        XCTAssertTrue(Set(tr).isDisjoint(with: Set(va)))
        XCTAssertEqual(Set(tr + va), Set(0..<1003))
        XCTAssertEqual(h.split(count: 1003).val, va)
        XCTAssertNotEqual(HoldOut(fraction: 0.1, seed: 4).split(count: 1003).val, va)
        XCTAssertEqual(va, va.sorted())
        XCTAssertEqual(HoldOut(fraction: 0, seed: 0).split(count: 10).train, Array(0..<10))
        XCTAssertEqual(HoldOut(fraction: 0.01, seed: 0).split(count: 10).val.count, 1)   // at least one image
    }

    func testLoaderNeverServesHeldOutImages() throws {
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let imgs = trainTestImages(20, size: 8, seed: 2)
        let set = try TestSupport.makeShards(dir: dir, images: imgs, labels: [Int32](repeating: -1, count: 20), imageSize: 8, patchSize: 4, perShard: 6)
        var c = TrainConfig(); c.batchSize = 4; c.valFraction = 0.25; c.valSeed = 9
        let val = Set(HoldOut(fraction: 0.25, seed: 9).split(count: 20).val)
        XCTAssertEqual(val.count, 5)
        for budget in [1 << 30, 1] {
            let L = try BatchLoader(shards: set, config: c, memoryBudget: budget)
            XCTAssertEqual(L.stepsPerEpoch, 3)   // 15 training images
            for e in 0..<3 {
                let o = L.order(epoch: e)
                XCTAssertEqual(o.count, 15)
                XCTAssertTrue(Set(o).isDisjoint(with: val), "epoch \(e), budget \(budget)")
                XCTAssertEqual(Set(o).count, 15)
            }
        }
        c.batchSize = 16
        XCTAssertThrowsError(try BatchLoader(shards: set, config: c)) { XCTAssertTrue("\($0)".contains("5 held out"), "\($0)") }
    }

    /// A padded crop moves pixels by whole steps: out(y, x) = in(y + y0, x + x0), black outside.
    func testPadCropShiftsExactlyAndFlipMirrors() {
        let S = 8, g = PatchGeometry(imageSize: S, patchSize: 4)
        let img = trainTestImages(1, size: S, seed: 4)[0]
        let src = g.patchify(img)
        let a = Augmenter(geometry: g, kind: .pad, padding: 2, scaleMin: 1, flip: false, seed: 0)
        var out = [Float](repeating: .nan, count: g.valuesPerImage)
        a.apply(src, crop: .init(x0: 2, y0: -1, w: Double(S), h: Double(S)), flip: false, into: &out)
        for y in 0..<S { for x in 0..<S { for c in 0..<3 {
            let sy = y - 1, sx = x + 2
            let want = (sy >= 0 && sy < S && sx < S) ? PixelScaling.toFloat(img[(sy * S + sx) * 3 + c]) : -1
            XCTAssertEqual(out[g.patchOffset(y: y, x: x, c: c)], want, "(\(y), \(x), \(c))")
        } } }
        // no crop + flip = the mirror image; identity crop = a plain copy
        var fl = out, plain = out
        a.apply(src, crop: nil, flip: true, into: &fl)
        a.apply(src, crop: .identity(S), flip: false, into: &plain)
        for y in 0..<S { for x in 0..<S { for c in 0..<3 {
            XCTAssertEqual(fl[g.patchOffset(y: y, x: x, c: c)], PixelScaling.toFloat(img[(y * S + S - 1 - x) * 3 + c]))
            XCTAssertEqual(plain[g.patchOffset(y: y, x: x, c: c)], PixelScaling.toFloat(img[(y * S + x) * 3 + c]))
        } } }
        // crop offsets stay within the padding, and depend only on (seed, step)
        let crops = a.crops(step: 7, batch: 200)!
        XCTAssertEqual(crops, a.crops(step: 7, batch: 200)!)
        XCTAssertNotEqual(crops, a.crops(step: 8, batch: 200)!)
        XCTAssertEqual(Set(crops.map(\.x0)), Set([-2, -1, 0, 1, 2].map(Double.init)))
    }

    func testRandomResizedCropsAreInsideAndSampleBilinearly() {
        let S = 16, g = PatchGeometry(imageSize: S, patchSize: 4)
        let a = Augmenter(geometry: g, kind: .rrc, padding: 0, scaleMin: 0.35, flip: false, seed: 1)
        for c in a.crops(step: 3, batch: 300)! {
            XCTAssertGreaterThanOrEqual(c.x0, 0); XCTAssertGreaterThanOrEqual(c.y0, 0)
            XCTAssertLessThanOrEqual(c.x0 + c.w, Double(S)); XCTAssertLessThanOrEqual(c.y0 + c.h, Double(S))
            XCTAssertGreaterThanOrEqual(c.w * c.h, 0.3 * Double(S * S))   // 0.35 before rounding
        }
        // a horizontal ramp (value = 10 x) stays a ramp: bilinear sampling of a linear image is exact
        var img = [UInt8](repeating: 0, count: S * S * 3)
        for y in 0..<S { for x in 0..<S { for c in 0..<3 { img[(y * S + x) * 3 + c] = UInt8(10 * x) } } }
        var out = [Float](repeating: 0, count: g.valuesPerImage)
        let crop = Augmenter.Crop(x0: 4, y0: 2, w: 8, h: 8)    // 2x zoom into x in [4, 12)
        a.apply(g.patchify(img), crop: crop, flip: false, into: &out)
        for x in 1..<(S - 1) {
            let fx = (Double(x) + 0.5) * 0.5 - 0.5 + 4
            XCTAssertEqual(Double(out[g.patchOffset(y: 5, x: x, c: 1)]), 10 * fx / 127.5 - 1, accuracy: 1e-5, "x \(x)")
        }
    }

    /// The noise on latent component i has standard deviation sigma * s_i.
    func testLatentScaleSetsTheNoiseOfEachComponent() throws {
        let pca = try trainTestBasis(patchSize: 2, seed: 5)
        let g = PatchGeometry(imageSize: 4, patchSize: 2)
        let d = 6, B = 400, V = g.valuesPerImage, T = g.tokens
        let ev = Array(pca.eigenvalues.prefix(d))
        for kind in LatentScale.allCases {
            var c = TrainConfig(); c.latentDim = d; c.latentScale = kind
            let obj = try LDAEObjective(config: c, pca: pca, geometry: g)
            let x0 = [Float](repeating: 0.1, count: B * V)
            var out = [Float](repeating: 0, count: B * V)
            var rng = RNG(seed: 1)
            obj.corrupt(x0, batch: B, gammas: [Double](repeating: 1, count: B), sigmas: [Double](repeating: 0.5, count: B), rng: &rng, out: &out)
            // latent of the noise: V_d (x - P x0); P x0 is the same for every row, so take deviations from the mean
            let zx = pca.project(out, count: B * T, d: d)
            for i in 0..<d {
                var m = 0.0, q = 0.0
                for n in 0..<(B * T) { m += Double(zx[n * d + i]) }
                m /= Double(B * T)
                for n in 0..<(B * T) { let v = Double(zx[n * d + i]) - m; q += v * v }
                let std = (q / Double(B * T)).squareRoot()
                let want: Double
                switch kind {
                case .none: want = 0.5
                case .whiten: want = 0.5 * Double(ev[i]).squareRoot()
                case .global: want = 0.5 * (ev.map(Double.init).reduce(0, +) / Double(d)).squareRoot()
                }
                XCTAssertEqual(std, want, accuracy: 0.06 * want, "\(kind.rawValue), component \(i)")
            }
        }
    }

    func testFeaturesAtEveryLayerAreTokenMeansOfTheTrainingActivations() throws {
        for tc in TimeCond.allCases {
            let config = ModelTests.tinyTestConfig(timeCond: tc)
            let m = try LDAEModel(config: config, seed: 2)
            var rng = RNG(seed: 8)
            let b = 3, per = config.tokens * config.tokenDim, T = config.tokens
            let x = FD.randn(b * per, &rng)
            _ = m.forward(x, t: [0, 0, 0], batch: b)
            let a = m.acts!
            let L = config.encoderDepth, W = config.encoderWidth, Vd = config.decoderWidth
            let layers = FeatureLayer.all(config)
            func source(_ l: FeatureLayer) -> (UnsafeMutablePointer<Float>, Int) {
                switch l {
                case .embed: return (a.enc[0].xIn, W)
                case .block(let k): return (k < L ? a.enc[k].xIn : a.encOut, W)
                case .final: return (a.encNorm, W)
                case .decoderBlock(let k): return (k < config.decoderDepth ? a.dec[k].xIn : a.decOut, Vd)
                }
            }
            for chunk in [m.plan.chunkTokens, config.tokens] {
                let mc = try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: chunk))
                let total = layers.reduce(0) { $0 + m.width(of: $1) }
                var f = [Float](repeating: .nan, count: b * total)
                mc.features(x, t: nil, batch: b, layers: layers, out: &f)
                var off = 0
                for l in layers {
                    let (buf, c) = source(l)
                    for bi in 0..<b { for j in 0..<c {
                        var s: Float = 0
                        for t in 0..<T { s += buf[(bi * T + t) * c + j] }
                        XCTAssertEqual(f[bi * total + off + j], s / Float(T), accuracy: 1e-5, "\(tc.rawValue) \(l) chunk \(chunk)")
                    } }
                    off += c
                }
            }
        }
        let c = ModelTests.tinyTestConfig()
        XCTAssertEqual(try FeatureLayer.list("embed,2,final,dec1", config: c), [.embed, .block(2), .final, .decoderBlock(1)])
        XCTAssertThrowsError(try FeatureLayer("\(c.encoderDepth + 1)", config: c)) { XCTAssertTrue("\($0)".contains("1...\(c.encoderDepth)"), "\($0)") }
        XCTAssertThrowsError(try FeatureLayer("mid", config: c))
    }

    func testValidationSidesComeFromTheHeldOutImages() throws {
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let imgs = trainTestImages(40, size: 8, seed: 3)
        let set = try TestSupport.makeShards(dir: dir, images: imgs, labels: (0..<40).map { Int32($0 % 2) }, imageSize: 8, patchSize: 4, perShard: 16)
        var o = Evaluation.Options(train: [dir], test: [])
        o.val = HoldOut(fraction: 0.25, seed: 1)
        o.maxTrain = 20
        let s = Evaluation.sides(set, set, o)
        let val = HoldOut(fraction: 0.25, seed: 1).split(count: 40).val
        XCTAssertEqual(s.testIdx, val)
        XCTAssertEqual(s.trainIdx.count, 20)
        XCTAssertTrue(Set(s.trainIdx).isDisjoint(with: Set(val)))
    }
}
