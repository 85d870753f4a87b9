#!/usr/bin/env bash
# tools/bench eval: the linear probe (ldae-zoo probe: L-BFGS, BLAS sgemm) against scikit-learn's
# LogisticRegression(lbfgs) on the SAME float32 features, same L2 (sklearn C=1 <=> our wd = 1/N), same
# iteration budget (100), same standardisation. Medians of REPS runs, ratio from this one run.
#   env: N=50000 TEST=10000 F=192 K=10 REPS=3; FEATURES=DIR/train.npy to use real features (with
#   train.labels.npy, test.npy, test.labels.npy beside it, as `ldae-zoo features` writes them).
# Ends with one line: probe_seconds=... top1=... sklearn_seconds=... sklearn_top1=... ratio=...
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-50000}; TEST=${TEST:-10000}; F=${F:-192}; K=${K:-10}; REPS=${REPS:-3}
OUT=.build/bench-eval; mkdir -p "$OUT"
BIN=.build/release/ldae-zoo
PY=python3
$PY -c "import numpy" 2>/dev/null || PY=/usr/bin/python3
if ! $PY -c "import sklearn" 2>/dev/null; then
  echo "scikit-learn missing for $PY: pip install scikit-learn (benchmark only)" >&2
  $PY -m pip install -q scikit-learn >&2 || true
fi

if [ -n "${FEATURES:-}" ]; then
  D=$(dirname "$FEATURES"); TR="$FEATURES"; TE="$D/test.npy"
else
  TR="$OUT/train.npy"; TE="$OUT/test.npy"
  # Synthetic features with the shape of a ViT-Ti probe: 10 overlapping classes in a 32-d subspace of 192-d,
  # mixed by a random matrix, plus isotropic noise and a common offset/scale (standardisation matters).
  $PY - "$N" "$TEST" "$F" "$K" "$OUT" <<'PYEOF'
import sys, numpy as np
n, nt, f, k, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(0)
mu = rng.normal(0, 0.55, (k, 32)); mix = rng.normal(0, 1, (32, f)) / np.sqrt(32)
scale = rng.uniform(0.5, 3, f); off = rng.normal(0, 2, f)
def make(m, seed):
    r = np.random.default_rng(seed); y = r.integers(0, k, m)
    z = mu[y] + r.normal(0, 1, (m, 32))
    x = (z @ mix + 0.7 * r.normal(0, 1, (m, f))) * scale + off
    return x.astype(np.float32), y.astype(np.int32)
for name, m, s in (("train", n, 1), ("test", nt, 2)):
    x, y = make(m, s); np.save(f"{out}/{name}.npy", x); np.save(f"{out}/{name}.labels.npy", y)
print(f"synthetic features: train {n} x {f}, test {nt} x {f}, {k} classes", file=sys.stderr)
PYEOF
fi
NTR=$($PY -c "import numpy as np,sys; print(np.load(sys.argv[1], mmap_mode='r').shape[0])" "$TR")
WD=$($PY -c "print(1.0/$NTR)")

ours_s=(); ours_top1=""; ours_iters=""
for r in $(seq "$REPS"); do
  j=$("$BIN" probe "$TR" "$TE" --wd "$WD" --probe-iters 100 --no-knn --json)
  s=$($PY -c "import json,sys; d=json.loads(sys.argv[1])['linear_probe']; print(d['seconds'], d['top1'], d['iterations'])" "$j")
  read -r sec top1 iters <<<"$s"; ours_s+=("$sec"); ours_top1=$top1; ours_iters=$iters
done

sk=$($PY - "$TR" "$TE" "$REPS" <<'PYEOF'
import sys, time, numpy as np
try:
    from sklearn.linear_model import LogisticRegression
    import sklearn
except ImportError:
    print("nan nan 0 none"); sys.exit(0)
tr, te, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
lab = lambda p: np.load(p[:-4] + ".labels.npy")
x, y, xt, yt = np.load(tr), lab(tr), np.load(te), lab(te)
m, v = x.mean(0), x.var(0)
xs = ((x - m) / np.sqrt(v + 1e-6)).astype(np.float32); xts = ((xt - m) / np.sqrt(v + 1e-6)).astype(np.float32)
times = []
for _ in range(reps):
    clf = LogisticRegression(C=1.0, max_iter=100, solver="lbfgs")
    t0 = time.perf_counter(); clf.fit(xs, y); times.append(time.perf_counter() - t0)
print(np.median(times), (clf.predict(xts) == yt).mean(), int(np.max(clf.n_iter_)), sklearn.__version__)
PYEOF
)
read -r sk_s sk_top1 sk_iters sk_ver <<<"$sk"

# One full protocol run (wd grid on a held-out 10% + refit, and k-NN) for reference.
full=$("$BIN" probe "$TR" "$TE" --json)
read -r full_s full_top1 knn_s knn_top1 <<<"$($PY -c "import json,sys; d=json.loads(sys.argv[1]); print(d['linear_probe']['seconds'], d['linear_probe']['top1'], d['knn']['seconds'], d['knn']['top1'])" "$full")"

median=$($PY -c "import sys, statistics; print(statistics.median(map(float, sys.argv[1:])))" "${ours_s[@]}")
ratio=$($PY -c "print('%.2f' % ($sk_s / $median) if $sk_s == $sk_s else 'nan')")
echo "features: train $NTR, $F-d, wd=$WD (= sklearn C=1), 100 L-BFGS iterations max, ${REPS} runs, OpenBLAS threads default"
printf "ldae probe   : median %.3f s over %s runs (%s), %s iterations, test top-1 %.4f\n" "$median" "$REPS" "${ours_s[*]}" "$ours_iters" "$ours_top1"
printf "sklearn %s : median %.3f s (fit only), %s iterations, test top-1 %.4f\n" "$sk_ver" "$sk_s" "$sk_iters" "$sk_top1"
echo "speed ratio sklearn/ldae = $ratio (>1: ldae faster)"
printf "full protocol (wd grid %s + refit): %.2f s, top-1 %.4f; k-NN k=20: %.2f s, top-1 %.4f\n" "0,1e-5,1e-4,1e-3,1e-2" "$full_s" "$full_top1" "$knn_s" "$knn_top1"
echo "probe_seconds=$median top1=$ours_top1 sklearn_seconds=$sk_s sklearn_top1=$sk_top1 ratio=$ratio full_protocol_seconds=$full_s knn_seconds=$knn_s knn_top1=$knn_top1"
