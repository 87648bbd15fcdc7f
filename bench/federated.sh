#!/usr/bin/env bash
# The federated drill's updates fed to Flower's aggregation functions and to antidote's rules:
# `antidote drill --federated --export-updates` writes every round's client updates (along the
# coordinate-wise median's run) with the truth; bench/federated.py combines each round with every
# rule of both and measures the resulting model on the same clean test split (one step from the
# same global model, so only the aggregation differs).
#
#   bench/federated.sh                                  # the default grid, IID
#   bench/federated.sh --partition dirichlet            # any other `antidote drill --federated` options
#
# ANTIDOTE_BIN=path/to/antidote uses that binary instead of building a release one.
# Needs flwr and numpy: the virtual environment /var/tmp/antidote-venv (scripts/test.sh creates
# it for the Flower strategy's tests), or one named by ANTIDOTE_FLOWER_PY.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${ANTIDOTE_FLOWER_PY:-/var/tmp/antidote-venv/bin/python}
"$python" -c 'import flwr, numpy' 2>/dev/null || {
  echo "error: $python has no flwr and numpy; run scripts/test.sh first or set ANTIDOTE_FLOWER_PY" >&2
  exit 2
}
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
echo "flwr $("$python" -c 'import flwr; print(flwr.__version__)'), antidote $("$binary" --version)"
"$python" bench/federated.py "$work/updates" "$binary"
