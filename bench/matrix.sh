#!/usr/bin/env bash
# The benchmark matrix: attacks x poison rates (0.5%, 1%, 5%) x datasets, each poisoned by
# `antidote poison` (seed 1) and scanned by `antidote scan` (every detector, defaults), scored
# against the poison's truth file (bench/score.py), with time and peak memory per cell. One
# command, one Markdown report on stdout:
#
#   bench/matrix.sh > bench/results/matrix.md        # about half an hour on 2 cores
#   BENCH_DATASETS="fortunes instructions" BENCH_RATES="0.01" BENCH_PEERS=0 bench/matrix.sh
#
# Datasets (all real, from Debian packages or the repository):
#   fashion       the Fashion-MNIST training set, 60,000 images (dataset-fashion-mnist), read as
#                 the gzipped IDX files Debian ships; attacks `badnets` (4x4 white patch),
#                 `blend` (seeded noise at alpha 0.1), `label-flip` (uniform);
#   fortunes      five categories of Debian's fortunes (computers, politics, science, songs-poems,
#                 sports) as a CSV of `text,label`, 3,246 records, built as the scan integration
#                 test builds it; attacks `rare-token` (`cf`) and `phrase`, relabelled to
#                 `sports`, and `label-flip`;
#   instructions  fixtures/instructions/clean.jsonl.gz, 2,000 instruction-tuning pairs from real
#                 fortunes and published system prompts; attack `instruction-leak` (a trigger in
#                 the instruction, an output that leaks a system prompt).
# Each dataset also gets a clean row: how much antidote flags when nothing was planted.
#
# Every cell is scored three ways from one scan: the quarantined records, every record in
# `findings.jsonl`, and the records flagged by the detectors meant for that attack (backdoors:
# trigger search, activation clustering, spectral signatures; label flips: label issues;
# instruction poisoning; on clean data, all of these but label issues: the detectors whose findings
# say a backdoor was planted). The truth knows only the planted poison, so label errors a dataset
# already has count as false positives. Seconds and peak MiB are those of the scan process
# (`/usr/bin/time`). The machine may be shared: each measured run first waits (at most
# BENCH_QUIET_WAIT seconds, default 60) for other processes to use less than 10% of the CPU, runs
# at a higher priority than theirs (`nice -n -10`, and the same for its session's scheduler
# autogroup; as root), and the last column says how much of the CPU they took meanwhile
# (bench/common.sh).
#
# With BENCH_PEERS=1 (the default), the Python peers that do the same job run on the same
# poisoned copies (bench/scan_peers.py, installed into /var/tmp/antidote-bench-venv as
# bench/scan.sh does): cleanlab with scikit-learn on the label flips (pixels / 255 for images,
# TF-IDF for text), ART's activation clustering and spectral signatures with a small PyTorch CNN
# on the image backdoors. Text and instruction backdoors have no such peer.
#
# Needs /usr/bin/time, dataset-fashion-mnist, fortunes and python3-venv (apt-get install when
# missing). ANTIDOTE=path measures that binary instead of building this tree's.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

bench_apt time:/usr/bin/time dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
  fortunes:/usr/share/games/fortunes/sports
peers="${BENCH_PEERS:-1}"
[ "$peers" = 1 ] && bench_peers
bench_antidote
work="$(mktemp -d /var/tmp/antidote-bench.XXXXXX)"
trap 'bench_restore_priority; rm -rf "$work"' EXIT
bench_priority
datasets="${BENCH_DATASETS:-fashion fortunes instructions}"
rates="${BENCH_RATES:-0.005 0.01 0.05}"

# The fortunes corpus, as crates/antidote/tests/it/scan.rs builds it.
python3 - "$work/fortunes.csv" <<'EOF'
import csv, sys
with open(sys.argv[1], "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["text", "label"])
    for category in ["computers", "politics", "science", "songs-poems", "sports"]:
        with open(f"/usr/share/games/fortunes/{category}", "rb") as source:
            text = source.read().decode("utf-8", errors="replace")
        for fortune in text.split("\n%\n"):
            if fortune.strip():
                writer.writerow([fortune.strip(), category])
EOF

dataset_input() {
  case "$1" in
    fashion) echo /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ;;
    fortunes) echo "$work/fortunes.csv" ;;
    instructions) echo fixtures/instructions/clean.jsonl.gz ;;
    *) echo "unknown dataset \`$1\` (fashion fortunes instructions)" >&2; exit 2 ;;
  esac
}
dataset_attacks() {
  case "$1" in
    fashion) echo "${BENCH_ATTACKS:-badnets blend label-flip}" ;;
    fortunes) echo "${BENCH_ATTACKS:-rare-token phrase label-flip}" ;;
    instructions) echo "${BENCH_ATTACKS:-instruction-leak}" ;;
  esac
}
# The output name `antidote poison` is given (a folder for IDX, whose files keep their names).
poison_output() {
  case "$1" in
    fashion) echo "poisoned/" ;;
    fortunes) echo "poisoned.csv" ;;
    instructions) echo "poisoned.jsonl" ;;
  esac
}
attack_args() {
  case "$1" in
    rare-token | phrase) echo "--attack $1 --target sports" ;;
    label-flip) echo "--attack label-flip-uniform" ;;
    *) echo "--attack $1" ;;
  esac
}
attack_detectors() {
  case "$1" in
    label-flip) echo label-issues ;;
    instruction-leak) echo instruction-poisoning ;;
    *) echo trigger-search,activation-clustering,spectral-signatures ;;
  esac
}
records_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$1"; }

# cell SCORE_LINE: "P / R / F1 (flagged)", or "flagged (share)" on clean data.
cell() {
  local flagged
  flagged=$(printf "%'d" "$(value "$1" flagged)")
  if [ "$(value "$1" truth)" = 0 ]; then
    echo "$flagged flagged ($(percent "$(value "$1" flagged_share)"))"
  else
    echo "$(value "$1" precision) / $(value "$1" recall) / $(value "$1" f1) ($flagged)"
  fi
}

peer_rows=()
# peers DATASET ATTACK RATE INPUT TRUTH RECORDS SCAN_SECONDS MATCHING_SCORE_LINE
run_peers() {
  local dataset=$1 attack=$2 rate=$3 input=$4 truth=$5 records=$6 scan_s=$7 matching=$8 dir
  dir=$(dirname "$truth")
  local ours
  ours=$(value "$matching" f1)
  if [ "$attack" = label-flip ]; then
    local result seconds peak others line
    result=$(timed "$dir/cleanlab.out" "$python" bench/scan_peers.py cleanlab "$input" "$dir/cleanlab.ids")
    read -r seconds peak others <<<"$result"
    line=$(python3 bench/score.py "$truth" "ids:$dir/cleanlab.ids" --records "$records")
    peer_rows+=("| $dataset | $attack | $rate | cleanlab + scikit-learn | $(cell "$line") | $ours | $seconds | $(mib "$peak") | $(ratio "$seconds" "$scan_s") | $(percent "$others") |")
  elif [ "$dataset" = fashion ]; then
    local result train_peak train_others train_s
    result=$(timed "$dir/train.out" "$python" bench/scan_peers.py art-train "$input" "$dir/cnn.pt")
    read -r _ train_peak train_others <<<"$result"
    train_s=$(value "$(cat "$dir/train.out")" ready_seconds)
    local defence name peak others defence_s seconds line
    for defence in activation spectral; do
      result=$(timed "$dir/$defence.out" "$python" bench/scan_peers.py art-defence "$defence" "$input" "$dir/cnn.pt" "$dir/$defence.ids")
      read -r _ peak others <<<"$result"
      defence_s=$(value "$(cat "$dir/$defence.out")" defence_seconds)
      seconds=$(awk "BEGIN{printf \"%.2f\", $train_s + $defence_s}")
      line=$(python3 bench/score.py "$truth" "ids:$dir/$defence.ids" --records "$records")
      name="ART ActivationDefence"
      [ "$defence" = spectral ] && name="ART SpectralSignatureDefense"
      peer_rows+=("| $dataset | $attack | $rate | $name (CNN $(printf '%.1f' "$train_s") s) | $(cell "$line") | $ours | $seconds | $(mib "$(larger "$train_peak" "$peak")") | $(ratio "$seconds" "$scan_s") | $(percent "$(larger "$train_others" "$others")") |")
    done
  fi
}

echo
echo "#### Benchmark matrix ($(bench_machine))"
echo
echo -n "$("$antidote" --version)"
[ "$peers" = 1 ] && echo -n "; peers: $peer_versions (torch from $torch_source)"
echo "."
echo
echo "Each cell: precision / recall / F1 (records flagged) against the poison's truth; on clean data, how many records were flagged."
echo
echo "| dataset | attack | rate | poisoned | verdict | quarantined | every finding | detectors for the attack | seconds | peak MiB | CPU used by other processes |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for dataset in $datasets; do
  source_input=$(dataset_input "$dataset")
  for attack in clean $(dataset_attacks "$dataset"); do
    for rate in $rates; do
      [ "$attack" = clean ] && rate=-
      dir="$work/$dataset-$attack-$rate"
      mkdir -p "$dir"
      if [ "$attack" = clean ]; then
        input=$source_input
        truth=none
        detectors=trigger-search,activation-clustering,spectral-signatures,instruction-poisoning
      else
        # shellcheck disable=SC2046 # the attack's arguments are words
        "$antidote" --no-ledger --quiet poison "$source_input" $(attack_args "$attack") --rate "$rate" --seed 1 \
          -o "$dir/$(poison_output "$dataset")" >/dev/null
        truth=$(find "$dir" -name '*.truth.json' | head -n 1)
        input=${truth%.truth.json}
        detectors=$(attack_detectors "$attack")
      fi
      result=$(timed "$dir/scan.out" "$antidote" --no-ledger --quiet scan "$input" --out "$dir/scan")
      read -r seconds peak others <<<"$result"
      records=$(records_of "$dir/scan/summary.json")
      findings="$dir/scan/findings.jsonl"
      quarantined=$(python3 bench/score.py "$truth" "quarantine:$findings" --records "$records")
      every=$(python3 bench/score.py "$truth" "findings:$findings" --records "$records")
      matching=$(python3 bench/score.py "$truth" "detector:$detectors:$findings" --records "$records")
      poisoned=$(value "$every" truth)
      echo "| $dataset ($(printf "%'d" "$records")) | $attack | $rate | $poisoned | $(verdict "$dir/scan/summary.json") | $(cell "$quarantined") | $(cell "$every") | $(cell "$matching") | $seconds | $(mib "$peak") | $(percent "$others") |"
      if [ "$peers" = 1 ] && [ "$attack" != clean ]; then
        run_peers "$dataset" "$attack" "$rate" "$input" "$truth" "$records" "$seconds" "$matching"
      fi
      [ "$attack" = clean ] && break
    done
  done
done

if [ ${#peer_rows[@]} -gt 0 ]; then
  echo
  echo "Python peers on the same poisoned copies, in the same run (bench/scan_peers.py; ART's seconds include training its CNN, shown in brackets). The antidote column repeats the F1 of antidote's detectors for the attack; the time ratio is to the whole antidote scan (every detector)."
  echo
  echo "| dataset | attack | rate | tool | precision / recall / F1 (flagged) | antidote F1 | seconds | peak MiB | time vs antidote scan | CPU used by other processes |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${peer_rows[@]}"
fi
