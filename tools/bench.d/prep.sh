#!/usr/bin/env bash
# tools/bench prep: times the whole `ldae-prep images` command (release build, built by tools/bench)
#  1. CIFAR-10 train: 50,000 JPEGs at 32 px (no resampling), --workers 1 and 2, median of 3 runs each;
#  2. "photos": 3,000 JPEGs of 300x240 (CIFAR images upscaled by Pillow, made once) resized to 32 px, --workers 2.
# Peak RSS from /usr/bin/time. Data goes to the git-ignored data/ folder; outputs to data/bench-prep-out.
# Ends with one line: images_per_s=... images_per_s_1w=... speedup_2w_over_1w=... photos_images_per_s=... peak_rss_mb=...
# --baseline-bin DIR: another build's DIR/ldae-prep runs each configuration too, alternating with this build's (the
# baseline first in odd runs), and each configuration's median ratio (baseline s / this s: above 1 = this build
# faster) is printed and added to the last line as vs_baseline_1w=, vs_baseline_2w=, vs_baseline_photos=.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/ldae-prep
BASE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline-bin) BASE=$2/ldae-prep; shift 2 ;;
    *) echo "tools/bench prep: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -n "$BASE" ] && [ ! -x "$BASE" ]; then echo "--baseline-bin: no executable $BASE" >&2; exit 2; fi
DATA=data
TGZ="${LDAE_CIFAR_TGZ:-../shared/data/cifar10-jpg.tgz}"
RUNS="${RUNS:-3}"
mkdir -p "$DATA"
if [ ! -d "$DATA/cifar10-jpg/train" ]; then
  echo "extracting $TGZ into $DATA/" >&2
  tar -xzf "$TGZ" -C "$DATA"
fi
if [ ! -x /usr/bin/time ]; then apt-get install -y time >/dev/null; fi
PHOTOS="$DATA/photos-300x240"
if [ ! -f "$PHOTOS/.complete" ]; then
  /usr/bin/python3 -c "import PIL" 2>/dev/null || apt-get install -y python3-pil >/dev/null
  echo "making 3,000 photos of 300x240 in $PHOTOS (once)" >&2
  /usr/bin/python3 - "$DATA/cifar10-jpg/train" "$PHOTOS" <<'PY'
import os, sys
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
for cls in sorted(os.listdir(src)):
    os.makedirs(os.path.join(dst, cls), exist_ok=True)
    for name in sorted(os.listdir(os.path.join(src, cls)))[:300]:
        im = Image.open(os.path.join(src, cls, name)).convert("RGB").resize((300, 240), Image.BICUBIC)
        im.save(os.path.join(dst, cls, name), quality=90)
open(os.path.join(dst, ".complete"), "w").close()
PY
fi
OUT="$DATA/bench-prep-out"

# run LABEL INPUT WORKERS [EXE] -> prints "wall_seconds peak_kb cpu_seconds" of one run
run() {
  rm -rf "$OUT"
  /usr/bin/time -f "%e %M %U %S" -o "$OUT.time" "${4:-$BIN}" images "$2" --out "$OUT" --workers "$3" --quiet >/dev/null
  awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$OUT.time"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
declare -A T; declare -A CPU; declare -A VS; PEAK=0
for cfg in "cifar 1" "cifar 2" "photos 2"; do
  set -- $cfg
  input="$DATA/cifar10-jpg/train"; [ "$1" = photos ] && input="$PHOTOS"
  times=(); cpus=(); ratios=()
  for r in $(seq "$RUNS"); do
    if [ -n "$BASE" ] && [ $((r % 2)) = 1 ]; then read -r bsec _ _ < <(run "$1" "$input" "$2" "$BASE"); fi
    read -r sec kb cpu < <(run "$1" "$input" "$2")
    if [ -n "$BASE" ] && [ $((r % 2)) = 0 ]; then read -r bsec _ _ < <(run "$1" "$input" "$2" "$BASE"); fi
    times+=("$sec"); cpus+=("$cpu"); [ "$kb" -gt "$PEAK" ] && PEAK=$kb
    echo "  $1 --workers $2 run $r: ${sec}s wall, ${cpu}s CPU (user+sys), peak RSS $((kb / 1024)) MB${BASE:+; baseline ${bsec}s}" >&2
    [ -n "$BASE" ] && ratios+=("$(awk -v a="$bsec" -v b="$sec" 'BEGIN { printf "%.3f", a / b }')")
  done
  T["$1$2"]=$(printf '%s\n' "${times[@]}" | median)
  CPU["$1$2"]=$(printf '%s\n' "${cpus[@]}" | median)
  if [ -n "$BASE" ]; then
    VS["$1$2"]=$(printf '%s\n' "${ratios[@]}" | median)
    echo "  $1 --workers $2 against $BASE: per-run ratios ${ratios[*]} (median ${VS[$1$2]}x; above 1 = this build faster)" >&2
  fi
done
N=$(find "$DATA/cifar10-jpg/train" -type f | wc -l)
NP=$(find "$PHOTOS" -type f -name '*.jpg' | wc -l)
rate() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%.0f", n / t}'; }
C1=$(rate "$N" "${T[cifar1]}"); C2=$(rate "$N" "${T[cifar2]}"); P2=$(rate "$NP" "${T[photos2]}")
SPEED=$(awk -v a="${T[cifar1]}" -v b="${T[cifar2]}" 'BEGIN {printf "%.2f", a / b}')
rm -rf "$OUT" "$OUT.time"
echo "CIFAR-10 train, $N JPEGs at 32 px: --workers 1 median ${T[cifar1]} s ($C1 images/s); --workers 2 median ${T[cifar2]} s ($C2 images/s); 2 workers / 1 worker = ${SPEED}x"
echo "photos, $NP JPEGs 300x240 -> 32 px: --workers 2 median ${T[photos2]} s ($P2 images/s)"
CPUUS=$(awk -v c="${CPU[cifar1]}" -v n="$N" 'BEGIN {printf "%.0f", c / n * 1e6}')
CPUP=$(awk -v c="${CPU[photos2]}" -v n="$NP" 'BEGIN {printf "%.0f", c / n * 1e6}')
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
echo "median of $RUNS runs each, whole command (listing, decode, shards, sha256, index); peak RSS over all runs $((PEAK / 1024)) MB"
echo "CPU time (user+sys, median): CIFAR ${CPUUS} us/image (--workers 1), photos ${CPUP} us/image; load average $LOAD0 at start, $LOAD1 at end on $(nproc) cores (wall-clock rates are only meaningful on an idle machine)"
echo "images_per_s=$C2 images_per_s_1w=$C1 speedup_2w_over_1w=$SPEED photos_images_per_s=$P2 peak_rss_mb=$((PEAK / 1024)) cpu_us_per_image=$CPUUS photos_cpu_us_per_image=$CPUP load_avg=$LOAD1${BASE:+ vs_baseline_1w=${VS[cifar1]} vs_baseline_2w=${VS[cifar2]} vs_baseline_photos=${VS[photos2]}}"
