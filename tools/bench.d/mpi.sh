#!/usr/bin/env bash
# tools/bench mpi: data-parallel training on this machine, 1 rank x 2 threads against 2 ranks x 1 thread
# (mpirun -np 2), the same global batch, config and data, alternating ROUNDS times so both see the same load.
# Per run: median step time (from train_log.jsonl, after WARMUP steps); for the 2-rank run also the median
# gradient allreduce time per step and the time waiting for the slower rank (LDAE_MPI_WAIT_TIMING=1: a barrier
# before the allreduce, plus the loss sum after the forward pass), as a fraction of the step.
#   env: CONFIG=tools/configs/cifar10-vit96.json BATCH=128 STEPS=30 WARMUP=5 ROUNDS=3
#        DATA=... PCA=... (default: the CIFAR-10 sample in Tests/LdaeTests/Fixtures/cifar10, prepared here)
# Ends with one line: step_ms_1x2=... step_ms_2x1=... ratio=... allreduce_ms=... wait_ms=... wait_fraction=...
#   grad_mb=... (ratio = 1x2 / 2x1: above 1 means 2 ranks are faster).
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-tools/configs/cifar10-vit96.json}; BATCH=${BATCH:-128}; STEPS=${STEPS:-30}; WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-3}
BIN=.build/release
OUT=.build/bench-mpi; mkdir -p "$OUT"
command -v mpirun >/dev/null || { echo "bench mpi: mpirun not found (tools/setup installs openmpi-bin)" >&2; exit 1; }
if [ -z "${DATA:-}" ]; then
  DATA="$OUT/shards"; PCA="$OUT/pca.h5"
  if [ ! -f "$DATA/index.json" ]; then
    "$BIN/ldae-prep" images Tests/LdaeTests/Fixtures/cifar10/train --out "$DATA" --size 32 --patch 4 >&2
  fi
  [ -f "$PCA" ] || "$BIN/ldae-fit-pca" "$DATA" --out "$PCA" >&2
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on these cores slow every figure)" >&2
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x LDAE_MPI_WAIT_TIMING=1)
common=(--data "$DATA" --pca "$PCA" --config "$CONFIG" --batch-size "$BATCH" --no-publish
        --checkpoint-every 0)
# median of one field over the log's steps after warm-up; field "step" = the step's wall time (seconds column diff)
field() {
  /usr/bin/python3 - "$1" "$2" "$WARMUP" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
w = int(sys.argv[3])
if sys.argv[2] == "step":
    v = [b["seconds"] - a["seconds"] for a, b in zip(lines, lines[1:])][w:]
else:
    v = [l.get(sys.argv[2]) or 0.0 for l in lines][w + 1:]
v.sort()
print("%.2f" % (1000 * v[len(v) // 2]))
PY
}
one=(); two=(); ar=(); wt=()
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$OUT/r1" "$OUT/r2"
  "$BIN/ldae-train" "${common[@]}" --steps "$STEPS" --quiet --name b1 --out "$OUT/r1" --threads 2
  "${mpi[@]}" -np 2 "$BIN/ldae-train" "${common[@]}" --steps "$STEPS" --quiet --name b2 --out "$OUT/r2" --threads 1
  one+=("$(field "$OUT/r1/train_log.jsonl" step)"); two+=("$(field "$OUT/r2/train_log.jsonl" step)")
  ar+=("$(field "$OUT/r2/train_log.jsonl" allreduce_seconds)"); wt+=("$(field "$OUT/r2/train_log.jsonl" wait_seconds)")
  echo "round $r: 1 rank x 2 threads ${one[-1]} ms/step; 2 ranks x 1 thread ${two[-1]} ms/step (allreduce ${ar[-1]} ms, waiting ${wt[-1]} ms)" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m1=$(median "${one[@]}"); m2=$(median "${two[@]}"); ma=$(median "${ar[@]}"); mw=$(median "${wt[@]}")
params=$("$BIN/ldae-train" "${common[@]}" --name b0 --out "$OUT/r0" --steps 1 --threads 2 2>&1 >/dev/null |
  sed -n 's/.*: \([0-9]*\) parameters.*/\1/p' | head -1); rm -rf "$OUT/r0"
echo "config $CONFIG, global batch $BATCH, $STEPS steps ($WARMUP warm-up), medians over $ROUNDS rounds; model $params parameters" >&2
awk -v a="$m1" -v b="$m2" -v ar="$ma" -v w="$mw" -v p="$params" 'BEGIN {
  printf "step_ms_1x2=%s step_ms_2x1=%s ratio=%.3f allreduce_ms=%s wait_ms=%s wait_fraction=%.3f grad_mb=%.2f\n", a, b, a / b, ar, w, w / b, p * 4 / 1e6 }'
