#!/usr/bin/env bash
# The benchmark matrix: every attack of `antidote poison`'s catalogue x poison rates x datasets,
# development and evaluation data, antidote scored as the user gets it beside the peers. One
# command, one Markdown report on stdout:
#
#   bench/matrix.sh > bench/results/matrix.md       # everything (about an hour on 2 idle cores)
#   bench/matrix.sh --quick > /tmp/matrix.md        # Fashion-MNIST attacks on its first 10,000
#                                                   # images (the clean row stays 60,000, without
#                                                   # cleanlab beside it)
#   BENCH_DATASETS="digits wordnet" BENCH_ATTACKS="blend sig" bench/matrix.sh   # some cells
#
# Datasets (all real; `dev` = the data the detectors' thresholds were set on, `eval` = data no
# threshold has seen, reported apart so that the dev figures cannot flatter the scan):
#   fashion       dev: the Fashion-MNIST training set (Debian's dataset-fashion-mnist), 60,000
#                 28x28 images, gzipped IDX;
#   fortunes      dev: five categories of Debian's fortunes, 3,246 quotations (bench/eval_data.py);
#   instructions  dev: fixtures/instructions/clean.jsonl.gz, 2,000 instruction-tuning pairs;
#   digits        eval: scikit-learn's bundled `digits`, 1,797 8x8 images, written as IDX by
#                 fixtures/digits/make_digits.py from the bench's scikit-learn (and compared with
#                 the committed fixture);
#   wordnet       eval: 3,500 WordNet 3.0 noun glosses (Debian's wordnet-base), five classes by
#                 lexicographer file: animal, artifact, body, food, plant (bench/eval_data.py).
#
# Attacks (`antidote poison`, seed 1), at 1% and 5% of the records (blend also at 0.5%):
#   images        badnets in several sizes, positions and patterns (four on Fashion-MNIST, three
#                 on the 8x8 digits), blend (seeded noise, alpha 0.1), warp (WaNet), sig
#                 (clean-label sinusoid), label-flip (uniform) and label-flip-pair;
#   text          rare-token, phrase, common-phrase, syntactic, label-flip, label-flip-pair;
#   instructions  instruction-leak, instruction-refusal (phrasings drawn from templates kept apart
#                 from the detector's lexicon).
# Each dataset also gets a clean row: what is quarantined when nothing was planted.
#
# One `antidote scan` per cell (every detector, the default policy) is scored against the
# poison's truth (bench/score.py) as the user gets it: the quarantine tier (what `--split` moves
# out), and every finding (quarantine and review). A third column, labelled per detector, scores
# only the detectors meant for the attack (backdoors: trigger search, activation clustering,
# spectral signatures; label flips: label issues; instruction data: instruction poisoning); a user
# does not know the attack in advance, so it is not a headline. The truth knows only the planted
# poison: a dataset's own label errors count as false positives. Seconds and peak MiB are those of
# the scan process (`/usr/bin/time`); the last column says how much of the CPU other processes
# took during the run (the machine may be shared: bench/common.sh waits for a quiet moment, at
# most BENCH_QUIET_WAIT seconds, and raises the run's priority when root).
#
# Peers, on the same poisoned copy in the same run (BENCH_PEERS=1, the default): cleanlab's
# `find_label_issues` on 5-fold scikit-learn `LogisticRegression` probabilities (pixels / 255 for
# images, TF-IDF for text; bench/scan_peers.py) on every label-flip cell and every clean row.
# No peer scans text or instruction data for backdoors. BENCH_ART=1 adds ART's activation
# clustering and spectral signatures (with the small CNN of ART's example; 28x28 images only, so
# Fashion-MNIST) on the image backdoors, and installs torch (bench/common.sh).
#
# Environment: BENCH_DATASETS (default: fashion fortunes instructions digits wordnet),
# BENCH_ATTACKS (a filter on attack names), BENCH_RATES (default: 0.01 0.05; blend adds 0.005),
# BENCH_FASHION_RECORDS (Fashion-MNIST images the attacks use; --quick sets 10000),
# ANTIDOTE=path (measure that binary instead of building this tree's).
# Needs /usr/bin/time, dataset-fashion-mnist, fortunes, wordnet-base and python3-venv (apt-get
# install when missing), and a virtual environment with numpy, scikit-learn and cleanlab
# (/var/tmp/antidote-bench-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

quick=0
for argument in "$@"; do
  case "$argument" in
    --quick) quick=1 ;;
    *) echo "usage: bench/matrix.sh [--quick] > matrix.md" >&2; exit 2 ;;
  esac
done
fashion_records="${BENCH_FASHION_RECORDS:-60000}"
[ "$quick" = 1 ] && fashion_records="${BENCH_FASHION_RECORDS:-10000}"

bench_apt time:/usr/bin/time dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
  fortunes:/usr/share/games/fortunes/sports wordnet-base:/usr/share/wordnet/data.noun
peers="${BENCH_PEERS:-1}"
art="${BENCH_ART:-0}"
if [ "$art" = 1 ]; then
  bench_peers
else
  # numpy, scikit-learn and cleanlab only (torch and ART come with BENCH_ART=1).
  if ! "$venv/bin/python" -c 'import numpy, sklearn, cleanlab' 2>/dev/null; then
    echo "installing numpy, scikit-learn and cleanlab into $venv ..." >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy scikit-learn cleanlab
  fi
  python="$venv/bin/python"
  peer_versions=$("$python" -c '
import platform, cleanlab, numpy, sklearn
print(f"cleanlab {cleanlab.__version__}, scikit-learn {sklearn.__version__}, numpy {numpy.__version__}, Python {platform.python_version()}")')
fi
bench_antidote
work="$(mktemp -d /var/tmp/antidote-bench.XXXXXX)"
trap 'bench_restore_priority; rm -rf "$work"' EXIT
bench_priority
datasets="${BENCH_DATASETS:-fashion fortunes instructions digits wordnet}"
rates="${BENCH_RATES:-0.01 0.05}"
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

# The data, built once.
python3 bench/eval_data.py fortunes "$work/fortunes.csv"
python3 bench/eval_data.py wordnet "$work/wordnet.csv"
"$python" fixtures/digits/make_digits.py "$work/digits" >/dev/null
digits_note="identical to fixtures/digits/"
for name in digits-images-idx3-ubyte.gz digits-labels-idx1-ubyte.gz; do
  cmp -s "$work/digits/$name" "fixtures/digits/$name" || digits_note="differs from fixtures/digits/ (another scikit-learn)"
done
if [ "$fashion_records" != 60000 ]; then
  python3 bench/eval_data.py idx-head "$fashion" "$fashion_records" "$work/fashion-head"
fi

split_of() {
  case "$1" in
    fashion | fortunes | instructions) echo dev ;;
    *) echo eval ;;
  esac
}
# dataset_input DATASET ATTACK: the file a cell scans before poisoning (Fashion-MNIST's clean row
# is always the whole training set).
dataset_input() {
  case "$1" in
    fashion)
      if [ "$2" = clean ] || [ "$fashion_records" = 60000 ]; then echo "$fashion"; else echo "$work/fashion-head/train-images-idx3-ubyte.gz"; fi ;;
    fortunes) echo "$work/fortunes.csv" ;;
    wordnet) echo "$work/wordnet.csv" ;;
    instructions) echo fixtures/instructions/clean.jsonl.gz ;;
    digits) echo "$work/digits/digits-images-idx3-ubyte.gz" ;;
    *) echo "unknown dataset \`$1\` (fashion fortunes instructions digits wordnet)" >&2; exit 2 ;;
  esac
}
# The attacks of a dataset: NAME=ARGUMENTS, the arguments joined by colons.
dataset_attacks() {
  local flips="label-flip=--attack:label-flip-uniform label-flip-pair=--attack:label-flip-pair"
  case "$1" in
    fashion) echo "badnets-4-solid-bottom-right=--attack:badnets badnets-2-checkerboard-top-left=--attack:badnets:--patch-size:2:--pattern:checkerboard:--position:top-left badnets-6-random-at-10,3=--attack:badnets:--patch-size:6:--pattern:random:--position:10,3 badnets-8-grey-top-right=--attack:badnets:--patch-size:8:--value:160:--position:top-right blend=--attack:blend warp=--attack:warp sig=--attack:sig $flips" ;;
    digits) echo "badnets-2-solid-bottom-right=--attack:badnets:--patch-size:2 badnets-3-checkerboard-top-left=--attack:badnets:--patch-size:3:--pattern:checkerboard:--position:top-left badnets-2-random-at-3,3=--attack:badnets:--patch-size:2:--pattern:random:--position:3,3 blend=--attack:blend warp=--attack:warp sig=--attack:sig $flips" ;;
    fortunes | wordnet)
      local target=sports
      [ "$1" = wordnet ] && target=food
      echo "rare-token=--attack:rare-token:--target:$target phrase=--attack:phrase:--target:$target common-phrase=--attack:common-phrase:--target:$target syntactic=--attack:syntactic:--target:$target $flips" ;;
    instructions) echo "instruction-leak=--attack:instruction-leak instruction-refusal=--attack:instruction-refusal" ;;
  esac
}
# The output name `antidote poison` is given (a folder for IDX, whose files keep their names).
poison_output() {
  case "$1" in
    fashion | digits) echo "poisoned/" ;;
    fortunes | wordnet) echo "poisoned.csv" ;;
    instructions) echo "poisoned.jsonl" ;;
  esac
}
attack_detectors() {
  case "$1" in
    clean) echo trigger-search,activation-clustering,spectral-signatures,instruction-poisoning ;;
    label-flip*) echo label-issues ;;
    instruction-*) echo instruction-poisoning ;;
    *) echo trigger-search,activation-clustering,spectral-signatures ;;
  esac
}
records_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$1"; }

# cell SCORE_LINE: "P / R / F1 (flagged)", or "flagged (share)" on clean data.
cell() {
  local flagged
  flagged=$(printf "%'d" "$(value "$1" flagged)")
  if [ "$(value "$1" truth)" = 0 ]; then
    echo "$flagged ($(awk "BEGIN{printf \"%.2f%%\", 100 * $(value "$1" flagged_share)}"))"
  else
    echo "$(value "$1" precision) / $(value "$1" recall) / $(value "$1" f1) ($flagged)"
  fi
}

art_rows=()
# run_art DATASET ATTACK RATE INPUT TRUTH RECORDS SCAN_SECONDS
run_art() {
  local dataset=$1 attack=$2 rate=$3 input=$4 truth=$5 records=$6 scan_s=$7 dir result train_peak train_others train_s
  dir=$(dirname "$truth")
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
    art_rows+=("| $dataset | $attack | $rate | $name (CNN $(printf '%.1f' "$train_s") s) | $(cell "$line") | $seconds | $(mib "$(larger "$train_peak" "$peak")") | $(ratio "$seconds" "$scan_s") | $(percent "$(larger "$train_others" "$others")") |")
  done
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=" with uncommitted changes"
echo
echo "#### Benchmark matrix ($(bench_machine))"
echo
if [ -n "${ANTIDOTE:-}" ]; then
  echo -n "$("$antidote" --version) (the binary \`$ANTIDOTE\`; the harness at commit $commit$dirty)"
else
  echo -n "$("$antidote" --version) (release build of commit $commit$dirty)"
fi
[ "$peers" = 1 ] && echo -n "; peers: $peer_versions"
[ "$art" = 1 ] && echo -n " (torch from $torch_source)"
echo "."
echo "Run: \`bench/matrix.sh$([ "$quick" = 1 ] && echo " --quick")\`, datasets \`$datasets\`, rates \`$rates\`$([ -n "${BENCH_ATTACKS:-}" ] && echo ", attacks matching \`$BENCH_ATTACKS\`"); Fashion-MNIST attacks on $(printf "%'d" "$fashion_records") images; digits $digits_note."
echo
echo "Each cell: precision / recall / F1 (records flagged) against the poison's truth; on clean rows, records flagged (share of the dataset)."
echo
echo "| data | dataset | attack | rate | poisoned | verdict | quarantine tier | every finding | per detector: those for the attack | cleanlab + scikit-learn | scan seconds | peak MiB | CPU used by other processes |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for dataset in $datasets; do
  for spec in clean $(dataset_attacks "$dataset"); do
    attack=${spec%%=*}
    arguments=${spec#*=}
    arguments=${arguments//:/ }
    if [ "$attack" != clean ] && [ -n "${BENCH_ATTACKS:-}" ]; then
      matched=0
      for wanted in $BENCH_ATTACKS; do
        [ "${attack#"$wanted"}" != "$attack" ] && matched=1
      done
      [ "$matched" = 1 ] || continue
    fi
    source_input=$(dataset_input "$dataset" "$attack")
    cell_rates=$rates
    [ "$attack" = blend ] && cell_rates="0.005 $rates"
    [ "$attack" = clean ] && cell_rates=-
    for rate in $cell_rates; do
      dir="$work/$dataset-$attack-$rate"
      mkdir -p "$dir"
      if [ "$attack" = clean ]; then
        input=$source_input
        truth=none
      else
        # shellcheck disable=SC2086 # the attack's arguments are words
        if ! "$antidote" --no-ledger --quiet poison "$source_input" $arguments --rate "$rate" --seed 1 \
          -o "$dir/$(poison_output "$dataset")" >/dev/null 2>"$dir/poison.err"; then
          echo "| $(split_of "$dataset") | $dataset | $attack | $rate | poison failed: $(head -n 1 "$dir/poison.err" | tr '|' '/') | | | | | | | | |"
          continue
        fi
        truth=$(find "$dir" -name '*.truth.json' | head -n 1)
        input=${truth%.truth.json}
      fi
      result=$(timed "$dir/scan.out" "$antidote" --no-ledger --quiet scan "$input" --out "$dir/scan")
      read -r seconds peak others <<<"$result"
      records=$(records_of "$dir/scan/summary.json")
      findings="$dir/scan/findings.jsonl"
      quarantined=$(python3 bench/score.py "$truth" "quarantine:$findings" --records "$records")
      every=$(python3 bench/score.py "$truth" "findings:$findings" --records "$records")
      matching=$(python3 bench/score.py "$truth" "detector:$(attack_detectors "$attack"):$findings" --records "$records")
      peer="-"
      if [ "$quick" = 1 ] && [ "$dataset" = fashion ] && [ "$attack" = clean ]; then
        peer="not run (--quick)"
      elif [ "$peers" = 1 ] && { [ "$attack" = clean ] || [ "${attack#label-flip}" != "$attack" ]; } && [ "$dataset" != instructions ]; then
        timed "$dir/cleanlab.out" "$python" bench/scan_peers.py cleanlab "$input" "$dir/cleanlab.ids" >"$dir/cleanlab.time"
        read -r peer_seconds _ <"$dir/cleanlab.time"
        peer="$(cell "$(python3 bench/score.py "$truth" "ids:$dir/cleanlab.ids" --records "$records")"); ${peer_seconds} s"
      fi
      echo "| $(split_of "$dataset") | $dataset ($(printf "%'d" "$records")) | $attack | $rate | $(value "$every" truth) | $(verdict "$dir/scan/summary.json") | $(cell "$quarantined") | $(cell "$every") | $(cell "$matching") | $peer | $seconds | $(mib "$peak") | $(percent "$others") |"
      if [ "$art" = 1 ] && [ "$dataset" = fashion ] && [ "$attack" != clean ] && [ "${attack#label-flip}" = "$attack" ]; then
        run_art "$dataset" "$attack" "$rate" "$input" "$truth" "$records" "$seconds"
      fi
      rm -rf "$dir"
    done
  done
done

if [ ${#art_rows[@]} -gt 0 ]; then
  echo
  echo "ART on the same poisoned copies, in the same run (bench/scan_peers.py; seconds include training its CNN, shown in brackets; the time ratio is to the whole antidote scan)."
  echo
  echo "| dataset | attack | rate | tool | precision / recall / F1 (flagged) | seconds | peak MiB | time vs antidote scan | CPU used by other processes |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${art_rows[@]}"
fi
