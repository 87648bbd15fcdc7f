#!/usr/bin/env bash
# Load test of `antidote monitor` with wrk on loopback: JSON Lines batches posted by several
# connections for MONITOR_SECONDS seconds (default 600), while a scraper reads /metrics every 15
# seconds as Prometheus would. Samples the server's RSS and the store's size every SAMPLE seconds
# (default 5) and reports them at the start, the middle and the end of the run (memory is flat
# when it does not grow beyond noise), with events per second and latency percentiles. Checks
# that the store took every acknowledged event (wrk's completed 2xx requests times the batch
# size, against the store's latest sequence number, which counts the events the store's
# retention deleted; requests cut off when wrk stops may be stored without being counted, at
# most one batch per connection). Writes bench/results/monitor.md.
#
#   bench/monitor.sh                 # builds the release binary, runs 10 minutes
#   ANTIDOTE=target/debug/antidote MONITOR_SECONDS=20 bench/monitor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

duration=${MONITOR_SECONDS:-${DURATION:-600}}
sample=${SAMPLE:-5}
batch=${BATCH:-100}
connections=${CONNECTIONS:-8}
bench_apt wrk:/usr/bin/wrk
bench_antidote

work=$(mktemp -d /var/tmp/antidote-bench-monitor.XXXXXX)
server=
sampler=
scraper=
cleanup() {
  for pid in $sampler $scraper $server; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work" "$batch" <<'PY'
import json, sys
work, batch = sys.argv[1], int(sys.argv[2])
# A numeric feature `x`, uniform on [0, 1): the events' `features` come from the same range, so
# every scrape also compares the window's inputs with the baseline (input drift).
with open(f"{work}/train.csv", "w") as out:
    out.write("id,text,x,label\n")
    for index in range(3000):
        out.write(f"r{index},record {index},{(index * 0.6180339887) % 1:.6f},{'abc'[index % 3]}\n")
words = ["weather", "match", "score", "poem", "vote", "robot", "orbit"]
lines = []
for index in range(batch):
    lines.append(json.dumps({
        "id": f"e{index}", "model_version": "v1", "predicted": "abc"[index % 3],
        "confidence": 0.7 + 0.05 * (index % 5),
        "input": " ".join(words[(index * k) % 7] for k in (1, 2, 3)),
        "features": [round((index * 0.7548776662) % 1, 6)],
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
started=$(date +%s)
# RSS (KiB) and the store's size with its WAL (bytes), every $sample seconds.
(
  while kill -0 "$server" 2>/dev/null; do
    rss=$(awk '/VmRSS/{print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
    size=$(cat "$work"/events.db* 2>/dev/null | wc -c)
    echo "$(( $(date +%s) - started )) $rss $size"
    sleep "$sample"
  done
) >"$work/samples.txt" &
sampler=$!
# A scrape every 15 seconds, timed (ms).
(
  while kill -0 "$server" 2>/dev/null; do
    sleep 15
    curl -s -o /dev/null -w '%{time_total}\n' "$address/metrics" || true
  done
) >"$work/scrapes.txt" &
scraper=$!

wrk -t 2 -c "$connections" -d "${duration}s" --latency -s "$work/post.lua" "$address/v1/events" \
  >"$work/wrk.txt"
rss_after=$(awk '/VmRSS/{print $2}' "/proc/$server/status")
kill "$sampler" "$scraper" 2>/dev/null || true
wait "$sampler" "$scraper" 2>/dev/null || true
sampler= scraper=
scrape_ms=$( { /usr/bin/time -f %e curl -s -o /dev/null "$address/metrics"; } 2>&1 | awk '{print $1 * 1000}')
kill -TERM "$server"
wait "$server" || true
server=

requests=$(awk '/requests in/{print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/{print $5}' "$work/wrk.txt")
non2xx=${non2xx:-0}
acknowledged=$(( (requests - non2xx) * batch ))
# Events the store took: its latest sequence number (the retention deletes the oldest rows).
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select coalesce(max(seq), 0) from events').fetchone()[0])" "$work/events.db")
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$work/events.db")
load_average=$(cut -d ' ' -f 1-3 /proc/loadavg)
p50=$(awk '/^ +50%/{print $2}' "$work/wrk.txt")
p99=$(awk '/^ +99%/{print $2}' "$work/wrk.txt")
requests_per_second=$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")
events_per_second=$(awk "BEGIN{printf \"%.0f\", $requests_per_second * $batch}")
missing=$(( acknowledged > stored ? acknowledged - stored : 0 ))
in_flight=$(( stored - acknowledged ))

cat "$work/wrk.txt" >&2
mkdir -p bench/results
# The hand-written sections after the measured one are kept.
kept=$(sed -n '/^## False alarms/,$p' bench/results/monitor.md 2>/dev/null || true)
memory=$(python3 - "$work/samples.txt" "$work/scrapes.txt" <<'PY'
import sys
samples = [tuple(int(x) for x in line.split()) for line in open(sys.argv[1]) if len(line.split()) == 3]
scrapes = sorted(float(x) * 1000 for x in open(sys.argv[2]) if x.strip())
samples = [s for s in samples if s[1] > 0]
end = samples[-1][0]
def at(t):
    return min(samples, key=lambda s: abs(s[0] - t))
mib = lambda kib: kib / 1024
warm = at(min(60, end / 4))
points = [("first sample under load", samples[0]), ("after warm-up", warm), ("middle", at(end / 2)), ("end", samples[-1])]
print("| when | t (s) | RSS (MiB) | store + WAL (MiB) |")
print("|---|---|---|---|")
for name, (t, rss, size) in points:
    print(f"| {name} | {t} | {mib(rss):.1f} | {size / 2**20:.0f} |")
middle = at(end / 2)
late = [s for s in samples if s[0] >= middle[0]]
growth = mib(samples[-1][1] - middle[1])
low, high = mib(min(s[1] for s in late)), mib(max(s[1] for s in late))
flat = growth <= max(2.0, 0.05 * mib(middle[1]))
print()
print(f"Warm-up (first sample to the middle): {mib(middle[1] - samples[0][1]):+.1f} MiB. Second half ({len(late)} samples):")
print(f"RSS ranged {low:.1f} to {high:.1f} MiB and grew by {growth:+.1f} MiB from the middle to the end:")
print(f"**{'flat' if flat else 'GROWING'}** (flat: at most 2 MiB or 5% of the middle RSS).")
per_minute = [f"{mib(at(t)[1]):.0f}" for t in range(0, end + 1, 60)]
print(f"RSS each minute (MiB): {' '.join(per_minute)}.")
if scrapes:
    pick = lambda q: scrapes[min(len(scrapes) - 1, int(q * len(scrapes)))]
    print(f"Scrapes of `/metrics` every 15 s under load: {len(scrapes)}, median {pick(0.5):.0f} ms, slowest {scrapes[-1]:.0f} ms.")
PY
)
{
  echo "# antidote monitor under load"
  echo
  echo "\`bench/monitor.sh\`: wrk on loopback, ${connections} connections on 2 threads for ${duration} s, each"
  echo "request a JSON Lines batch of ${batch} events with input text matched against one trigger and a"
  echo "one-number feature vector compared with the baseline (input drift); a scrape of \`/metrics\` every"
  if "$antidote" monitor --help | grep -q -- --retain; then
    echo "15 s. The store keeps the latest 10,000,000 events (\`--retain\`, the default)."
  else
    echo "15 s. This binary has no \`--retain\`: the store keeps every event."
  fi
  echo "Measured $(bench_machine), binary \`${antidote}\`, the server niced (\`nice -n 10\`); load"
  echo "average at the end ${load_average} on 2 cores, which wrk, the scraper and the server share with"
  echo "whatever else the machine ran (a load far above 2 makes the latencies below upper bounds)."
  echo
  echo "| events/s | requests/s | p50 | p99 | acknowledged events | stored in SQLite | acknowledged but lost | stored, cut off in flight | rows kept | RSS before / after |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  echo "| ${events_per_second} | ${requests_per_second} | ${p50} | ${p99} | ${acknowledged} | ${stored} | ${missing} | ${in_flight} | ${rows} | $(mib "$rss_before") / $(mib "$rss_after") MiB |"
  echo
  echo "## Memory over the run"
  echo
  echo "$memory"
  echo
  echo "A scrape of \`/metrics\` after the run (windows of 1,000 events, 10 baseline windows): ${scrape_ms} ms."
  echo "Every batch is one SQLite transaction with \`synchronous = FULL\` in WAL mode, committed before"
  echo "the 200; the test \`a_kill_during_load_loses_no_acknowledged_event\` (tests/it/monitor.rs) kills"
  echo "the server with SIGKILL under load and finds every acknowledged event in the store."
  if [ -n "$kept" ]; then
    echo
    echo "$kept"
  fi
} >bench/results/monitor.md
cat bench/results/monitor.md
[ "$missing" -eq 0 ] || { echo "error: $missing acknowledged events are not in the store" >&2; exit 1; }
