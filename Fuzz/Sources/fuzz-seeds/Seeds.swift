// Writes the fuzz targets' seed corpora (Fuzz/corpus/<target>/) from the test fixtures and from small files the
// library writes itself. Run by tools/fuzz_seeds.sh; the output is committed. Deterministic: the same files
// every time (fixed seeds and dates; HDF5 files are written without timestamps).
import Foundation
import FuzzSupport
import Ldae

@main
struct Seeds {
    static func main() throws {
        let args = CommandLine.arguments
        if args.count == 4 && args[1] == "--layout" {   // writes an H5Layout input as the HDF5 file a target reads
            guard H5Layout.write(String(decoding: try FileUtil.read(args[2]), as: UTF8.self), to: args[3]) else {
                print("fuzz-seeds: HDF5 refused the layout \(args[2])"); exit(1)
            }
            return
        }
        guard args.count == 3 else {
            print("usage: fuzz-seeds REPO OUT   (REPO: the ldae checkout, for its fixtures and zoo; OUT: Fuzz/corpus)")
            print("       fuzz-seeds --layout LAYOUT OUT.h5")
            exit(2)
        }
        let seeds = Seeds(repo: args[1], out: args[2])
        try seeds.npy(); try seeds.safetensors(); try seeds.checkpoint(); try seeds.json(); try seeds.image()
        try seeds.hdf5()
        for t in ["npy", "safetensors", "checkpoint", "json", "image", "shard", "pca", "tokenizer"] {
            let files = try FileManager.default.contentsOfDirectory(atPath: seeds.out + "/" + t)
            let bytes = files.reduce(0) { $0 + (FileUtil.size(seeds.out + "/" + t + "/" + $1) ?? 0) }
            print("fuzz-seeds: \(t): \(files.count) seeds, \(bytes) bytes")
        }
    }

    let repo: String, out: String
    var fixtures: String { repo + "/Tests/LdaeTests/Fixtures" }
    /// A fixed path: the PCA part records the index's path, and the seeds must come out the same every time.
    let scratch = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ldae-fuzz-seeds").path

    /// A fresh, empty `out/target`.
    func folder(_ target: String) throws -> String {
        let d = out + "/" + target
        try? FileManager.default.removeItem(atPath: d)
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func put(_ data: Data, _ target: String, _ name: String) throws {
        try data.write(to: URL(fileURLWithPath: out + "/" + target + "/" + name))
    }

    /// An HDF5 seed twice: the file, and its layout (`H5Layout`, the attributes and datasets of ldae's formats that
    /// the file has, at most 200 values per dataset: they repeat when the layout is written back).
    func putHDF5(_ path: String, _ target: String, _ name: String) throws {
        try put(try FileUtil.read(path), target, name + ".h5")
        try put(Data(try layout(path).utf8), target, name + ".layout")
    }

    func layout(_ path: String) throws -> String {
        let f = try H5File.open(path)
        defer { try? f.close() }
        var lines = [H5Layout.magic]
        let doubles: Set<String> = ["latent_scale", "recon_mse", "value_offset", "value_scale"]
        for a in ["format", "format_version", "image_size", "patch_size", "channels", "resize", "alpha_background", "png_gamma",
                  "pixel_scaling", "sample_count", "index_sha256", "fit_identity", "kind", "latent_dim", "settings", "tensors",
                  "latent_scale", "recon_mse", "steps_done", "complete", "part", "parts", "image_start", "image_end",
                  "images_total", "count", "tokens", "dim", "max_patches", "seed", "index_paths", "value_offset", "value_scale"]
        where f.hasAttribute(a) {
            if let v = try? f.stringAttribute(a) { lines.append("a \(a) s \(v.replacingOccurrences(of: "\n", with: " "))") }
            else if doubles.contains(a), let v = try f.doubleAttribute(a) { lines.append("a \(a) f \(v)") }
            else if let v = try f.intAttribute(a) { lines.append("a \(a) i \(v)") }
        }
        var names = ["patches", "labels", "mean", "components", "eigenvalues", "explained_variance_ratio", "sum", "sum_outer",
                     "latent_variance", "loss_curve", "adam_m", "adam_v"]
        if let t = try? f.stringAttribute("tensors"), let list = try? JSON.decode([String].self, from: Data(t.utf8), file: path) {
            names += list.map { "w." + $0 }
        }
        for n in names where f.hasDataset(n) {
            let d = try f.dataset(n)
            let e = d.elementDescription
            d.close()
            let type = e.isFloat ? (e.size == 4 ? "f32" : "f64")
                : e.size == 1 ? (e.signed ? "i8" : "u8") : e.size == 2 ? "u16" : e.size == 4 ? "i32" : "i64"
            let (v, shape) = try f.read(n, as: Double.self)
            let dims = shape.isEmpty ? "-" : shape.map(String.init).joined(separator: ",")
            let chunk = n == "patches" || n == "labels" ? " c 2" : ""
            lines.append("d \(n) \(type) \(dims)\(chunk) = " + v.prefix(200).map { e.isFloat ? "\(Float($0))" : "\(Int($0))" }.joined(separator: " "))
        }
        for n in ["class_names", "paths"] where f.hasDataset(n) {
            lines.append("s \(n) " + (try f.readStrings(n)).joined(separator: "|"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: .npy

    func npy() throws {
        _ = try folder("npy")
        try put(NPY.encode((0..<12).map { Float($0) / 4 }, shape: [3, 4]), "npy", "features-f4.npy")
        try put(NPY.encode([Int32](arrayLiteral: 0, 1, 2, -1, 7), shape: [5]), "npy", "labels-i4.npy")
        try put(NPY.encode([Float](), shape: [0, 8]), "npy", "empty-f4.npy")
        // numpy's other headers: float64 / int64, format 2.0 (4-byte header length), a scalar, fortran order
        var f8 = NPY.header(descr: "<f8", shape: [2, 2])
        for v in [1.5, -2.0, 0.25, 1e300] { withUnsafeBytes(of: v.bitPattern.littleEndian) { f8.append(contentsOf: $0) } }
        try put(f8, "npy", "features-f8.npy")
        var i8 = NPY.header(descr: "<i8", shape: [3])
        for v: Int64 in [3, -4, 1 << 40] { withUnsafeBytes(of: v.littleEndian) { i8.append(contentsOf: $0) } }
        try put(i8, "npy", "labels-i8.npy")
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".padding(toLength: 115, withPad: " ", startingAt: 0) + "\n"
        var v2 = Data([0x93] + Array("NUMPY".utf8) + [2, 0])
        withUnsafeBytes(of: UInt32(h.utf8.count).littleEndian) { v2.append(contentsOf: $0) }
        v2.append(contentsOf: Array(h.utf8)); v2.append(Data(count: 8))
        try put(v2, "npy", "v2-f4.npy")
        let scalar = NPY.header(descr: "<f4", shape: []) + Data(count: 4)
        try put(scalar, "npy", "scalar-f4.npy")
        var fortran = NPY.header(descr: "<f4", shape: [2, 2])
        fortran = fortran.replacingOccurrences(of: "False", with: "True ") + Data(count: 16)
        try put(fortran, "npy", "fortran-f4.npy")
    }

    // MARK: safetensors (zoo weights) and checkpoints

    func tinyModel() throws -> LDAEModel { try LDAEModel(config: Fuzz.tinyModel, seed: 1, plan: ExecutionPlan(threads: 1)) }

    func safetensors() throws {
        _ = try folder("safetensors")
        let m = try tinyModel()
        let meta = ["format": "pt", "ldae_model_config": String(decoding: try JSON.encode(m.config, pretty: false), as: UTF8.self)]
        try put(Safetensors.encode(m.exportTensors(), metadata: meta, dtype: .f32), "safetensors", "weights-f32.safetensors")
        try put(Safetensors.encode(m.exportTensors(), metadata: meta, dtype: .f16), "safetensors", "weights-f16.safetensors")
        let small = [Safetensors.Tensor("a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), Safetensors.Tensor("b.bias", shape: [1], values: [.infinity]),
                     Safetensors.Tensor("c", shape: [], values: [0.5]), Safetensors.Tensor("d", shape: [0, 4], values: [])]
        try put(Safetensors.encode(small, metadata: ["k": "v"]), "safetensors", "small.safetensors")
        try put(Safetensors.encode(small, dtype: .f16), "safetensors", "small-f16.safetensors")
    }

    func checkpoint() throws {
        _ = try folder("checkpoint")
        let m = try tinyModel()
        let slots = m.tensors.map { Checkpoint.Slot(name: $0.name, shape: $0.shape, offset: $0.offset, count: $0.count) }
        let p = Array(UnsafeBufferPointer(start: m.params, count: m.parameterCount))
        var tc = TrainConfig(); tc.latentDim = 4
        for (name, ema) in [("checkpoint.safetensors", false), ("checkpoint-ema.safetensors", true)] {
            var ck = Checkpoint(step: 3, totalSteps: 10, adamStep: 3, seed: 7, params: p, adamM: p.map { $0 / 8 }, adamV: p.map { $0 * $0 },
                                ema: ema ? p : nil, modelConfig: m.config, trainConfig: tc, lastLoss: 0.75,
                                dataIndexSHA256: String(repeating: "ab", count: 32), trainSeconds: 1.5)
            ck.cpuSeconds = 2.5
            let path = scratch + "-" + name
            try ck.save(path, slots: slots)
            try put(try FileUtil.read(path), "checkpoint", name)
            unlink(path)
        }
    }

    // MARK: JSON documents (index.json, manifest.json, evals.jsonl; parts joined as Fuzz.split reads them)

    func json() throws {
        _ = try folder("json")
        var idx = ShardIndex(imageSize: 4, patchSize: 2, channels: 3, resize: "crop", labeled: true, classNames: ["cat", "dog"],
                             shards: [.init(file: "index.json", count: 2, sha256: "", bytes: nil),
                                      .init(file: ShardFormat.fileName(1), count: 1, sha256: String(repeating: "0", count: 64), bytes: 4096)],
                             settings: ["image_size": "4", "patch_size": "2"], skippedCounts: ["corrupt": 1],
                             skipped: [.init(path: "cat/x.jpg", reason: "corrupt: jpeg: bad huffman")])
        idx.created = "2026-01-01T00:00:00Z"; idx.filesRead = 4; idx.filesWithWarnings = 0; idx.corruptDataWarnings = 0
        idx.emptyClasses = []; idx.part = "0/2"
        let index = try JSON.encode(idx)
        let entry = repo + "/zoo/cifar10-ldae-vit96/v3"
        var m = try JSON.read(Manifest.self, path: entry + "/manifest.json")
        m.files = [:]   // no other file in the fuzzed entry: verification passes on to the card
        let manifest = try JSON.encode(m)
        let evals = try FileUtil.read(entry + "/evals.jsonl").split(separator: 0x0A)
        let sep = Data("\n--ldae-fuzz-part--\n".utf8)
        try put(index, "json", "index.json")
        try put(index + sep + manifest + sep + Data(evals[0]) + Data([0x0A]), "json", "index-manifest-eval.txt")
        try put(Data("{}".utf8) + sep + manifest + sep + Data(evals[1]) + Data([0x0A]) + Data(evals[0].prefix(100)), "json", "manifest-torn-eval.txt")
        let v1 = repo + "/zoo/cifar10-ldae-vit96/v1"
        var m1 = try JSON.read(Manifest.self, path: v1 + "/manifest.json")
        m1.files = [:]
        try put(Data() + sep + (try JSON.encode(m1)) + sep + (try FileUtil.read(v1 + "/evals.jsonl")), "json", "manifest-v1.txt")
    }

    // MARK: images (the decoder fixtures)

    func image() throws {
        _ = try folder("image")
        let picks = ["jpeg/baseline.jpg", "jpeg/cmyk.jpg", "jpeg/gray.jpg", "jpeg/progressive.jpg", "jpeg/subsampled420.jpg",
                     "exif/orient6.jpg", "exif/orient3.jpg", "exif/malformed.jpg", "exif/truncated_ifd.jpg",
                     "bad/truncated.jpg", "bad/garbage_after_soi.jpg", "bad/bomb.png", "bad/truncated.png",
                     "png/gray1.png", "png/gray16.png", "png/gray8_trns.png", "png/graya8.png", "png/palette4_interlaced.png",
                     "png/palette_trns.png", "png/rgb16.png", "png/rgba8.png", "png/rgb8_interlaced.png",
                     "pngsuite/g03n2c08.png", "pngsuite/basi4a16.png", "pngsuite/tbrn2c08.png", "pngsuite/exif2c08.png"]
        for p in picks where FileUtil.exists(fixtures + "/" + p) {
            try put(try FileUtil.read(fixtures + "/" + p), "image", p.replacingOccurrences(of: "/", with: "-"))
        }
        // YCCK (Adobe) JPEG, written by the library's encoder
        let px = (0..<(8 * 8 * 4)).map { UInt8(($0 * 37) & 0xFF) }
        let path = scratch + "-ycck.jpg"
        try Codecs.writeJPEG(path, pixels: px, width: 8, height: 8, channels: 5, quality: 50)
        try put(try FileUtil.read(path), "image", "ycck.jpg")
        unlink(path)
    }

    // MARK: HDF5: a shard, pca.h5 (and a PCA part), tokenizer files

    func hdf5() throws {
        for t in ["shard", "pca", "tokenizer"] { _ = try folder(t) }
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let g = PatchGeometry(imageSize: 4, patchSize: 2)
        var rng = RNG(seed: 3)
        let n = 3
        let patches = (0..<(n * g.valuesPerImage)).map { _ in UInt8(rng.below(256)) }
        let opts = ShardWriter.Options(geometry: g, chunkRows: 2)
        let labeled = try ShardWriter.entry(scratch, file: ShardFormat.fileName(0), options: opts, patches: patches,
                                            labels: [0, 1, 0], paths: ["cat/a.png", "dog/b.jpg", "cat/c.png"], classNames: ["cat", "dog"])
        try putHDF5(scratch + "/" + labeled.file, "shard", "labeled")
        var gz = opts; gz.gzip = 4
        let f1 = try ShardWriter.entry(scratch, file: "gzip.h5", options: gz, patches: Array(patches.prefix(g.valuesPerImage)),
                                       labels: [-1], paths: ["x.png"], classNames: [])
        try putHDF5(scratch + "/" + f1.file, "shard", "unlabeled-gzip")

        var idx = ShardIndex(imageSize: g.imageSize, patchSize: g.patchSize, channels: 3, resize: "crop", labeled: true,
                             classNames: ["cat", "dog"], shards: [labeled], settings: [:], skippedCounts: [:], skipped: [])
        idx.created = "2026-01-01T00:00:00Z"
        try idx.save(dir: scratch)
        let set = try ShardSet(scratch)
        let part = try PCAPartialSums.accumulate(set, part: 0, of: 1)
        let basis = try PCAFit.basis(part.accumulator, patchSize: g.patchSize, channels: g.channels, indexSHA256: set.indexSHA256)
        try basis.save(scratch + "/pca.h5")
        try putHDF5(scratch + "/pca.h5", "pca", "pca")
        try part.save(scratch + "/part.h5")
        try putHDF5(scratch + "/part.h5", "pca", "part-0-of-1")

        for (kind, d) in [(TokenizerKind.patchAE, 4), (.patchVAE, 3), (.convVAE, 2)] {
            var s = TokenizerFitSettings()
            s.kind = kind; s.latentDim = d; s.steps = 2; s.batchSize = 1; s.width = 2; s.seed = 5
            let model = try TokenizerRegistry.definition(kind).trainable(s, geometry: g)
            var f = TokenizerFile(settings: s, geometry: g, indexSHA256: set.indexSHA256, tensors: model.exportTensors())
            f.lossCurve = [0, 0.5, 0.01, 1, 0.4, 0.01]; f.stepsDone = 2; f.reconMSE = 0.4
            if kind == .convVAE { f.latentScale = 0.5 }
            if kind == .patchVAE {   // a fit's checkpoint: incomplete, with Adam's state
                f.complete = false
                f.adamM = [Float](repeating: 0.01, count: model.parameterCount); f.adamV = [Float](repeating: 0.001, count: model.parameterCount)
            }
            let path = scratch + "/\(kind.rawValue).h5"
            try f.save(path)
            try putHDF5(path, "tokenizer", kind.rawValue)
        }
    }
}

extension Data {
    func replacingOccurrences(of a: String, with b: String) -> Data {
        Data(String(decoding: self, as: UTF8.self).replacingOccurrences(of: a, with: b).utf8)
    }
}

/// Every product of this package is linked with libFuzzer (-sanitize=fuzzer), which needs the callback; this one
/// has its own main and never calls it.
@_cdecl("LLVMFuzzerTestOneInput")
public func unused(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt { 0 }
