#!/usr/bin/env bash
# tools/bench train [--batch 128] [--steps 5] [--threads N]
# Training-step benchmark of the reference (tiny) config: median step time, images/s, GFLOP/s, encoder features
# images/s at batch 256, peak RSS. Run by tools/bench (which builds release first).
# `ldae-train bench` measures, in one process, OpenBLAS sgemm, the model's forward+backward alone, encoder features,
# then full l-DAE training steps. In the same run: numpy's sgemm on the system OpenBLAS (the machine's reference) and,
# where torch + timm import, PyTorch eager on the same config (tools/bench.d/torch_ref.py), so the ratios compare
# things measured minutes apart, not against fixed figures. `ldae-train bench --kernels` gives the per-kernel split.
# Ends with one key=value line.
set -euo pipefail
cd "$(dirname "$0")/../.."
exe=.build/release/ldae-train
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on these 2 cores slow every figure)" >&2
sgemm=""
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  sgemm=$(OPENBLAS_NUM_THREADS=2 /usr/bin/python3 - <<'PY'
import numpy as np, time
a = np.random.rand(2048, 2048).astype(np.float32); b = np.random.rand(2048, 2048).astype(np.float32)
a @ b
ts = []
for _ in range(5):
    t0 = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t0)
ts.sort(); print("%.1f" % (2 * 2048**3 / ts[2] / 1e9))
PY
)
  echo "sgemm reference (numpy float32 2048^3 on the system OpenBLAS, 2 threads, median of 5): ${sgemm} GFLOP/s" >&2
fi
out=$("$exe" bench "$@" | tee /dev/stderr | tail -1)
gf=$(echo "$out" | sed -n 's/.* gflops=\([0-9.]*\).*/\1/p')   # the step's own GFLOP/s, not sgemm_gflops
if [ -n "$sgemm" ] && [ -n "$gf" ]; then
  ratio=$(awk -v a="$gf" -v b="$sgemm" 'BEGIN { printf "%.2f", a / b }')
  out="$out numpy_sgemm_gflops=$sgemm numpy_sgemm_ratio=$ratio"
fi
# PyTorch eager on the same config in the same run, where torch + timm import (LDAE_TORCH_PYTHON picks the python;
# e.g. a venv with `pip install torch timm`). Batch, steps and threads follow our arguments.
py=${LDAE_TORCH_PYTHON:-python3}
targs=(); threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --batch|--steps|--warmup) targs+=("$1" "$2"); shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) shift ;;
  esac
done
if "$py" -c "import torch, timm" 2>/dev/null; then
  tout=$("$py" tools/bench.d/torch_ref.py "${targs[@]}" --threads "$threads" | tail -1)
  tms=$(echo "$tout" | sed -n 's/.*torch_step_ms=\([0-9.]*\).*/\1/p')
  tf=$(echo "$tout" | sed -n 's/.*torch_features_images_per_s=\([0-9.]*\).*/\1/p')
  # the full training step (the line starts with it; model_step_ms is the model alone)
  ms=$(echo "$out" | sed -n 's/^step_ms=\([0-9.]*\).*/\1/p')
  fi=$(echo "$out" | sed -n 's/.* features_images_per_s=\([0-9.]*\).*/\1/p')
  sr=$(awk -v a="$tms" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')
  fr=$(awk -v a="$fi" -v b="$tf" 'BEGIN { printf "%.2f", a / b }')
  echo "same run: PyTorch eager ${tms} ms/step, ${tf} feature images/s -> ldae is ${sr}x on the step, ${fr}x on features (target 1.3x)" >&2
  out="$out torch_step_ms=$tms torch_features_images_per_s=$tf speedup_step=$sr speedup_features=$fr"
else
  echo "PyTorch reference skipped: '$py' cannot import torch and timm (set LDAE_TORCH_PYTHON to a python that can)" >&2
fi
echo "$out"
