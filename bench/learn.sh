#!/usr/bin/env bash
# Benchmarks antidote's built-in learner against scikit-learn on the same data in the same run:
# 5-fold out-of-sample class probabilities of a multinomial logistic regression on the
# Fashion-MNIST training set (60,000 images of 28x28, pixels / 255), which is what a cleanlab user
# computes before `find_label_issues` and what `antidote scan` computes for its label-issue
# detector.
#
#   bench/learn.sh                  # one run of each
#   BENCH_REPEATS=3 bench/learn.sh  # the fastest of three runs of each
#
# antidote:     `cargo run --release -p antidote-learn --example oos` (crates/antidote-learn/examples/oos.rs)
# scikit-learn: `cross_val_predict(LogisticRegression(max_iter=100), X / 255, y, cv=5,
#               method="predict_proba")` (bench/learn.py)
# Both stop after 100 L-BFGS iterations per fold with the same penalty (C = 1). Prints the
# seconds of the cross-validation alone and of the whole process, peak memory, the time ratio and
# each one's out-of-sample accuracy (argmax of the probabilities against the labels).
#
# Needs /usr/bin/time, dataset-fashion-mnist and python3-venv (installed with apt-get when
# missing), and creates or completes the virtual environment /var/tmp/antidote-bench-venv with
# numpy and scikit-learn from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/time ] || need+=(time)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
venv=/var/tmp/antidote-bench-venv
if ! "$venv/bin/python" -c 'import numpy, sklearn' 2>/dev/null; then
  echo "installing numpy and scikit-learn into $venv ..." >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy scikit-learn
fi

cargo build --release --quiet -p antidote-learn --example oos
antidote="${CARGO_TARGET_DIR:-target}/release/examples/oos"
data=/usr/share/datasets/fashion-mnist
repeats="${BENCH_REPEATS:-1}"
work="$(mktemp -d /var/tmp/antidote-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# fastest COMMAND...: runs COMMAND $repeats times (after a warm-up that puts the data in the page
# cache) and prints the `key=value` line of the run with the fewest `oos_seconds`, followed by
# `process_seconds=` and `peak_kib=` of that run.
fastest() {
  "$@" >/dev/null 2>&1
  local best="" best_oos=""
  for _ in $(seq "$repeats"); do
    local line oos
    line=$(/usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" 2>/dev/null | tail -n 1)
    read -r process peak < "$work/time.txt"
    oos=$(value "$line" oos_seconds)
    if [ -z "$best" ] || awk "BEGIN{exit !($oos < $best_oos)}"; then
      best="$line process_seconds=$process peak_kib=$peak"
      best_oos=$oos
    fi
  done
  echo "$best"
}

value() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1f\", $1 / $2; else print \"n/a\" }"; }

antidote_line=$(fastest "$antidote" --data "$data" --folds 5 --max-iterations 100)
sklearn_line=$(fastest "$venv/bin/python" bench/learn.py "$data")

row() { # NAME LINE REFERENCE_LINE
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" \
    "$(value "$2" oos_seconds)" "$(value "$2" process_seconds)" "$(( $(value "$2" peak_kib) / 1024 ))" \
    "$(value "$2" accuracy)" "$(ratio "$(value "$3" oos_seconds)" "$(value "$2" oos_seconds)")"
}

echo
echo "#### Learner benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)): 5-fold out-of-sample probabilities, Fashion-MNIST training set, 60,000 x 784"
echo
echo "| tool | cross-validation s | process s | peak MiB | out-of-sample accuracy | faster than scikit-learn by |"
echo "|---|---|---|---|---|---|"
row "antidote (L-BFGS on faer, f32, 5 folds trained together)" "$antidote_line" "$sklearn_line"
row "scikit-learn $("$venv/bin/python" -c 'import sklearn; print(sklearn.__version__)') \`cross_val_predict(LogisticRegression(max_iter=100))\`" "$sklearn_line" "$sklearn_line"
