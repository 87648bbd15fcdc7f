#!/usr/bin/env bash
# Benchmarks antidote's DP-SGD against plain SGD of the same model through the same code, and
# against Opacus (DP-SGD in PyTorch) on the same model and data in the same run: logistic
# regression and an MLP (one hidden layer of 128) on the first 10,000 Fashion-MNIST training
# images, 2 epochs, expected batches of 256, clipping norm 1, noise multiplier 1, Poisson
# sampling. The issue's goals: DP-SGD within 2x of plain SGD, and faster than Opacus.
#
#   bench/dp.sh                              # 10,000 records, 2 epochs
#   BENCH_RECORDS=60000 BENCH_EPOCHS=1 bench/dp.sh
#
# antidote: `cargo run --release -p antidote-learn --example dpsgd` (crates/antidote-learn/examples/dpsgd.rs)
# Opacus:   bench/dp.py, in its own virtual environment ($dp_venv) with torch from PyTorch's CPU
#           wheel index and opacus from PyPI (bench only: no test needs them).
# Prints, per model, each side's seconds of training alone, the DP/plain ratio, antidote's time
# over Opacus', and the test accuracies (10,000 test images).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

records=${BENCH_RECORDS:-10000}
epochs=${BENCH_EPOCHS:-2}
dp_venv=/var/tmp/antidote-dp-venv

bench_apt dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# Torch from PyTorch's CPU wheel index when reachable, else Debian's python3-torch (1.13, with
# system site packages, and the last opacus that supports it), as bench/common.sh does.
if ! "$dp_venv/bin/python" -c 'import torch, opacus' 2>/dev/null; then
  echo "installing torch (CPU) and opacus into $dp_venv ..." >&2
  rm -rf "$dp_venv"
  python3 -m venv "$dp_venv"
  if "$dp_venv/bin/pip" install -q --retries 1 --timeout 30 torch \
      --index-url https://download.pytorch.org/whl/cpu 2>/dev/null; then
    "$dp_venv/bin/pip" install -q opacus numpy
  else
    echo "PyTorch's CPU wheel index is unreachable: using Debian's python3-torch" >&2
    /usr/bin/python3 -c 'import torch' 2>/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null; }
    rm -rf "$dp_venv"
    /usr/bin/python3 -m venv --system-site-packages "$dp_venv"
    "$dp_venv/bin/pip" install -q "opacus==1.4.0"
  fi
fi
versions=$("$dp_venv/bin/python" -c 'import opacus, torch; print(f"opacus {opacus.__version__}, torch {torch.__version__}")')
cargo build --release --quiet -p antidote-learn --example dpsgd
example="${CARGO_TARGET_DIR:-target}/release/examples/dpsgd"

echo "DP-SGD, $records Fashion-MNIST images, $epochs epochs; $(bench_machine); $versions"
printf '%-10s %10s %10s %8s %10s %10s %12s %14s\n' model antidote plain dp/plain opacus "opacus sgd" "vs opacus" "accuracy a/o"
for hidden in "" 128; do
  wait_quiet
  ours=$("$example" "$records" "$epochs" "$hidden")
  wait_quiet
  theirs=$("$dp_venv/bin/python" bench/dp.py "$records" "$epochs" "$hidden")
  printf '%-10s %9ss %9ss %8s %9ss %9ss %12s %14s\n' "${hidden:+mlp-$hidden}${hidden:-logistic}" \
    "$(value "$ours" private_seconds)" "$(value "$ours" plain_seconds)" "$(value "$ours" ratio)x" \
    "$(value "$theirs" private_seconds)" "$(value "$theirs" plain_seconds)" \
    "$(ratio "$(value "$ours" private_seconds)" "$(value "$theirs" private_seconds)")" \
    "$(value "$ours" private_accuracy)/$(value "$theirs" private_accuracy)"
done
