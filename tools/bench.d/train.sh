#!/usr/bin/env bash
# tools/bench train [--batch 128] [--steps 5] [--threads N]
# Training-step benchmark of the reference (tiny) config: median step time, images/s, GFLOP/s, encoder features
# images/s at batch 256, peak RSS. Run by tools/bench (which builds release first).
# If ldae-train has the model-only mode (`bench-model`, wired to Ldae.ModelBenchmark.run, which also measures the
# raw OpenBLAS sgemm GFLOP/s in the same run) it is run first; then the full l-DAE step (`ldae-train bench`).
# The sgemm reference of this machine is measured in the same run (numpy float32 matmul on the system OpenBLAS)
# so that the step's GFLOP/s can be read as a ratio. Ends with one key=value line.
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
gf=$(echo "$out" | sed -n 's/.*gflops=\([0-9.]*\).*/\1/p')
if [ -n "$sgemm" ] && [ -n "$gf" ]; then
  ratio=$(awk -v a="$gf" -v b="$sgemm" 'BEGIN { printf "%.2f", a / b }')
  echo "$out sgemm_gflops=$sgemm sgemm_ratio=$ratio"
else
  echo "$out"
fi
