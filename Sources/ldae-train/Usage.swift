import Ldae

/// `ldae-train --help`.
let usage = { """
usage: ldae-train --data SHARDS [--data SHARDS2] --pca pca.h5 --config \(ModelPreset.choices)|FILE.json
                  --epochs E --name NAME [options]
       ldae-train bench [--batch B] [--steps N] [--threads N] [--precision P] [--kernels] [--portable-kernels]
                                                  (training-step benchmark of the tiny config)

l-DAE pretraining (latent denoising autoencoder, Chen/Liu/Xie/He 2024) of a ViT on HDF5 shards. On success the
weights, pca.h5, train_log.jsonl, loss_curve.png and config.json are published to the zoo as NAME/vN.

data and model:
  --data DIR            shard folder from ldae-prep (repeatable)
  --pca FILE            PCA basis from ldae-fit-pca (needed by --tokenizer pca)
  --tokenizer-file FILE a tokenizer from ldae-fit-tokenizer (patch-ae, patch-vae, conv-vae) or a pca.h5: sets
                        --tokenizer and, for a fitted one, --latent-dim from the file; its sha256 is recorded
  --config C            model preset (\(ModelPreset.choices); image/patch size taken from the shards) or a JSON file
  --encoder-width W --encoder-depth L --encoder-heads H --decoder-width W --decoder-depth L --decoder-heads H
  --mlp-ratio R            override the preset's or file's architecture
  --time-cond \(TimeCond.choices)   time conditioning of every block (default none: the encoder stays a plain timm ViT)
  --class-cond             class conditioning (DiT, the paper's starting point): a label embedding added to the adaLN
                           conditioning, labels from the shards (the validation split's are never read); features
                           use the null label
  --class-dropout P        labels replaced by the null label with probability P (default 0.1)
recipe (defaults = the paper's final l-DAE):
  --tokenizer \(TokenizerKind.choices)
                           where the noise goes: the top-d PCA latent (default), pixels, or a fitted tokenizer's
                           latent (needs --tokenizer-file)
  --latent-dim d           PCA components kept (default 16; a fitted tokenizer's own d)
  --latent-scale \(LatentScale.choices)  scale of the latent before noise (default none; whiten = unit variance per
                           component, global = one factor for unit average variance)
  --schedule S             noise schedule (default ldae), one of:
\(NoiseScheduleKind.usageLines(indent: "                             "))
  --sigma-max S            largest sigma of the ldae schedule (default sqrt(2))
  --noise-levels \(NoiseLevels.choices)          t per image (default) or one fixed --sigma (default 1/3)
  --sigma S                sigma of single-level noise
  --target \(PredictionTarget.choices)     predict the clean image (default) or the noise (mapped to pixels)
  --input-scaling          z = gamma_t z0 + sigma_t eps (DDPM form; default: z0 + sigma_t eps)
  --residual-weight W      loss weight of the non-principal PCA components (default 0.1)
  --no-loss-weighting      drop lambda_t = 1/(1+sigma_t^2)
  --timesteps T            (default 1000)
optimization:
  --epochs E               (default 10)     --steps N   total steps (overrides epochs)
  --batch-size B           (default 128)
  --lr LR                  base learning rate per 256 images; actual = LR * B / 256 (default 1.5e-4)
  --min-lr LR              end of the cosine (default 0)
  --warmup-epochs E        linear warmup (default 1)
  --weight-decay W         AdamW decoupled decay, not on norms/biases/embeddings (default 0)
  --beta2 B                (default 0.95)
  --clip C                 gradient-norm clipping, 0 = off (default 1.0)
  --ema D                  EMA decay of weights, 0 = off (default); published weights = EMA when on
  --no-flip                no random horizontal flips
  --crop \(CropAugmentation.choices)      random crops (default none): pad = pad by --crop-padding (4) and crop back,
                           rrc = random-resized crop of area fraction [--crop-scale-min (0.35), 1]
  --val-fraction F         hold out this fraction of the training images as the validation split (default 0);
  --val-seed S             its seed (default 0); `ldae-zoo eval --val` probes on the same images
  --seed S                 (default 0): data order, flips, noise and init are functions of (seed, step)
  --threads N              worker and BLAS threads (default: all cores)
  --portable-kernels       the portable kernels (OpenBLAS, Swift SIMD) even on a CPU with AVX2+FMA
  --precision \(Precision.choices)  the linear layers' and attention's matrix products (default fp32): bf16 = bf16
                           inputs with fp32 accumulation on AVX512-BF16 CPUs (an error elsewhere); fp32 master
                           weights, AdamW, norms, softmax, GELU and reductions either way; auto = bf16 where the CPU
                           has it, else fp32. Recorded in the checkpoint and the zoo entry; a --resume in another
                           precision than the checkpoint's is refused (a run keeps one precision)
run, checkpoints, zoo:
  --out DIR                run folder (checkpoint, log, loss curve; default runs/NAME)
  --checkpoint-every N     steps between checkpoints (default 500; also on SIGINT/SIGTERM)
  --resume                 continue from DIR/checkpoint.safetensors (same losses as an uninterrupted run)
  --stop-after N           stop (with a checkpoint) once N steps are done
  --name NAME              zoo name      --zoo DIR   zoo root (default: $LDAE_ZOO or the repo's zoo/)
  --weights-dtype f32|f16  (default f32)
  --no-publish             train and checkpoint only
  --memory-budget-mb M     hold the shards in memory up to M MB, else stream them (default 1024)
  --quiet                  no progress lines
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
  --portable-kernels   time the portable path (OpenBLAS, Swift SIMD) instead of the AVX2+FMA kernels
  --no-avx512          fp32 on ldae's AVX2 GEMM even where the CPU has AVX-512 (to compare the two)
"""
