#!/usr/bin/env bash
# The fine-tuning study (issue 25): the committed l-DAE encoder (cifar10-ldae-vit96@v3) fine-tuned with labels against
# the same architecture fine-tuned from a random init, at the same budget (the same recipe and number of steps: the
# same CPU per step), validated on the split v3 was pretrained without; the validation curves against training
# CPU-minutes in one figure; then each classifier on the test set, once.
#
#   tools/finetune_study.sh                      # ~2 x 20 epochs of vit96 on 45,000 images (hours on 2 cores)
#   EPOCHS=5 tools/finetune_study.sh             # shorter
#   MATCH_PRETRAIN=1 tools/finetune_study.sh     # also a random-init run as long as v3's pretraining + fine-tuning
#   MPI="mpirun --allow-run-as-root -np 2" THREADS=1 tools/finetune_study.sh    # data-parallel (same results)
#   TRANSFER=fashion tools/finetune_study.sh     # also the transfer row on Fashion-MNIST (Debian package, below)
#
# Resumable: a run that published is skipped, a killed one resumes from its checkpoint. Outputs in $OUT:
# zoo/ (a copy of the parent and the classifiers), runs/NAME (checkpoints, logs, curves), figures/ (confusion
# matrices), val_curve.png (both runs; v3's also shifted right by its pretraining CPU, dashed), results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-sweeps/finetune-study}
TRAIN=${TRAIN:-work-out/shards/train}
TEST=${TEST:-work-out/shards/test}
PARENT=${PARENT:-cifar10-ldae-vit96@v3}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-0}
MPI=${MPI:-}
EXTRA=${EXTRA:-}              # more `ldae-zoo finetune` flags for every run, e.g. "--head readout"
FASHION_EPOCHS=${FASHION_EPOCHS:-$EPOCHS}
BIN=${BIN:-}
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}   # the figure needs matplotlib (Debian: python3-matplotlib)
if [ -z "$BIN" ]; then swift build -c release >/dev/null; BIN=.build/release; fi
mkdir -p "$OUT/zoo" "$OUT/runs" "$OUT/figures"

# the parent in the study's own zoo (the repository's zoo/ is not written to): finetune reads and publishes there
name=${PARENT%@*}; ver=${PARENT#*@}
if [ ! -d "$OUT/zoo/$name/$ver" ]; then
  mkdir -p "$OUT/zoo/$name"; cp -r "zoo/$name/$ver" "$OUT/zoo/$name/$ver"
fi
"$BIN/ldae-zoo" verify "$PARENT" --zoo "$OUT/zoo"

finetune() {   # NAME EPOCHS [flags...]
  local run=$1 epochs=$2; shift 2
  if [ -f "$OUT/runs/$run/published.json" ]; then echo "finetune_study: $run done"; return; fi
  local resume=""; [ -f "$OUT/runs/$run/checkpoint.safetensors" ] && resume="--resume"
  # shellcheck disable=SC2086
  $MPI "$BIN/ldae-zoo" finetune "$PARENT" --train "$TRAIN" --name "$run" --zoo "$OUT/zoo" --out "$OUT/runs/$run" \
    --epochs "$epochs" --threads "$THREADS" $EXTRA $resume "$@"
}

finetune ft-v3 "$EPOCHS"
finetune ft-random "$EPOCHS" --init random
if [ "${MATCH_PRETRAIN:-0}" = 1 ]; then
  # epochs for a random-init run whose fine-tuning CPU equals v3's pretraining CPU + ft-v3's fine-tuning CPU
  long=$("$PY" - "$OUT/zoo" "$PARENT" "$EPOCHS" <<'EOF'
import json, sys
zoo, parent, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
n, v = parent.split("@")
m = json.load(open(f"{zoo}/{n}/{v}/manifest.json"))
pre = m.get("train_cpu_seconds") or (m.get("provenance") or {}).get("cpu_seconds_total") or m["train_seconds"] * m.get("threads", 1)
ft = json.load(open(f"{zoo}/ft-v3/v1/manifest.json"))["classifier"]["cpu_seconds"]
print(max(epochs, round(epochs * (pre + ft) / ft)))
EOF
)
  finetune ft-random-long "$long" --init random
fi

if [ "${TRANSFER:-}" = fashion ]; then
  # the transfer row: Fashion-MNIST (Xiao, Rasul, Vollgraf 2017; 60,000 + 10,000 28x28 grey images of 10 kinds of
  # clothing, MIT license), installed by Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist),
  # written as class folders of PNGs by tools/idx_to_folders.py and prepared like CIFAR-10 (upscaled to 32 x 32 RGB)
  FM=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
  [ -f "$FM/train-images-idx3-ubyte.gz" ] || { echo "finetune_study: $FM: install Debian's dataset-fashion-mnist" >&2; exit 1; }
  if [ ! -f "$OUT/fashion/test/index.json" ]; then
    "$PY" tools/idx_to_folders.py "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz" "$OUT/fashion/png/train"
    "$PY" tools/idx_to_folders.py "$FM/t10k-images-idx3-ubyte.gz" "$FM/t10k-labels-idx1-ubyte.gz" "$OUT/fashion/png/test"
    "$BIN/ldae-prep" images "$OUT/fashion/png/train" --out "$OUT/fashion/train" --size 32 --patch 4
    "$BIN/ldae-prep" images "$OUT/fashion/png/test" --out "$OUT/fashion/test" --size 32 --patch 4 --class-names "$OUT/fashion/train/index.json"
  fi
  TRAIN="$OUT/fashion/train" finetune fashion-v3 "$FASHION_EPOCHS" --val-fraction 0.1
  TRAIN="$OUT/fashion/train" finetune fashion-random "$FASHION_EPOCHS" --val-fraction 0.1 --init random
fi

# each classifier on its test set, once
for run in $(ls "$OUT/zoo" | grep -v "^$name\$"); do
  test=$TEST; case $run in fashion-*) test="$OUT/fashion/test";; esac
  if ! grep -q ldae-classifier-eval "$OUT/zoo/$run/v1/evals.jsonl" 2>/dev/null; then
    "$BIN/ldae-zoo" eval "$run" --test "$test" --zoo "$OUT/zoo" --figures "$OUT/figures"
  fi
done

"$PY" - "$OUT" "$PARENT" <<'EOF'
import glob, json, os, sys
out, parent = sys.argv[1], sys.argv[2]
n, v = parent.split("@")
pm = json.load(open(f"{out}/zoo/{n}/{v}/manifest.json"))
# the parent's pretraining CPU: recorded since provenance existed; older entries (v3) only have wall seconds and
# threads, so wall x threads (an upper bound) stands in
pre = pm.get("train_cpu_seconds") or (pm.get("provenance") or {}).get("cpu_seconds_total") or pm["train_seconds"] * pm.get("threads", 1)
rows, curves = [], {}
for m in sorted(glob.glob(f"{out}/zoo/*/v1/manifest.json")):
    man = json.load(open(m))
    c = man.get("classifier")
    if not c:
        continue
    run = man["name"]
    ev = [json.loads(l) for l in open(os.path.join(os.path.dirname(m), "evals.jsonl")) if "ldae-classifier-eval" in l] \
        if os.path.exists(os.path.join(os.path.dirname(m), "evals.jsonl")) else []
    test = [e for e in ev if e["split"] == "test"]
    curve = c["val_curve"]
    curves[run] = (c["init"], curve)
    best = max(curve, key=lambda p: p["top1"]) if curve else None
    extra = pre if c["init"] == "pretrained" else 0
    rows.append("| %s | %s | %.1f | %d | %.1f | %.1f | %s | %s | %s |" % (
        run, c.get("init_entry") or "random init", man["epochs"], man["steps"], c["cpu_seconds"] / 60, (c["cpu_seconds"] + extra) / 60,
        "%.2f (step %d)" % (100 * best["top1"], best["step"]) if best else "-",
        "%.2f" % (100 * curve[-1]["top1"]) if curve else "-",
        "%.2f / %.2f" % (100 * test[-1]["top1"], 100 * test[-1]["top5"]) if test else "-"))
table = ["| run | start | epochs | steps | fine-tuning CPU-min | incl. pretraining | best val top-1 | final val top-1 | test top-1 / top-5 |",
         "|---|---|---|---|---|---|---|---|---|"] + rows
open(f"{out}/results.md", "w").write("\n".join(table) + "\n")
print("\n".join(table))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("finetune_study: no matplotlib; each run's own curve is runs/NAME/val_curve.png")
    sys.exit(0)
fig, ax = plt.subplots(figsize=(8, 5))
for run, (init, curve) in sorted(curves.items()):
    x = [p["cpu_seconds"] / 60 for p in curve]
    y = [100 * p["top1"] for p in curve]
    line, = ax.plot(x, y, marker=".", label=f"{run} ({'from ' + parent if init == 'pretrained' else 'random init'})")
    if init == "pretrained" and pre:
        ax.plot([xi + pre / 60 for xi in x], y, linestyle="--", color=line.get_color(),
                label=f"{run}, x shifted by {parent}'s pretraining ({pre / 60:.0f} CPU-min)")
ax.set_xlabel("training CPU-minutes (every process; validation excluded)")
ax.set_ylabel("validation top-1 (%)")
ax.set_title("Fine-tuning: pretrained vs random init")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{out}/val_curve.png", dpi=120)
print(f"finetune_study: {out}/val_curve.png, {out}/results.md")
EOF
