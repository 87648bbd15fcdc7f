#!/usr/bin/env bash
# Benchmarks `antidote profile` and `antidote check` on the Fashion-MNIST training set (60,000
# images of 28x28) against the Python tools a user would otherwise run on the same data in the
# same run: pandas (`describe`, `value_counts`, `duplicated`) and whylogs (`why.log`). Prints a
# Markdown table with time ratios and peak memory.
#
#   bench/validation.sh
#
# Creates a virtual environment in /var/tmp/antidote-bench-venv with numpy, pandas and whylogs
# from PyPI the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/time ] || need+=(time)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
python3 -c 'import venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
venv=/var/tmp/antidote-bench-venv
if ! "$venv/bin/python" -c 'import pandas, whylogs' 2>/dev/null; then
  echo "creating $venv (numpy, pandas, whylogs) ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas whylogs
fi

cargo build --release --quiet -p antidote
antidote="${CARGO_TARGET_DIR:-target}/release/antidote"
data=/usr/share/datasets/fashion-mnist
work="$(mktemp -d /var/tmp/antidote-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
repeats="${BENCH_REPEATS:-3}"

# best_of COMMAND...: "seconds peak_kib" of the fastest of $repeats runs after a warm-up.
best_of() {
  "$@" >/dev/null 2>&1
  local best="" rss=""
  for _ in $(seq "$repeats"); do
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>&1
    local out seconds
    out=$(tail -n 1 "$work/time.txt")
    seconds=${out% *}
    if [ -z "$best" ] || awk "BEGIN{exit !($seconds < $best)}"; then best=$seconds; rss=${out#* }; fi
  done
  echo "$best $rss"
}

# peer TOOL IMAGES LABELS: the fastest of $repeats runs of the Python peer, as its JSON line.
peer() {
  local best=""
  for _ in $(seq "$repeats"); do
    local line
    line=$("$venv/bin/python" bench/validation.py "$1" "$2" "$3")
    if [ -z "$best" ] || [ "$(echo "$line" | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["profile_seconds"])')" \< \
         "$(echo "$best" | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["profile_seconds"])')" ]; then
      best=$line
    fi
  done
  echo "$best"
}

field() { echo "$1" | "$venv/bin/python" -c "import json,sys; print(round(json.load(sys.stdin)['$2'], 2))"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1f\", $1 / $2; else print \"n/a\" }"; }

run_matrix() { # DIR SUFFIX LABEL
  local dir=$1 suffix=$2 label=$3
  read -r profile_s profile_k < <(best_of "$antidote" --no-ledger --quiet profile "$dir/train-images-idx3-ubyte$suffix" -o "$work/train.json")
  pandas_line=$(peer pandas "$dir/train-images-idx3-ubyte$suffix" "$dir/train-labels-idx1-ubyte$suffix")
  whylogs_line=$(peer whylogs "$dir/train-images-idx3-ubyte$suffix" "$dir/train-labels-idx1-ubyte$suffix")
  pandas_total=$(awk "BEGIN{print $(field "$pandas_line" load_seconds) + $(field "$pandas_line" profile_seconds)}")
  whylogs_total=$(awk "BEGIN{print $(field "$whylogs_line" load_seconds) + $(field "$whylogs_line" profile_seconds)}")
  echo
  echo "$label"
  echo
  echo "| tool | what it computes | load s | profile s | total s | peak MiB | antidote faster by (total) |"
  echo "|---|---|---|---|---|---|---|"
  printf '| antidote profile | schema, per-image size/brightness/channel stats, per-pixel mean and variance, label counts and entropy, exact duplicates, mergeable sketches | - | - | %s | %s | 1.0 |\n' "$profile_s" "$((profile_k / 1024))"
  printf '| pandas describe + value_counts + duplicated | count/mean/std/min/quartiles/max of 784 pixel columns, label shares, duplicates | %s | %s | %s | %s | %s |\n' \
    "$(field "$pandas_line" load_seconds)" "$(field "$pandas_line" profile_seconds)" "$pandas_total" "$(field "$pandas_line" peak_mib | cut -d. -f1)" "$(ratio "$pandas_total" "$profile_s")"
  printf '| whylogs why.log | per-column counts, types, KLL quantiles, HLL distinct, frequent items of 785 columns | %s | %s | %s | %s | %s |\n' \
    "$(field "$whylogs_line" load_seconds)" "$(field "$whylogs_line" profile_seconds)" "$whylogs_total" "$(field "$whylogs_line" peak_mib | cut -d. -f1)" "$(ratio "$whylogs_total" "$profile_s")"
}

echo
echo "#### Validation benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)): Fashion-MNIST training set, 60,000 x 784"
run_matrix "$data" ".gz" "Gzipped IDX as Debian ships it (decompression alone takes about 0.3 s with \`zcat\`):"
raw="$work/raw"
mkdir -p "$raw"
zcat "$data/train-images-idx3-ubyte.gz" > "$raw/train-images-idx3-ubyte"
zcat "$data/train-labels-idx1-ubyte.gz" > "$raw/train-labels-idx1-ubyte"
run_matrix "$raw" "" "Uncompressed IDX (the same records):"
read -r check_s check_k < <(best_of "$antidote" --no-ledger --quiet check "$data/t10k-images-idx3-ubyte.gz" --baseline "$work/train.json")
echo
printf '`antidote check` of the test set (10,000 images, gzipped) against the training profile: %s s, peak %s MiB.\n' "$check_s" "$((check_k / 1024))"
