import Ldae

/// `ldae-train --help`: the flags' lines come from the knobs (TrainOptions, ModelConfig and TrainConfig `knobs`).
let usage = { """
usage: ldae-train --data SHARDS [--data SHARDS2] --pca pca.h5 --config \(ModelPreset.choices)|FILE.json
                  --epochs E --name NAME [options]
       ldae-train bench [--batch B] [--steps N] [--threads N] [--precision P] [--kernels] [--portable-kernels]
                                                  (training-step benchmark of the tiny config)

l-DAE pretraining (latent denoising autoencoder, Chen/Liu/Xie/He 2024) of a ViT on HDF5 shards. On success the
weights, pca.h5, train_log.jsonl, loss_curve.png and config.json are published to the zoo as NAME/vN.

\(KnobHelp.render(TrainOptions.knobs.help(defaults: TrainOptions(data: [], pcaPath: nil, model: ModelPreset.tiny.config, train: TrainConfig(), name: "NAME"))
                  + ModelConfig.knobs.help(defaults: ModelPreset.tiny.config) + TrainConfig.knobs.help(defaults: TrainConfig()),
                  sections: TrainHelp.sections))
several processes or machines (docs/scaling.md):
  mpirun -np N ldae-train ... or srun --mpi=pmix ldae-train ...: data-parallel training with the results of one
  process (to float rounding); --batch-size is the global batch (a multiple of N), --threads is per rank; rank 0
  alone prints, writes the run folder and publishes; --resume works with any number of ranks.
"""
}()

let benchUsage = """
usage: ldae-train bench [--batch 128] [--steps 5] [--warmup 1] [--threads N] [--precision \(Precision.choices)]
                        [--kernels] [--portable-kernels] [--no-avx512]
  --precision P        fp32 (default), bf16 (AVX512-BF16 CPUs only) or auto, as for training
  --kernels            per-kernel medians at the reference shapes (linear, attention, GELU, LayerNorm) next to
                       OpenBLAS's own sgemm on the same shape, instead of the training-step benchmark
  --portable-kernels   time the portable path (OpenBLAS, Swift SIMD) instead of the AVX2 C kernels
  --no-avx512          fp32 on ldae's AVX2 GEMM even where the CPU has AVX-512 (to compare the two)
"""
