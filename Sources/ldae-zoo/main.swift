import Foundation
import Ldae

// ldae-zoo: browse, verify and evaluate the versioned local model zoo. One function per command: Browse.swift (list,
// show, verify, card, recommend, export), Features.swift (features, features-merge), Eval.swift, Probe.swift, Sample.swift,
// Finetune.swift (finetune: a classifier entry; may run as one rank of an MPI job), Predict.swift.

let usage = """
usage: ldae-zoo COMMAND [options]

commands:
  list [--json]                      every version: architecture, data, latent d, steps, loss, best eval, damage
  show NAME[@vN]                     the manifest and the evaluation history (NAME alone = newest version)
  verify NAME[@vN]                   check the sha256 of every file of the entry (exit 1 when damaged)
  features NAME[@vN] SHARDS... --out F.npy [--layers L,...] [--pooling \(FeaturePooling.choices)] [--flip-tta|--no-flip-tta] [--batch 256] [--max-images N] [--t 10] [--part i/n]
                                     token-mean encoder features of clean images (float32 [N, width] .npy, the
                                     first N images in order; labels as F.labels.npy when labeled). Default layers:
                                     the entry's recommended ones (`show` prints them), else `final`. --part i/n
                                     (0-based, e.g. a SLURM array task): only part i of the N images, a contiguous
                                     block, in the same files plus F.part.json (what the part is, for features-merge)
  features-merge PART.npy... --out F.npy
                                     join the n parts of one `features --part` split (all of them, any order) in part
                                     order: the same F.npy and F.labels.npy, byte for byte, as one unsplit run
                                     (when every part ran on the same kind of CPU: kernels are chosen per CPU)
  eval NAME[@vN] --train SHARDS (--test SHARDS | --val [--val-fraction F] [--val-seed S])
       [--layers L,...] [--pooling \(FeaturePooling.choices)] [--all-layers] [--knn-standardize] [--flip-tta]
       [--baseline pixels|random|kmeans ...] [--knn-k 20]
       [--kmeans-k 1600] [--kmeans-patch 6] [--kmeans-whiten-eps 0.1 | --kmeans-no-whiten]
       [--kmeans-activation triangle|hard] [--kmeans-pool 2] [--kmeans-patches 100000] [--kmeans-iters 50]
       [--max-train N] [--max-test N] [--batch 256] [--t 10] [--seed 0] [--probe-iters 100]
       [--wd-grid 0,1e-5,1e-4,1e-3,1e-2] [--denoise-t 100,250,500] [--denoise-images 256]
       [--figures DIR] [--no-record]
                                     linear probe (top-1/top-5), k-NN (top-1), denoising PSNR + figure; appended
                                     to the entry's evals.jsonl with the split it used (test or val)
  export NAME[@vN] --out DIR [--force]
                                     a timm / Hugging Face style folder: config.json, model.safetensors (encoder
                                     only), README.md (the model card)
  card NAME[@vN]                     (re)write and print the entry's model card, README.md
  recommend NAME@vN --layers L,... [--pooling \(FeaturePooling.choices)] [--flip-tta] [--why TEXT]
                                     record the layers `features` and `eval` use by default (manifest `features`)

  finetune NAME[@vN] --train SHARDS --name CLASSIFIER [--init pretrained|random|REF] [--head pooled|readout]
       [--epochs 20] [--lr 5e-4] [--layer-decay 0.75] [--label-smoothing 0.1] [--drop-path 0.1] [--resume] ...
                                     fine-tune the encoder with a linear head on labelled shards, validating on a
                                     held-out split; publishes CLASSIFIER@vK, a classifier entry (`ldae-zoo finetune
                                     --help` for every option; `mpirun -np N ldae-zoo finetune ...` data-parallel)
  predict CLASSIFIER[@vN] INPUT... --out preds.csv|logits.npy [--list FILE] [--top-k 5] [--batch 256] [--threads N]
       [--max-images N]              INPUT: image files, folders of images (class subfolders give a true label), or
                                     shard folders; CSV: path, true_label, label_1, prob_1, ..., error; .npy: float32
                                     [N, C] logits + X.rows.csv (path, row, true_label, error). Unreadable files are
                                     reported per file (stderr and their row) and never stop the run
  eval CLASSIFIER[@vN] (--test SHARDS | --train SHARDS --val) [--max-test N] [--batch 256] [--figures DIR]
                                     a classifier entry: top-1, top-5 and a confusion-matrix PNG; recorded in its
                                     evals.jsonl and model card

  sample NAME[@vN] --out grid.png [--n 64] [--steps 50] [--sampler ddim|ddpm] [--eta E] [--seed S] [--npy F]
       [--invert SHARDS]             DDPM/DDIM samples or DDIM inversion (`ldae-zoo sample --help`)

  probe TRAIN.npy TEST.npy [--wd X | --wd-grid ...] [--probe-iters 100] [--knn-k 20] [--no-knn] [--json]
                                     the same linear probe and k-NN on any float features (labels in
                                     TRAIN.labels.npy / TEST.labels.npy, as `features` writes them)

common options:
  --zoo DIR                          zoo root (default: $LDAE_ZOO, else zoo/ at the repository root)

notes:
  layers: embed (patch + position embedding), 1..depth (residual stream after that encoder block), final (after the
  encoder's last norm: timm's pooled output), dec1..decN (after a decoder block); a list is concatenated in order.
  --pooling mean averages all tokens; grid2 / grid4 average each cell of a 2x2 / 4x4 split of the token grid
  (4x / 16x the values; coarse layout kept). --all-layers adds one row per layer. --val probes on the split held out of --train (default: the fraction and seed
  the model was trained with, else 0.1 and seed 0): the place for recipe decisions; --test is for the final number.
  --knn-standardize standardises features with the train side's mean/std before k-NN (every row alike);
  --flip-tta averages the features of each image and its mirror.
  features: the encoder sees the clean image (pixel-scaled x/127.5-1, no PCA projection); with --time-cond adaln
  it is told t = --t of 1000 (the paper's t = 10); otherwise t is ignored.
  probe: features standardised with the train split's mean/var, multinomial logistic regression fitted with
  full-batch L-BFGS (--probe-iters), weight decay picked on a held-out 10% of train, then refit on all of train.
  k-NN: cosine similarity, k = --knn-k, votes weighted by exp(sim / 0.07) (DINO).
  baselines: pixels = the raw pixel-scaled image flattened (S*S*3 values); random = the same architecture
  randomly initialised (seed 0); kmeans = Coates, Lee & Ng (2011): K centroids (--kmeans-k, 1600: their 77.9% CIFAR-10
  row; 4000 their best) of brightness/contrast-normalised, ZCA-whitened p x p patches (--kmeans-patch 6) fitted by
  k-means (--kmeans-iters) on --kmeans-patches random patches of the probe's training images only (default 100000,
  a quarter of the paper's 400000, for a CPU budget; seed --seed), the triangle activation max(0, mean(z) - z_k)
  (or hard: the nearest centroid) at every position, sum-pooled over a --kmeans-pool x --kmeans-pool grid (2: the
  quadrants; 4K features); the settings and the fit time are recorded. All go through the same probe and k-NN.
  denoise: test images corrupted as in training at timesteps --denoise-t; PSNR of the noisy input, of the model's
  output, and the PCA-only ceiling (clean image projected to d components).
"""

/// Every command and the function that runs it, in `usage`'s order.
let commands: [(name: String, run: ([String]) throws -> Void)] = [
    ("list", runList), ("show", { try runShow($0, verify: false) }), ("verify", { try runShow($0, verify: true) }),
    ("features", runFeatures), ("features-merge", runFeaturesMerge), ("eval", runEval), ("export", runExport), ("card", runCard), ("recommend", runRecommend),
    ("sample", runSample), ("probe", runProbe), ("predict", runPredict),
    ("finetune", { try runFinetune($0, world: SingleProcess()) }),   // dispatched below as a possibly distributed command
]

func parseList<T>(_ s: String?, _ name: String, _ f: (String) -> T?) throws -> [T]? {
    guard let s else { return nil }
    return try s.split(separator: ",").map { part in
        guard let v = f(part.trimmingCharacters(in: .whitespaces)) else { throw UsageError("--\(name): cannot parse '\(part)'") }
        return v
    }
}

/// --layers (or --layer) parsed for this architecture; nil when absent.
func layerList(_ a: Arguments, _ c: ModelConfig) throws -> [FeatureLayer]? {
    guard let s = a.string("layers") ?? a.string("layer") else { return nil }
    return try FeatureLayer.list(s, config: c)
}

if CommandLine.arguments.dropFirst().first == "finetune" {   // a world of one unless mpirun / srun started it
    runDistributedCommand("ldae-zoo", environment: ProcessInfo.processInfo.environment) { world in try runFinetune(Array(CommandLine.arguments.dropFirst(2)), world: world) }
}

runCommand("ldae-zoo") {
    let argv = Array(CommandLine.arguments.dropFirst())
    guard let cmd = argv.first, !["-h", "--help", "help"].contains(cmd) else { print(usage); return }
    guard let c = commands.first(where: { $0.name == cmd }) else {
        throw UsageError("unknown command '\(cmd)' (\(commands.map(\.name).joined(separator: ", ")))")
    }
    try c.run(Array(argv.dropFirst()))
}

/// The zoo of `--zoo DIR`, else `$LDAE_ZOO`, else the repository's (`ZooStore.resolve`).
func zooStore(_ a: Arguments) -> ZooStore {
    ZooStore.resolve(a.string("zoo"), environment: ProcessInfo.processInfo.environment["LDAE_ZOO"])
}
