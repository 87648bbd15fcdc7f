#!/usr/bin/env bash
# antidote on a table of many Parquet files: `--engine datafusion` (the DataFusion query engine,
# every core) against antidote's own reader on the same files in the same run, and whylogs on
# pandas chunks for the profile. Prints ratios: these machines are noisy, absolute times are not
# stable. The digests and counts of both engines are compared, not only timed.
#
#   bench/engine.sh                                    # 100M records in 100 files
#   BENCH_ROWS=5000000 BENCH_FILES=20 bench/engine.sh  # a quick look
#
# Needs python3-venv; it builds antidote (release) and a virtual environment with pyarrow,
# pandas, NumPy 1 and whylogs 1.6.4 (/var/tmp/antidote-whylogs-venv). The table is written under
# /var/tmp (about 36 bytes per record with Snappy) and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

rows="${BENCH_ROWS:-100000000}"
files="${BENCH_FILES:-100}"
venv=/var/tmp/antidote-whylogs-venv
# whylogs 1.6.4 uses `np.unicode_`, which NumPy 2 removed.
if ! "$venv/bin/python" -c 'import whylogs, pandas, numpy, pyarrow; assert numpy.__version__ < "2"' 2>/dev/null; then
  echo "installing whylogs, pyarrow, pandas and NumPy 1 into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check whylogs==1.6.4 "numpy<2" "pandas<3" pyarrow==21.0.0
fi
cargo build --release --quiet -p antidote
antidote="${CARGO_TARGET_DIR:-target}/release/antidote"

work="$(mktemp -d /var/tmp/antidote-engine.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "writing $rows records in $files Parquet files to $work/table ..." >&2
"$venv/bin/python" bench/engine_data.py "$work/table" "$rows" "$files"
bytes=$(du -sb "$work/table" | cut -f1)

# timed NAME COMMAND...: runs COMMAND once, appends "NAME seconds peak_kib" to $work/times.
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/$name.out" 2> "$work/$name.err" ||
    { echo "$name failed:" >&2; cat "$work/$name.err" >&2; exit 1; }
  echo "$name $(tail -n 1 "$work/time.txt")" >> "$work/times"
}
seconds() { awk -v name="$1" '$1 == name { print $2 }' "$work/times"; }
peak() { awk -v name="$1" '$1 == name { printf "%d", $3 / 1024 }' "$work/times"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"n/a\" }"; }

cd "$work"
a=("$antidote" --no-ledger --quiet)
# Lock: the table by DataFusion.
timed lock-datafusion "${a[@]}" lock --engine datafusion table -o table.lock --json
# Verify after a file changed bytes but not records: both engines read the whole table again
# (and hash every file), so they do the same work.
"$venv/bin/python" - table/part-00000.parquet <<'PY'
import sys, pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
pq.write_table(table, sys.argv[1], compression="zstd", row_group_size=100_000)
PY
# verify exits 1 (a file changed); the table itself must be unchanged.
for engine in datafusion antidote; do
  timed "verify-$engine" sh -c "'$antidote' --no-ledger --quiet verify table.lock --engine $engine --json; [ \$? -le 1 ]"
done
# Profile: the table by DataFusion; file by file by antidote's reader, then merged; whylogs.
timed profile-datafusion "${a[@]}" profile --engine datafusion table -o table-profile.json --json
mkdir -p parts
timed profile-antidote sh -c "for f in table/*.parquet; do '$antidote' --no-ledger --quiet profile \"\$f\" -o \"parts/\$(basename \"\$f\").json\" || exit 1; done; '$antidote' --no-ledger --quiet profile --merge parts/*.json -o merged-profile.json --json"
timed profile-whylogs "$venv/bin/python" "$OLDPWD/bench/engine_whylogs.py" table

# Both engines agree: the lock's record count, verify's verdicts, the profiles' counts.
records=$("$venv/bin/python" -c 'import json,sys; print(json.load(open("table.lock"))["tables"][0]["record_count"])')
[ "$records" = "$rows" ] || { echo "the lock counted $records records, not $rows" >&2; exit 1; }
for engine in datafusion antidote; do
  "$venv/bin/python" -c 'import json, sys; report = json.load(open(sys.argv[1]))["report"]; assert [t["status"] for t in report["tables"]] == ["unchanged"], report["tables"]; assert [f["path"] for f in report["files"]] == ["table/part-00000.parquet"], report["files"]' "verify-$engine.out" ||
    { echo "verify --engine $engine did not find the table unchanged:" >&2; cat "verify-$engine.out" >&2; exit 1; }
done
"$venv/bin/python" - <<'PY'
import json
table, merged = (json.load(open(name)) for name in ("table-profile.json", "merged-profile.json"))
assert table["record_count"] == merged["record_count"], (table["record_count"], merged["record_count"])
assert table["label"]["counts"] == merged["label"]["counts"]
PY
[ "$(cat profile-whylogs.out)" = "$rows" ] || { echo "whylogs counted $(cat profile-whylogs.out)" >&2; exit 1; }

gib=$(awk "BEGIN{ printf \"%.2f\", $bytes / 1024 / 1024 / 1024 }")
echo
echo "## Engine benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)): $rows records in $files Parquet files ($gib GiB)"
echo
echo "| run | seconds | peak MiB | records/s | speed vs antidote's reader |"
echo "|---|---|---|---|---|"
row() { # label name [reference]
  local s speed="—"
  s=$(seconds "$2")
  [ -z "${3:-}" ] || speed=$(ratio "$(seconds "$3")" "$s")
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$s" "$(peak "$2")" \
    "$(awk "BEGIN{ printf \"%.0f\", $rows / $s }")" "$speed"
}
row "lock --engine datafusion (file SHA-256 + record set hash, count, labels)" lock-datafusion
row "verify --engine datafusion (every file hashed, the table read again)" verify-datafusion verify-antidote
row "verify --engine antidote (the same, antidote's reader file by file)" verify-antidote verify-antidote
row "profile --engine datafusion" profile-datafusion profile-antidote
row "profile of each file by antidote, then profile --merge" profile-antidote profile-antidote
row "whylogs 1.6.4 on pandas chunks of 1M records, merged" profile-whylogs profile-antidote
echo
echo "Both engines found the table's records unchanged after one file was re-encoded (the same record set hash), and the two profiles have the same record and label counts."
