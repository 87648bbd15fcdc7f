#!/usr/bin/env bash
# Benchmarks `antidote scan` against the Python pipelines a user would otherwise run to find
# poisoned records, on the same poisoned copies of the Fashion-MNIST training set (60,000 images
# of 28x28) in the same run:
#
#   cleanlab  `find_label_issues` (defaults) on 5-fold out-of-sample probabilities of
#             scikit-learn's `LogisticRegression()` on pixels / 255, the pipeline cleanlab's
#             documentation shows;
#   ART       the Adversarial Robustness Toolbox's `ActivationDefence` (activation clustering) and
#             `SpectralSignatureDefense`, default parameters, around the small PyTorch CNN of ART's
#             `get_started_pytorch.py` in a `PyTorchClassifier`, trained for 3 epochs on the
#             poisoned data on the CPU as that example does.
#
# Cases, each poisoned by `antidote poison` (seed 1): `clean` (the data as Debian ships it);
# `badnets-1` and `badnets-5` (a 4x4 white patch, relabelled to class 0, on 1% and 5%); `blend-5`
# (seeded noise blended in at alpha 0.1, relabelled to class 0, on 5%); `label-flip-10` (labels
# flipped uniformly at random on 10%).
#
#   bench/scan.sh                                # every case, about half an hour on 2 cores
#   BENCH_CASES="clean badnets-1" bench/scan.sh  # some of them
#   BENCH_DATA=small/train-images-idx3-ubyte bench/scan.sh  # another IDX file, to try the script
#   ANTIDOTE=path/to/antidote bench/scan.sh      # that binary instead of building this tree's
#   BENCH_VENV=/var/tmp/other-venv bench/scan.sh  # the peers in another virtual environment
#
# Every tool's flagged records are scored against the truth file `antidote poison` wrote
# (bench/score.py): precision, recall and F1. One antidote run (every detector, defaults) is
# scored four ways: every record in `findings.jsonl`; the quarantined ones; those its backdoor
# detectors flagged (the job of ART's defences); those its label-issues detector flagged (the job
# of cleanlab). The truth knows only the planted poison: the label errors Fashion-MNIST already
# has count as false positives for every tool. Seconds are wall-clock, CPU seconds user plus
# system time (on a shared machine the steadier measure: scikit-learn's logistic regression
# runs on one core, antidote and PyTorch on both) and peak MiB the maximum resident set, all of
# the whole process (`/usr/bin/time -f "%e %M %U %S"`), one run each. Under each table: the
# scan's own stage timings (summary.json) and the time ratios.
# ART needs a trained network before either defence can run: bench/scan_peers.py trains the CNN
# once (imports, reading and training timed together) and runs each defence in its own process on
# the saved weights, so ART's seconds are training plus that defence, and its peak the larger of
# the two processes. Training time is also shown on its own. The table gives each tool's time as a
# multiple of antidote's.
#
# The machine may be shared: each measured run first waits (at most BENCH_QUIET_WAIT seconds,
# default 60) for other processes to use less than 10% of the CPU, runs at a higher priority than
# theirs (`nice -n -10`, and the same for its session's scheduler autogroup; as root), and the
# table says how much of the CPU they took during each run (bench/common.sh).
#
# Needs /usr/bin/time, dataset-fashion-mnist and python3-venv (apt-get install when missing), and
# creates or completes the virtual environment /var/tmp/antidote-bench-venv with numpy,
# scikit-learn, cleanlab, adversarial-robustness-toolbox and torch (bench/common.sh). Torch comes
# from PyTorch's CPU wheel index when that is reachable, else from Debian (`python3-torch`, with
# the environment rebuilt on Debian's python3 with system site packages and NumPy < 2, which
# Debian's torch is built against), else from PyPI. The results say which.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

bench_apt time:/usr/bin/time dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# BENCH_VENV: another virtual environment for the peers (one another benchmark is not using).
venv="${BENCH_VENV:-$venv}"
bench_peers
bench_antidote
# BENCH_DATA: another IDX images file (with its labels file beside it), for a quick try.
data="${BENCH_DATA:-/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz}"
records=$(python3 -c 'import gzip,sys; f=(gzip.open if sys.argv[1].endswith(".gz") else open)(sys.argv[1],"rb"); print(int.from_bytes(f.read(8)[4:],"big"))' "$data")
work="$(mktemp -d /var/tmp/antidote-bench.XXXXXX)"
trap 'bench_restore_priority; rm -rf "$work"' EXIT
bench_priority
cases="${BENCH_CASES:-clean badnets-1 badnets-5 blend-5 label-flip-10}"

# flagged_cell SCORE_LINE: "1,234" or, on clean data, "1,234 (2.1%)".
flagged_cell() {
  local flagged share
  flagged=$(value "$1" flagged)
  share=$(value "$1" flagged_share)
  if [ "$(value "$1" truth)" = 0 ]; then
    printf "%s (%s%%)" "$flagged" "$(awk "BEGIN{printf \"%.1f\", 100 * $share}")"
  else
    echo "$flagged"
  fi
}

# cpu_seconds: user + system seconds of the last run `timed` measured.
# (/usr/bin/time writes "Command exited with non-zero status 1" first when a scan fails its data.)
cpu_seconds() { tail -n 1 "$work/time.txt" | awk '{printf "%.1f", $3 + $4}'; }

# row TOOL SCORE_LINE SECONDS PEAK_KIB ANTIDOTE_SECONDS OTHERS CPU_SECONDS
row() {
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(flagged_cell "$2")" \
    "$(value "$2" precision)" "$(value "$2" recall)" "$(value "$2" f1)" "$3" "$7" "$(mib "$4")" \
    "$(ratio "$3" "$5")" "$(percent "$6")"
}

# stages SUMMARY_JSON: "featurize 0.7 s, train networks 9.1 s, ..." from the scan's timings.
stages() {
  python3 -c 'import json,sys; print(", ".join("%s %.1f s" % (t["stage"], t["seconds"]) for t in json.load(open(sys.argv[1]))["timings"]))' "$1"
}

describe() {
  case "$1" in
    clean) echo "clean: the training set as Debian ships it" ;;
    badnets-1) echo "BadNets: a 4x4 white patch in the bottom-right corner of 1% of the images, relabelled to class 0" ;;
    badnets-5) echo "BadNets: a 4x4 white patch in the bottom-right corner of 5% of the images, relabelled to class 0" ;;
    blend-5) echo "blend: seeded noise blended in at alpha 0.1 on 5% of the images, relabelled to class 0" ;;
    label-flip-10) echo "label flip: 10% of the labels flipped uniformly at random to another class" ;;
    *) echo "unknown case \`$1\` (clean badnets-1 badnets-5 blend-5 label-flip-10)" >&2; exit 2 ;;
  esac
}

poison_args() {
  case "$1" in
    badnets-1) echo "--attack badnets --rate 0.01" ;;
    badnets-5) echo "--attack badnets --rate 0.05" ;;
    blend-5) echo "--attack blend --alpha 0.1 --rate 0.05" ;;
    label-flip-10) echo "--attack label-flip-uniform --rate 0.10" ;;
  esac
}

echo
echo "#### Scan benchmark ($(bench_machine)): \`$data\`, $records records"
echo
echo "$("$antidote" --version) (\`$antidote\`); $peer_versions (torch from $torch_source)."

for case in $cases; do
  title=$(describe "$case")
  dir="$work/$case"
  mkdir -p "$dir"
  if [ "$case" = clean ]; then
    input=$data
    truth=none
  else
    # shellcheck disable=SC2046 # the attack's arguments are words
    "$antidote" --no-ledger --quiet poison "$data" $(poison_args "$case") --seed 1 -o "$dir/poisoned/" >/dev/null
    input="$dir/poisoned/$(basename "$data")"
    truth="$input.truth.json"
  fi

  result=$(timed "$dir/scan.out" "$antidote" --no-ledger --quiet scan "$input" --out "$dir/scan")
  read -r scan_s scan_k scan_o <<<"$result"
  scan_cpu=$(cpu_seconds)
  scan_verdict=$(verdict "$dir/scan/summary.json")
  findings="$dir/scan/findings.jsonl"
  all_line=$(python3 bench/score.py "$truth" "findings:$findings" --records "$records")
  quarantine_line=$(python3 bench/score.py "$truth" "quarantine:$findings" --records "$records")
  backdoor_line=$(python3 bench/score.py "$truth" "detector:trigger-search,activation-clustering,spectral-signatures:$findings" --records "$records")
  label_line=$(python3 bench/score.py "$truth" "detector:label-issues:$findings" --records "$records")

  result=$(timed "$dir/cleanlab.out" "$python" bench/scan_peers.py cleanlab "$input" "$dir/cleanlab.ids")
  read -r cleanlab_s cleanlab_k cleanlab_o <<<"$result"
  cleanlab_cpu=$(cpu_seconds)
  cleanlab_line=$(python3 bench/score.py "$truth" "ids:$dir/cleanlab.ids" --records "$records")

  result=$(timed "$dir/train.out" "$python" bench/scan_peers.py art-train "$input" "$dir/cnn.pt")
  read -r _ train_k train_o <<<"$result"
  train_cpu=$(cpu_seconds)
  train_s=$(value "$(cat "$dir/train.out")" ready_seconds)
  train_accuracy=$(value "$(cat "$dir/train.out")" train_accuracy)
  art_rows=()
  art_fastest=""
  for defence in activation spectral; do
    result=$(timed "$dir/$defence.out" "$python" bench/scan_peers.py art-defence "$defence" "$input" "$dir/cnn.pt" "$dir/$defence.ids")
    read -r _ defence_k defence_o <<<"$result"
    defence_cpu=$(awk "BEGIN{printf \"%.1f\", $train_cpu + $(cpu_seconds)}")
    defence_s=$(value "$(cat "$dir/$defence.out")" defence_seconds)
    seconds=$(awk "BEGIN{printf \"%.2f\", $train_s + $defence_s}")
    if [ -z "$art_fastest" ] || awk "BEGIN{exit !($seconds < $art_fastest)}"; then art_fastest=$seconds; fi
    line=$(python3 bench/score.py "$truth" "ids:$dir/$defence.ids" --records "$records")
    name="ART \`ActivationDefence\`"
    [ "$defence" = spectral ] && name="ART \`SpectralSignatureDefense\`"
    others=$(larger "$train_o" "$defence_o")
    art_rows+=("$(row "$name (CNN $(printf '%.1f' "$train_s") s + defence $(printf '%.1f' "$defence_s") s)" "$line" "$seconds" "$(larger "$train_k" "$defence_k")" "$scan_s" "$others" "$defence_cpu")")
  done

  echo
  echo "##### $title"
  echo
  [ "$truth" != none ] && echo "$(value "$all_line" truth) of $records records poisoned." && echo
  echo "| tool | flagged | precision | recall | F1 | seconds | CPU seconds | peak MiB | time vs antidote | CPU used by other processes |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  row "antidote scan, every finding (verdict: $scan_verdict)" "$all_line" "$scan_s" "$scan_k" "$scan_s" "$scan_o" "$scan_cpu"
  row "antidote scan, quarantined only" "$quarantine_line" "$scan_s" "$scan_k" "$scan_s" "$scan_o" "$scan_cpu"
  row "antidote scan, its backdoor detectors (trigger search, activation clustering, spectral signatures)" "$backdoor_line" "$scan_s" "$scan_k" "$scan_s" "$scan_o" "$scan_cpu"
  row "antidote scan, its label-issues detector" "$label_line" "$scan_s" "$scan_k" "$scan_s" "$scan_o" "$scan_cpu"
  row "cleanlab \`find_label_issues\` + scikit-learn \`LogisticRegression\` (5-fold)" "$cleanlab_line" "$cleanlab_s" "$cleanlab_k" "$scan_s" "$cleanlab_o" "$cleanlab_cpu"
  printf '%s\n' "${art_rows[@]}"
  echo
  echo "The CNN ART reads reached $train_accuracy accuracy on the (poisoned) training labels."
  echo "antidote's stages: $(stages "$dir/scan/summary.json"); out-of-sample accuracy $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["models"]["out_of_sample_accuracy"], 4))' "$dir/scan/summary.json")."
  echo
  echo "Ratios: cleanlab's pipeline took $(ratio "$cleanlab_s" "$scan_s") antidote's time ($(ratio "$cleanlab_cpu" "$scan_cpu") its CPU time); ART's fastest $(ratio "$art_fastest" "$scan_s")."
done
