#!/usr/bin/env bash
# Benchmark of ldae-fit-pca (run as `tools/bench pca`, which builds release first).
#
# Data: the CIFAR-10 train set (50,000 images, 32 px) as shards with patch 4 (3.2 M patches of D = 48) and
# patch 16 (200,000 patches of D = 768). The shards are written by `ldae-prep` when this build has a working
# one, otherwise by the small h5py writer below (same file format); they are cached in data/bench-pca/.
# Times the whole command (read from disk + accumulate + eigendecomposition + write), median of $RUNS runs,
# peak RSS by /usr/bin/time, and, when /usr/bin/python3 has numpy + h5py, numpy on the same data in the same
# run: float32 in memory (center, X^T X, eigh: the straightforward reference) and with the read from the shards.
# Ends with one line: seconds=... seconds_768=... peak_rss_mb=... (+ numpy figures and ratios).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-5}"
BIN=.build/release
PY=/usr/bin/python3
DATA=data/bench-pca
TGZ=../shared/data/cifar10-jpg.tgz
[ -f "$TGZ" ] || TGZ=/work/shared/data/cifar10-jpg.tgz
mkdir -p "$DATA"
if [ ! -d data/cifar10-jpg/train ]; then
  echo "extracting $TGZ into data/" >&2
  tar -xzf "$TGZ" -C data
fi

have_numpy=0
if [ -x "$PY" ] && "$PY" -c "import numpy, h5py" 2>/dev/null; then have_numpy=1; fi

make_shards() {   # make_shards PATCH OUT
  local p="$1" out="$2"
  [ -f "$out/index.json" ] && return 0
  if [ -x "$BIN/ldae-prep" ] && "$BIN/ldae-prep" --help 2>&1 | grep -q -- "--patch p"; then
    echo "writing $out with ldae-prep (patch $p)" >&2
    if "$BIN/ldae-prep" images data/cifar10-jpg/train --out "$out" --patch "$p" --size 32 --quiet >&2; then return 0; fi
    echo "ldae-prep failed; falling back to the h5py writer" >&2
    rm -rf "$out"
  fi
  "$PY" -c "import PIL" 2>/dev/null || { echo "need ldae-prep or python3 with h5py+numpy+PIL to write the shards" >&2; exit 1; }
  echo "writing $out with the h5py writer (patch $p)" >&2
  "$PY" - "$p" "$out" <<'PYEOF'
import sys, os, json, hashlib, datetime
import numpy as np, h5py
from PIL import Image
p, out = int(sys.argv[1]), sys.argv[2]
root = "data/cifar10-jpg/train"
classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
items = [(c, f) for ci, c in enumerate(classes) for f in sorted(os.listdir(os.path.join(root, c)))]
S, g = 32, 32 // p
tmp = out + ".tmp"
os.makedirs(tmp, exist_ok=True)
shards, per = [], 10000
for k in range(0, len(items), per):
    chunk = items[k:k + per]
    imgs = np.stack([np.asarray(Image.open(os.path.join(root, c, f)).convert("RGB")) for c, f in chunk])
    patches = imgs.reshape(-1, g, p, g, p, 3).transpose(0, 1, 3, 2, 4, 5).reshape(len(chunk), g * g, p * p * 3)
    name = "shard-%05d.h5" % (k // per)
    with h5py.File(os.path.join(tmp, name), "w") as f:
        f.attrs["format"] = "ldae-shard"; f.attrs["format_version"] = np.int64(1)
        f.attrs["image_size"] = np.int64(S); f.attrs["patch_size"] = np.int64(p); f.attrs["channels"] = np.int64(3)
        f.attrs["resize"] = "crop"; f.attrs["alpha_background"] = "rgb(255,255,255)"
        f.create_dataset("patches", data=np.ascontiguousarray(patches, dtype=np.uint8), chunks=(min(256, len(chunk)), g * g, p * p * 3))
        f.create_dataset("labels", data=np.array([classes.index(c) for c, _ in chunk], dtype=np.int32))
        f.create_dataset("class_names", data=classes, dtype=h5py.string_dtype())
        f.create_dataset("paths", data=[c + "/" + fn for c, fn in chunk], dtype=h5py.string_dtype())
    sha = hashlib.sha256(open(os.path.join(tmp, name), "rb").read()).hexdigest()
    shards.append({"file": name, "count": len(chunk), "sha256": sha})
idx = {"format": "ldae-index", "format_version": 1, "image_size": S, "patch_size": p, "channels": 3, "resize": "crop",
       "labeled": True, "class_names": classes, "shards": shards, "total": len(items),
       "settings": {"writer": "tools/bench.d/pca.sh (h5py)"}, "skipped_counts": {}, "skipped": [],
       "created": datetime.datetime.utcnow().isoformat() + "Z"}
json.dump(idx, open(os.path.join(tmp, "index.json"), "w"), indent=2, sort_keys=True)
os.rename(tmp, out)
PYEOF
}

make_shards 4 "$DATA/p4"
make_shards 16 "$DATA/p16"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_ours() {   # run_ours SHARDS OUT -> appends "seconds rss_kb" lines to $tmp/OUT.times
  local shards="$1" out="$2"
  for i in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$tmpd/rss" "$BIN/ldae-fit-pca" "$shards" --out "$tmpd/$out.h5" --no-figures >"$tmpd/$out.stdout" 2>"$tmpd/$out.stderr" \
      || { cat "$tmpd/$out.stderr" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc -l) $(cat "$tmpd/rss")" >> "$tmpd/$out.times"
  done
}

tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT

echo "== ldae-fit-pca, CIFAR-10 train, patch 4: 3.2 M patches of D = 48 ($RUNS runs) ==" >&2
run_ours "$DATA/p4" p4
cat "$tmpd/p4.stdout" >&2
echo "== ldae-fit-pca, CIFAR-10 train, patch 16: 200,000 patches of D = 768 ($RUNS runs) ==" >&2
run_ours "$DATA/p16" p16
s48=$(awk '{print $1}' "$tmpd/p4.times" | median)
s768=$(awk '{print $1}' "$tmpd/p16.times" | median)
rss48=$(awk '{print $2/1024}' "$tmpd/p4.times" | sort -g | tail -1)
rss768=$(awk '{print $2/1024}' "$tmpd/p16.times" | sort -g | tail -1)
printf "ours  D=48 : median %.3f s (runs: %s), peak RSS %.0f MB\n" "$s48" "$(awk '{printf "%.3f ", $1}' "$tmpd/p4.times")" "$rss48" >&2
printf "ours  D=768: median %.3f s (runs: %s), peak RSS %.0f MB\n" "$s768" "$(awk '{printf "%.3f ", $1}' "$tmpd/p16.times")" "$rss768" >&2
peak=$(printf "%s\n%s\n" "$rss48" "$rss768" | sort -g | tail -1)

extra=""
if [ "$have_numpy" = 1 ]; then
  for d in p4 p16; do
    "$PY" - "$DATA/$d" "$tmpd/$d.h5" "$RUNS" > "$tmpd/np_$d" <<'PYEOF'
import sys, json, time, resource, h5py, numpy as np
folder, ours, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
idx = json.load(open(folder + "/index.json"))
t0 = time.perf_counter()
X = np.concatenate([h5py.File(folder + "/" + s["file"], "r")["patches"][...].reshape(-1, idx["patch_size"] ** 2 * 3)
                    for s in idx["shards"]])
Xf = X.astype(np.float32) / np.float32(127.5) - np.float32(1)
read_s = time.perf_counter() - t0
def fit(A):
    mu = A.mean(0); Ac = A - mu
    C = Ac.T @ Ac / (len(A) - 1)
    return np.linalg.eigh(C)
ts = []
for _ in range(runs):
    t = time.perf_counter(); w, V = fit(Xf); ts.append(time.perf_counter() - t)
fit_s = float(np.median(ts))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# Agreement: our eigenvalues against numpy's float32 fit and a float64 one (blocked, untimed).
n, D = Xf.shape
mu = X.mean(0, dtype=np.float64) / 127.5 - 1
C64 = np.zeros((D, D))
for k in range(0, n, 1 << 18):
    B = X[k:k + (1 << 18)].astype(np.float64) / 127.5 - 1 - mu
    C64 += B.T @ B
w64 = np.linalg.eigvalsh(C64 / (n - 1))[::-1]
f = h5py.File(ours, "r"); ev = f["eigenvalues"][...].astype(np.float64); mean = f["mean"][...]
top = w64 > 1e-6 * w64[0]
rel64 = float(np.max(np.abs(ev[top] - w64[top]) / w64[top]))
rel32 = float(np.max(np.abs(w[::-1][top] - w64[top]) / w64[top]))
print(f"{read_s:.4f} {fit_s:.4f} {rss:.0f} {rel64:.2e} {rel32:.2e} {np.abs(mean - mu).max():.2e}")
PYEOF
  done
  read r48 f48 m48 e48 e48np mu48 < "$tmpd/np_p4"
  read r768 f768 m768 e768 e768np mu768 < "$tmpd/np_p16"
  t48=$(echo "$r48 + $f48" | bc -l); t768=$(echo "$r768 + $f768" | bc -l)
  printf "numpy D=48 : fit in memory (float32 center, X^T X, eigh) %.3f s, read+convert %.3f s, total %.3f s, peak RSS %.0f MB\n" "$f48" "$r48" "$t48" "$m48" >&2
  printf "numpy D=768: fit in memory %.3f s, read+convert %.3f s, total %.3f s, peak RSS %.0f MB\n" "$f768" "$r768" "$t768" "$m768" >&2
  printf "eigenvalues vs float64 numpy: ours max rel diff %s (D=48), %s (D=768); numpy float32: %s, %s; mean max abs diff %s, %s\n" \
    "$e48" "$e768" "$e48np" "$e768np" "$mu48" "$mu768" >&2
  ratio48=$(echo "$s48 / $t48" | bc -l); ratio768=$(echo "$s768 / $t768" | bc -l)
  printf "ratio ours / numpy (read + fit): %.2f (D=48), %.2f (D=768)\n" "$ratio48" "$ratio768" >&2
  extra=$(printf " numpy_seconds=%.3f numpy_fit_seconds=%.3f numpy_seconds_768=%.3f numpy_fit_seconds_768=%.3f numpy_peak_rss_mb=%.0f ratio=%.2f ratio_768=%.2f eig_rel_diff=%s eig_rel_diff_768=%s" \
    "$t48" "$f48" "$t768" "$f768" "$(printf "%s\n%s\n" "$m48" "$m768" | sort -g | tail -1)" "$ratio48" "$ratio768" "$e48" "$e768")
else
  echo "numpy comparison skipped: /usr/bin/python3 has no numpy + h5py" >&2
fi
printf "seconds=%.3f seconds_768=%.3f peak_rss_mb=%.0f peak_rss_mb_768=%.0f threads=%s%s\n" "$s48" "$s768" "$rss48" "$rss768" "$(nproc)" "$extra"
