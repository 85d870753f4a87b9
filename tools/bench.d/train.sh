#!/usr/bin/env bash
# tools/bench train [--batch 128] [--steps 5] [--threads N] [--rounds R] [--baseline-bin DIR] [--portable-kernels]
#                   [--precision fp32|bf16|auto] [--bf16]
# Training-step benchmark of the reference (tiny) config: median step time, images/s, GFLOP/s, encoder features
# images/s at batch 256, peak RSS. Run by tools/bench (which builds release first). Starts with the CPU model and
# its avx2 / avx512f / avx512_bf16 flags.
# `ldae-train bench` measures, in one process, OpenBLAS sgemm, the model's forward+backward alone, encoder features,
# then full l-DAE training steps (with a per-phase split). In the same run: numpy's sgemm on the system OpenBLAS (the
# machine's reference) and, where torch + timm import, PyTorch eager on the same config (tools/bench.d/torch_ref.py).
# With --rounds R (default 1) ldae and PyTorch run alternately R times and the figures are the medians over rounds,
# so both see the same machine (these 2 cores are shared and the load drifts by +-20% over minutes).
# --portable-kernels runs ldae's portable path (OpenBLAS + Swift SIMD) instead of the AVX2 C kernels; --precision
# runs ldae's linear layers (and PyTorch's forward: torch.autocast bf16) in that precision.
# --bf16: four legs in every round, their order rotating from round to round: ldae fp32, ldae bf16, PyTorch eager
# fp32 and PyTorch with torch.autocast("cpu", dtype=torch.bfloat16), with each round's ratios and the medians (needs a
# CPU with avx512_bf16 and a python with torch + timm: LDAE_TORCH_PYTHON=/work/venv-bench/bin/python, docs/benchmarks.md).
# --baseline-bin DIR: another build's binaries (DIR/ldae-train, e.g. .build/release of another checkout) run in the
# same rounds, alternating with this build's, with the per-round ratios (baseline ms / this ms: above 1 = faster).
# `ldae-train bench --kernels` gives the per-kernel split, both paths alternating. Ends with one key=value line.
set -euo pipefail
cd "$(dirname "$0")/../.."
exe=.build/release/ldae-train
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " ${flags#*:} " in *" $1 "*) echo yes ;; *) echo no ;; esac; }
cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//')
echo "cpu: ${cpu:-unknown}, $(nproc) cores; avx2 $(has avx2), avx512f $(has avx512f), avx512_bf16 $(has avx512_bf16)" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on these 2 cores slow every figure)" >&2
rounds=1; largs=(); targs=(); threads=2; base=""; four=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --batch|--steps|--warmup) largs+=("$1" "$2"); targs+=("$1" "$2"); shift 2 ;;
    --threads) threads=$2; largs+=("$1" "$2"); shift 2 ;;
    --precision) largs+=("$1" "$2"); [ "$2" = bf16 ] && targs+=("$1" "$2"); shift 2 ;;
    --baseline-bin) base=$2; shift 2 ;;
    --bf16) four=1; shift ;;
    *) largs+=("$1"); shift ;;
  esac
done
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
py=${LDAE_TORCH_PYTHON:-python3}
havetorch=0
if "$py" -c "import torch, timm" 2>/dev/null; then havetorch=1; else
  echo "PyTorch reference skipped: '$py' cannot import torch and timm (set LDAE_TORCH_PYTHON to a python that can)" >&2
fi
key() { echo "$1" | sed -n "s/^\(.* \)\{0,1\}$2=\([0-9.]*\).*/\2/p"; }   # value of key $2 in line $1 (anchored)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
if [ "$four" = 1 ]; then
  [ "$(has avx512_bf16)" = yes ] || { echo "--bf16: this CPU has no avx512_bf16 (ldae's bf16 kernel cannot run here)" >&2; exit 2; }
  [ "$havetorch" = 1 ] || { echo "--bf16 compares with PyTorch: set LDAE_TORCH_PYTHON to a python with torch + timm" >&2; exit 2; }
  # four legs per round, the order rotating so that none always runs first: each leg's step ms and feature images/s
  legs=("ldae fp32" "ldae bf16" "torch fp32" "torch bf16")
  declare -A ms fps
  run_leg() {   # $1 = leg index: prints "step_ms features_images_per_s"
    local o
    case $1 in
      0) o=$("$exe" bench "${largs[@]}" --precision fp32 | tail -1); echo "$(key "$o" step_ms) $(key "$o" features_images_per_s)" ;;
      1) o=$("$exe" bench "${largs[@]}" --precision bf16 | tail -1); echo "$(key "$o" step_ms) $(key "$o" features_images_per_s)" ;;
      2) o=$("$py" tools/bench.d/torch_ref.py "${targs[@]}" --threads "$threads" --precision fp32 2>/dev/null | tail -1)
         echo "$(key "$o" torch_step_ms) $(key "$o" torch_features_images_per_s)" ;;
      3) o=$("$py" tools/bench.d/torch_ref.py "${targs[@]}" --threads "$threads" --precision bf16 2>/dev/null | tail -1)
         echo "$(key "$o" torch_step_ms) $(key "$o" torch_features_images_per_s)" ;;
    esac
  }
  div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
  # ratios (above 1 = the second named is faster): bf16 over fp32 within each, then ldae over PyTorch at each precision
  names=("ldae bf16/fp32" "torch bf16/fp32" "ldae/torch fp32" "ldae/torch bf16")
  pairs=("0 1" "2 3" "2 0" "3 1")   # ratio = ms of the first leg / ms of the second (features: the other way round)
  declare -A rs rf
  for r in $(seq 1 "$rounds"); do
    echo "== round $r of $rounds" >&2
    for i in 0 1 2 3; do
      l=$(( (i + r - 1) % 4 ))
      read -r m f < <(run_leg $l)
      [ -n "$m" ] || { echo "leg '${legs[$l]}' gave no figures" >&2; exit 1; }
      ms[$l,$r]=$m; fps[$l,$r]=$f
    done
    line="round $r:"
    for l in 0 1 2 3; do line="$line ${legs[$l]} ${ms[$l,$r]} ms (${fps[$l,$r]} img/s);"; done
    for p in 0 1 2 3; do
      set -- ${pairs[$p]}
      rs[$p,$r]=$(div "${ms[$1,$r]}" "${ms[$2,$r]}"); rf[$p,$r]=$(div "${fps[$2,$r]}" "${fps[$1,$r]}")
      line="$line ${names[$p]} ${rs[$p,$r]}x"
    done
    echo "$line" >&2
  done
  out=""
  keys=(ldae_fp32 ldae_bf16 torch_fp32 torch_bf16)
  echo "medians over $rounds round(s) (step ms, feature images/s):" >&2
  for l in 0 1 2 3; do
    m=$(for r in $(seq 1 "$rounds"); do echo "${ms[$l,$r]}"; done | median)
    f=$(for r in $(seq 1 "$rounds"); do echo "${fps[$l,$r]}"; done | median)
    echo "  ${legs[$l]}: $m ms/step, $f images/s" >&2
    out="$out ${keys[$l]}_step_ms=$m ${keys[$l]}_features_images_per_s=$f"
  done
  rkeys=(ldae_bf16_speedup torch_bf16_speedup ldae_vs_torch_fp32 ldae_vs_torch_bf16)
  echo "per-round ratios (ms of the first / ms of the second: above 1 = the second faster; features the same way):" >&2
  for p in 0 1 2 3; do
    all=$(for r in $(seq 1 "$rounds"); do echo "${rs[$p,$r]}"; done); allf=$(for r in $(seq 1 "$rounds"); do echo "${rf[$p,$r]}"; done)
    set -- ${pairs[$p]}
    echo "  ${names[$p]} (${legs[$1]} ms / ${legs[$2]} ms): step $(echo $all) (median $(echo "$all" | median)x), features $(echo $allf) (median $(echo "$allf" | median)x)" >&2
    out="$out ${rkeys[$p]}_step=$(echo "$all" | median) ${rkeys[$p]}_features=$(echo "$allf" | median)"
  done
  echo "${out# } rounds=$rounds cpu_avx512_bf16=1"
  exit 0
fi
if [ -n "$base" ] && [ ! -x "$base/ldae-train" ]; then echo "--baseline-bin: no executable $base/ldae-train" >&2; exit 2; fi
ls_ms=(); ls_fi=(); ts_ms=(); ts_fi=(); rs=(); rf=(); bs_ms=(); bs_fi=(); bq=(); bqf=(); out=""
for r in $(seq 1 "$rounds"); do
  [ "$rounds" -gt 1 ] && echo "== round $r of $rounds" >&2
  bout=""
  # the baseline first in odd rounds, second in even ones, so that neither side always runs first
  if [ -n "$base" ] && [ $((r % 2)) = 1 ]; then bout=$("$base/ldae-train" bench "${largs[@]}" | tail -1); fi
  out=$("$exe" bench "${largs[@]}" | tee -a /dev/stderr | tail -1)   # -a: a plain tee truncates a redirected stderr file
  ls_ms+=("$(key "$out" step_ms)"); ls_fi+=("$(key "$out" features_images_per_s)")
  if [ -n "$base" ]; then
    if [ $((r % 2)) = 0 ]; then bout=$("$base/ldae-train" bench "${largs[@]}" | tail -1); fi
    bs_ms+=("$(key "$bout" step_ms)"); bs_fi+=("$(key "$bout" features_images_per_s)")
    bq+=("$(awk -v a="${bs_ms[-1]}" -v b="${ls_ms[-1]}" 'BEGIN { printf "%.3f", a / b }')")
    bqf+=("$(awk -v a="${ls_fi[-1]}" -v b="${bs_fi[-1]}" 'BEGIN { printf "%.3f", a / b }')")
    echo "round $r: this build ${ls_ms[-1]} ms/step, ${ls_fi[-1]} feature images/s; baseline ${bs_ms[-1]} ms/step, ${bs_fi[-1]} feature images/s -> ${bq[-1]}x step, ${bqf[-1]}x features" >&2
  fi
  if [ "$havetorch" = 1 ]; then
    tout=$("$py" tools/bench.d/torch_ref.py "${targs[@]}" --threads "$threads" | tail -1)
    ts_ms+=("$(key "$tout" torch_step_ms)"); ts_fi+=("$(key "$tout" torch_features_images_per_s)")
    rs+=("$(awk -v a="${ts_ms[-1]}" -v b="${ls_ms[-1]}" 'BEGIN { printf "%.2f", a / b }')")
    rf+=("$(awk -v a="${ls_fi[-1]}" -v b="${ts_fi[-1]}" 'BEGIN { printf "%.2f", a / b }')")
    echo "round $r: ldae ${ls_ms[-1]} ms/step, ${ls_fi[-1]} feature images/s; PyTorch eager ${ts_ms[-1]} ms/step, ${ts_fi[-1]} feature images/s -> ${rs[-1]}x step, ${rf[-1]}x features" >&2
  fi
done
ms=$(printf '%s\n' "${ls_ms[@]}" | median); fi=$(printf '%s\n' "${ls_fi[@]}" | median)
# the last round's line, with the step and features replaced by the medians over rounds
out=$(echo "$out" | sed "s/^step_ms=[0-9.]*/step_ms=$ms/; s/ features_images_per_s=[0-9.]*/ features_images_per_s=$fi/")
out="$out rounds=$rounds"
gf=$(key "$out" gflops)
if [ -n "$sgemm" ] && [ -n "$gf" ]; then
  out="$out numpy_sgemm_gflops=$sgemm numpy_sgemm_ratio=$(awk -v a="$gf" -v b="$sgemm" 'BEGIN { printf "%.2f", a / b }')"
fi
if [ "$havetorch" = 1 ]; then
  tms=$(printf '%s\n' "${ts_ms[@]}" | median); tf=$(printf '%s\n' "${ts_fi[@]}" | median)
  sr=$(awk -v a="$tms" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')
  fr=$(awk -v a="$fi" -v b="$tf" 'BEGIN { printf "%.2f", a / b }')
  echo "same run, median of $rounds round(s): ldae $ms ms/step, $fi feature images/s; PyTorch eager $tms ms/step, $tf feature images/s -> ldae is ${sr}x on the step, ${fr}x on features (target 1.3x)" >&2
  # the paired figure: each round's ratio (ldae and PyTorch minutes apart), then their median and range
  prs=$(printf '%s\n' "${rs[@]}" | median); prf=$(printf '%s\n' "${rf[@]}" | median)
  echo "per-round ratios: step ${rs[*]} (median ${prs}x), features ${rf[*]} (median ${prf}x)" >&2
  out="$out torch_step_ms=$tms torch_features_images_per_s=$tf speedup_step=$sr speedup_features=$fr round_speedup_step_median=$prs round_speedup_features_median=$prf"
fi
if [ -n "$base" ]; then
  bms=$(printf '%s\n' "${bs_ms[@]}" | median); bfi=$(printf '%s\n' "${bs_fi[@]}" | median)
  pq=$(printf '%s\n' "${bq[@]}" | median); pqf=$(printf '%s\n' "${bqf[@]}" | median)
  echo "against $base, $rounds round(s): per-round step ratios ${bq[*]} (median ${pq}x), features ${bqf[*]} (median ${pqf}x); 1.00 = the same speed, above = this build faster" >&2
  out="$out baseline_step_ms=$bms baseline_features_images_per_s=$bfi vs_baseline_step=$pq vs_baseline_features=$pqf"
fi
echo "$out"
