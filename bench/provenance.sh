#!/usr/bin/env bash
# Benchmarks antidote's provenance layer against the tools users would otherwise use, on the
# same data in the same run, and prints ratios (these machines are noisy: absolute times are
# not stable, ratios are).
#
#   bench/provenance.sh            # 2 GiB single file, 64 files of 32 MiB, Fashion-MNIST records
#   BENCH_SINGLE_MIB=512 bench/provenance.sh   # smaller, for a quick look
#
# Needs: sha256sum (coreutils), b3sum, /usr/bin/time, dataset-fashion-mnist; it installs the
# missing ones with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v b3sum >/dev/null || need+=(b3sum)
[ -x /usr/bin/time ] || need+=(time)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --quiet -p antidote
antidote="${CARGO_TARGET_DIR:-target}/release/antidote"
single_mib="${BENCH_SINGLE_MIB:-2048}"
many_count="${BENCH_MANY_FILES:-64}"
many_mib="${BENCH_MANY_MIB:-32}"
repeats="${BENCH_REPEATS:-3}"

work="$(mktemp -d /var/tmp/antidote-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/single" "$work/many"
echo "preparing data in $work ..." >&2
head -c "$((single_mib * 1024 * 1024))" /dev/urandom > "$work/single/blob.bin"
for index in $(seq -w 1 "$many_count"); do
  head -c "$((many_mib * 1024 * 1024))" /dev/urandom > "$work/many/part-$index.bin"
done

# best_of COMMAND...: prints "seconds max_rss_kib" of the fastest of $repeats runs (after one
# warm-up run, so every tool reads from the page cache).
best_of() {
  "$@" >/dev/null 2>&1
  local best="" rss=""
  for _ in $(seq "$repeats"); do
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>&1 || true
    local out
    out=$(tail -n 1 "$work/time.txt")
    local seconds=${out% *}
    if [ -z "$best" ] || awk "BEGIN{exit !($seconds < $best)}"; then best=$seconds; rss=${out#* }; fi
  done
  echo "$best $rss"
}

ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"n/a\" }"; }
mibps() { awk "BEGIN{ if ($2 > 0) printf \"%.0f\", $1 / $2; else print \"n/a\" }"; }

row() { # name mib seconds rss reference_seconds
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$3" "$(mibps "$2" "$3")" "$(( $4 / 1024 ))" "$(ratio "$5" "$3")"
}

echo
echo "## Provenance benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m))"
echo
echo "### One ${single_mib} MiB file"
echo
echo "| tool | seconds | MiB/s | peak MiB | speed vs sha256sum |"
echo "|---|---|---|---|---|"
read -r sha_s sha_m < <(best_of sha256sum "$work/single/blob.bin")
read -r b3_s b3_m < <(best_of b3sum --num-threads 1 "$work/single/blob.bin")
read -r lock_s lock_m < <(best_of "$antidote" --no-ledger --quiet lock "$work/single/blob.bin" -o "$work/single.lock")
read -r ver_s ver_m < <(best_of "$antidote" --no-ledger --quiet verify "$work/single.lock")
row "sha256sum" "$single_mib" "$sha_s" "$sha_m" "$sha_s"
row "b3sum (1 thread)" "$single_mib" "$b3_s" "$b3_m" "$sha_s"
row "antidote lock (SHA-256)" "$single_mib" "$lock_s" "$lock_m" "$sha_s"
row "antidote verify (SHA-256)" "$single_mib" "$ver_s" "$ver_m" "$sha_s"

total_many=$((many_count * many_mib))
echo
echo "### ${many_count} files of ${many_mib} MiB (${total_many} MiB)"
echo
echo "| tool | seconds | MiB/s | peak MiB | speed vs sha256sum |"
echo "|---|---|---|---|---|"
read -r sha_s sha_m < <(best_of sh -c "sha256sum '$work'/many/*.bin")
read -r b3_s b3_m < <(best_of sh -c "b3sum '$work'/many/*.bin")
read -r lock_s lock_m < <(best_of "$antidote" --no-ledger --quiet lock "$work/many" -o "$work/many.lock")
row "sha256sum (sequential)" "$total_many" "$sha_s" "$sha_m" "$sha_s"
row "b3sum (multi-threaded)" "$total_many" "$b3_s" "$b3_m" "$sha_s"
row "antidote lock (parallel SHA-256)" "$total_many" "$lock_s" "$lock_m" "$sha_s"

echo
echo "### Fashion-MNIST training set: 60,000 records, read and hashed record by record"
echo
fashion="$work/fashion"
mkdir -p "$fashion"
cp /usr/share/datasets/fashion-mnist/train-*-ubyte.gz "$fashion/"
read -r rec_s rec_m < <(best_of "$antidote" --no-ledger --quiet lock "$fashion" -o "$work/fashion.lock")
read -r files_s files_m < <(best_of "$antidote" --no-ledger --quiet lock --files-only "$fashion" -o "$work/fashion-files.lock")
read -r zcat_s zcat_m < <(best_of sh -c "zcat '$fashion'/train-images-idx3-ubyte.gz '$fashion'/train-labels-idx1-ubyte.gz | sha256sum")
echo "| run | seconds | peak MiB |"
echo "|---|---|---|"
printf '| antidote lock (files + 60,000 record hashes + Merkle root + sidecar) | %s | %s |\n' "$rec_s" "$((rec_m / 1024))"
printf '| antidote lock --files-only (file SHA-256 only) | %s | %s |\n' "$files_s" "$((files_m / 1024))"
printf '| zcat + sha256sum of the decompressed bytes (reference) | %s | %s |\n' "$zcat_s" "$((zcat_m / 1024))"
