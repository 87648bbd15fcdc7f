#!/usr/bin/env bash
# antidote on a Ballista cluster: `lock` and `profile --engine ballista` with one executor, then
# two (one task slot each), against DataFusion in one process on the same table in the same run.
# Prints ratios (these machines are noisy) and each executor's peak memory. The cluster's digests
# and counts are compared with the one-process results, not only timed.
#
#   bench/ballista.sh                                      # 20M records in 40 files
#   BENCH_ROWS=2000000 BENCH_FILES=8 bench/ballista.sh     # a quick look
#
# Builds antidote (release) with the `ballista` feature and writes the table under /var/tmp with
# the Python of scripts/test.sh (/var/tmp/antidote-venv: NumPy, pyarrow); removes it at the end.
# On one machine the executors share its cores: with 2 cores, two executors of one slot each use
# both, as DataFusion in one process does.
set -euo pipefail
cd "$(dirname "$0")/.."

rows="${BENCH_ROWS:-20000000}"
files="${BENCH_FILES:-40}"
python="${ANTIDOTE_VENV:-/var/tmp/antidote-venv}/bin/python"
"$python" -c 'import numpy, pyarrow' 2>/dev/null ||
  { echo "needs $python with NumPy and pyarrow: run scripts/test.sh once" >&2; exit 1; }
cargo build --release --quiet --locked -p antidote --features ballista
antidote="$(mktemp /var/tmp/antidote-ballista-bin.XXXXXX)"
cp "${CARGO_TARGET_DIR:-target}/release/antidote" "$antidote"
chmod +x "$antidote"

work="$(mktemp -d /var/tmp/antidote-ballista.XXXXXX)"
pids=()
stop_cluster() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_cluster; rm -rf "$work" "$antidote"' EXIT
echo "writing $rows records in $files Parquet files to $work/table ..." >&2
"$python" bench/engine_data.py "$work/table" "$rows" "$files"
bytes=$(du -sb "$work/table" | cut -f1)
cd "$work"

# timed NAME COMMAND...: runs COMMAND once, appends "NAME seconds peak_kib" to $work/times.
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o time.txt "$@" > "$name.out" 2> "$name.err" ||
    { echo "$name failed:" >&2; cat "$name.err" >&2; exit 1; }
  echo "$name $(tail -n 1 time.txt)" >> times
}
seconds() { awk -v name="$1" '$1 == name { print $2 }' times; }
peak() { awk -v name="$1" '$1 == name { printf "%d", $3 / 1024 }' times; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"n/a\" }"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 600); do listening "$1" && return 0; sleep 0.1; done
  echo "nothing listens on port $1" >&2; exit 1
}

a=("$antidote" --no-ledger --quiet)
# One process: DataFusion on both cores.
timed lock-local "${a[@]}" lock --engine datafusion table -o local.lock --json
timed profile-local "${a[@]}" profile --engine datafusion table -o local-profile.json --json

for executors in 1 2; do
  port=$((51000 + executors * 100))
  "$antidote" ballista scheduler --bind "127.0.0.1:$port" 2> "scheduler-$executors.log" &
  pids+=($!)
  wait_port "$port"
  executor_pids=()
  for n in $(seq "$executors"); do
    "$antidote" ballista executor --scheduler "127.0.0.1:$port" --port $((port + 10 * n)) \
      --grpc-port $((port + 10 * n + 1)) --slots 1 --work-dir "$work" \
      2> "executor-$executors-$n.log" &
    pids+=($!)
    executor_pids+=($!)
    wait_port $((port + 10 * n))
    wait_port $((port + 10 * n + 1))
  done
  sleep 2 # the executors' registration
  remote=(--engine ballista --scheduler "127.0.0.1:$port")
  timed "lock-$executors" "${a[@]}" lock "${remote[@]}" table -o "ballista-$executors.lock" --json
  timed "profile-$executors" "${a[@]}" profile "${remote[@]}" table -o "profile-$executors.json" --json
  for pid in "${executor_pids[@]}"; do
    awk '/VmHWM/ { printf "%d\n", $2 / 1024 }' "/proc/$pid/status"
  done | sort -n | tail -n 1 > "executor-peak-$executors"
  stop_cluster
done

# The cluster gives what one process gives.
"$python" - "$rows" <<'PY'
import json, sys
rows = int(sys.argv[1])
local = json.load(open("local.lock"))["tables"][0]
for n in (1, 2):
    table = json.load(open(f"ballista-{n}.lock"))["tables"][0]
    assert table["engine"].startswith("ballista "), table["engine"]
    for field in ("record_set_hash", "record_count", "label_counts", "schema_fingerprint"):
        assert table[field] == local[field], (n, field)
    profile, reference = (json.load(open(name)) for name in (f"profile-{n}.json", "local-profile.json"))
    assert profile["record_count"] == reference["record_count"] == rows
    assert profile["label"]["counts"] == reference["label"]["counts"]
    assert profile["duplicates"]["exact_duplicates"] == reference["duplicates"]["exact_duplicates"]
PY

gib=$(awk "BEGIN{ printf \"%.2f\", $bytes / 1024 / 1024 / 1024 }")
echo
echo "## Ballista benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)): $rows records in $files Parquet files ($gib GiB)"
echo
echo "| run | seconds | peak MiB (client; executor) | speed vs 1 executor |"
echo "|---|---|---|---|"
for job in lock profile; do
  printf '| %s --engine datafusion (one process, every core) | %s | %s | %s |\n' "$job" \
    "$(seconds "$job-local")" "$(peak "$job-local")" "$(ratio "$(seconds "$job-1")" "$(seconds "$job-local")")"
  for n in 1 2; do
    printf '| %s --engine ballista, %s executor(s) of 1 slot | %s | %s; %s | %s |\n' "$job" "$n" \
      "$(seconds "$job-$n")" "$(peak "$job-$n")" "$(cat "executor-peak-$n")" \
      "$(ratio "$(seconds "$job-1")" "$(seconds "$job-$n")")"
  done
done
echo
echo "Executor peak memory is the largest VmHWM among the executors after both jobs. Every cluster run gave the one-process record set hash, record and label counts, and profile counts."
