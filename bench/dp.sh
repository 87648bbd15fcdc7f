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
# Torch from PyTorch's CPU wheel index when reachable, else with opacus from PyPI (a CUDA build
# of several GB that runs on the CPU). Debian's python3-torch (1.13.0a0) does not do: opacus asks
# for torch >= 1.13, which a pre-release does not satisfy, so pip replaces it anyway.
if ! "$dp_venv/bin/python" -c 'import torch, opacus' 2>/dev/null; then
  echo "installing torch and opacus into $dp_venv ..." >&2
  [ -x "$dp_venv/bin/python" ] || python3 -m venv "$dp_venv"
  "$dp_venv/bin/pip" install -q --retries 1 --timeout 30 torch \
    --index-url https://download.pytorch.org/whl/cpu 2>/dev/null ||
    echo "PyTorch's CPU wheel index is unreachable: torch comes from PyPI" >&2
  "$dp_venv/bin/pip" install -q opacus numpy
fi
versions=$("$dp_venv/bin/python" -c 'import opacus, torch; print(f"opacus {opacus.__version__}, torch {torch.__version__}")')
cargo build --release --quiet -p antidote-learn --example dpsgd
example="${CARGO_TARGET_DIR:-target}/release/examples/dpsgd"

echo "DP-SGD, $records Fashion-MNIST images, $epochs epochs; $(bench_machine); $versions"
printf '%-10s %10s %10s %8s %10s %10s %12s %14s\n' model antidote plain dp/plain opacus "opacus sgd" "vs opacus" "accuracy a/o"
for hidden in "" 128; do
  wait_quiet
  ours=$("$example" "$records" "$epochs" ${hidden:+"$hidden"})
  wait_quiet
  theirs=$("$dp_venv/bin/python" bench/dp.py "$records" "$epochs" "$hidden")
  printf '%-10s %9ss %9ss %8s %9ss %9ss %12s %14s\n' "$([ -n "$hidden" ] && echo "mlp-$hidden" || echo logistic)" \
    "$(value "$ours" private_seconds)" "$(value "$ours" plain_seconds)" "$(value "$ours" ratio)x" \
    "$(value "$theirs" private_seconds)" "$(value "$theirs" plain_seconds)" \
    "$(ratio "$(value "$ours" private_seconds)" "$(value "$theirs" private_seconds)")" \
    "$(value "$ours" private_accuracy)/$(value "$theirs" private_accuracy)"
done
