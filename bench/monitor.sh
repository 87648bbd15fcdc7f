#!/usr/bin/env bash
# Load test of `antidote monitor` with wrk on loopback: JSON Lines batches posted by several
# connections for DURATION seconds (default 10). Reports events per second, latency percentiles,
# and checks that the SQLite store holds every acknowledged event (wrk's completed 2xx requests
# times the batch size; requests cut off when wrk stops may be stored without being counted, at
# most one batch per connection). Writes bench/results/monitor.md.
#
#   bench/monitor.sh                 # builds the release binary
#   ANTIDOTE=target/debug/antidote DURATION=5 bench/monitor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

duration=${DURATION:-10}
batch=${BATCH:-100}
connections=${CONNECTIONS:-8}
bench_apt wrk:/usr/bin/wrk
bench_antidote

work=$(mktemp -d /var/tmp/antidote-bench-monitor.XXXXXX)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work" "$batch" <<'PY'
import json, sys
work, batch = sys.argv[1], int(sys.argv[2])
with open(f"{work}/train.csv", "w") as out:
    out.write("id,text,label\n")
    for index in range(3000):
        out.write(f"r{index},record {index},{'abc'[index % 3]}\n")
words = ["weather", "match", "score", "poem", "vote", "robot", "orbit"]
lines = []
for index in range(batch):
    lines.append(json.dumps({
        "id": f"e{index}", "model_version": "v1", "predicted": "abc"[index % 3],
        "confidence": 0.7 + 0.05 * (index % 5),
        "input": " ".join(words[(index * k) % 7] for k in (1, 2, 3)),
    }))
body = "\n".join(lines) + "\n"
with open(f"{work}/post.lua", "w") as out:
    out.write('wrk.method = "POST"\n')
    out.write('wrk.headers["Content-Type"] = "application/x-ndjson"\n')
    out.write(f"wrk.body = {json.dumps(body)}\n")
PY
echo '{"schema_version": 2, "triggers": [{"pattern": {"kind": "token", "token": "cf"}, "target": "a", "support": 1, "purity": 1.0, "flip_rate": null, "confirmed": true, "explanation": ""}]}' \
  >"$work/summary.json"
"$antidote" profile "$work/train.csv" -o "$work/profile.json" --no-ledger >/dev/null

"$antidote" monitor --baseline "$work/profile.json" --triggers "$work/summary.json" \
  --store "$work/events.db" --listen 127.0.0.1:0 --no-ledger 2>"$work/monitor.log" &
server=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/monitor.log" && break
  sleep 0.1
done
address=$(grep -o 'http://[0-9.:]*' "$work/monitor.log" | head -n 1)
rss_before=$(awk '/VmRSS/{print $2}' "/proc/$server/status")

wrk -t 2 -c "$connections" -d "${duration}s" --latency -s "$work/post.lua" "$address/v1/events" \
  >"$work/wrk.txt"
rss_after=$(awk '/VmRSS/{print $2}' "/proc/$server/status")
scrape_ms=$( { /usr/bin/time -f %e curl -s -o /dev/null "$address/metrics"; } 2>&1 | awk '{print $1 * 1000}')
kill -TERM "$server"
wait "$server" || true
server=

requests=$(awk '/requests in/{print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/{print $5}' "$work/wrk.txt")
non2xx=${non2xx:-0}
acknowledged=$(( (requests - non2xx) * batch ))
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$work/events.db")
p50=$(awk '/^ +50%/{print $2}' "$work/wrk.txt")
p99=$(awk '/^ +99%/{print $2}' "$work/wrk.txt")
requests_per_second=$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")
events_per_second=$(awk "BEGIN{printf \"%.0f\", $requests_per_second * $batch}")
missing=$(( acknowledged > stored ? acknowledged - stored : 0 ))
in_flight=$(( stored - acknowledged ))

cat "$work/wrk.txt" >&2
mkdir -p bench/results
{
  echo "# antidote monitor under load"
  echo
  echo "\`bench/monitor.sh\`: wrk on loopback, ${connections} connections on 2 threads for ${duration} s, each"
  echo "request a JSON Lines batch of ${batch} events with input text matched against one trigger."
  echo "Measured $(bench_machine) (a machine shared with other builds),"
  echo "binary \`${antidote}\`."
  echo
  echo "| events/s | requests/s | p50 | p99 | acknowledged events | stored in SQLite | acknowledged but lost | stored, cut off in flight | RSS before / after |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "| ${events_per_second} | ${requests_per_second} | ${p50} | ${p99} | ${acknowledged} | ${stored} | ${missing} | ${in_flight} | $(mib "$rss_before") / $(mib "$rss_after") MiB |"
  echo
  echo "A scrape of \`/metrics\` after the run (windows of 1,000 events, 10 baseline windows): ${scrape_ms} ms."
  echo "Every batch is one SQLite transaction with \`synchronous = FULL\` in WAL mode, committed before"
  echo "the 200; the test \`a_kill_during_load_loses_no_acknowledged_event\` (tests/it/monitor.rs) kills"
  echo "the server with SIGKILL under load and finds every acknowledged event in the store."
} >bench/results/monitor.md
cat bench/results/monitor.md
[ "$missing" -eq 0 ] || { echo "error: $missing acknowledged events are not in the store" >&2; exit 1; }
