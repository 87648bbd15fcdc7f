#!/usr/bin/env bash
# The federated drill's updates fed to Flower's and ByzFL's aggregation functions and to
# antidote's rules:
# `antidote drill --federated --export-updates` writes every round's client updates (along the
# coordinate-wise median's run) with the truth; bench/federated.py combines each round with every
# rule of both and measures the resulting model on the same clean test split (one step from the
# same global model, so only the aggregation differs).
#
#   bench/federated.sh                                  # the default grid, IID
#   bench/federated.sh --partition dirichlet            # any other `antidote drill --federated` options
#
# ANTIDOTE_BIN=path/to/antidote uses that binary instead of building a release one.
# Needs flwr, byzfl and numpy: its own virtual environment ($venv, bench only: no test needs it),
# created on first use with torch and torchvision (which byzfl imports) from PyTorch's CPU wheel
# index, then flwr 1.42.0 and byzfl from PyPI; ANTIDOTE_FEDERATED_PY names another.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=/var/tmp/antidote-federated-venv
python=${ANTIDOTE_FEDERATED_PY:-$venv/bin/python}
if ! "$python" -c 'import flwr, byzfl, numpy' 2>/dev/null; then
  if [ -n "${ANTIDOTE_FEDERATED_PY:-}" ]; then
    echo "error: $python has no flwr, byzfl and numpy" >&2
    exit 2
  fi
  echo "installing torch, flwr and byzfl into $venv ..." >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --retries 1 --timeout 30 torch torchvision \
    --index-url https://download.pytorch.org/whl/cpu 2>/dev/null ||
    echo "PyTorch's CPU wheel index is unreachable: torch comes from PyPI" >&2
  "$venv/bin/pip" install -q flwr==1.42.0 byzfl==0.0.11 numpy
fi
if [ -n "${ANTIDOTE_BIN:-}" ]; then
  binary=$ANTIDOTE_BIN
else
  cargo build --release -q -p antidote
  binary=${CARGO_TARGET_DIR:-target}/release/antidote
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Only the exported run (the median's) is needed; every rule then aggregates its updates.
"$binary" drill --federated --rule median --export-updates "$work/updates" --export-rule median \
  --out "$work/drill" --no-ledger "$@" >/dev/null
echo "flwr $("$python" -c 'import flwr; print(flwr.__version__)'), byzfl $("$python" -c 'import importlib.metadata as m; print(m.version("byzfl"))'), antidote $("$binary" --version)"
"$python" bench/federated.py "$work/updates" "$binary"
