#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(chromium dataset-fashion-mnist fortunes openssl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# WordNet's noun glosses (`wordnet-base`, data only) are held-out text for the clean-data
# quarantine test (tests/it/clean_share.rs); its recommends (the browser and GUI) are not needed.
if [ ! -f /usr/share/wordnet/data.noun ]; then
  echo "installing wordnet-base ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wordnet-base >/dev/null
fi

# `promtool` (Debian's prometheus 2.42) checks the monitor's rules, their unit tests and a real
# scrape of its metrics (tests/it/monitor.rs); the server itself is not needed.
if ! command -v promtool >/dev/null; then
  echo "installing prometheus (for promtool) ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# The Python peers the interoperability tests compare with, in one virtual environment reused
# when present: OpenSSF model signing (`sign-model` / `verify-model`; pyOpenSSL is imported by
# model-signing 1.1.1 but not declared by it), Flower (the strategy in python/antidote_flower) and
# Google's dp-accounting (the privacy accountant); and what the `antidote` wheel
# (crates/antidote-py) is built with and tested against: maturin, pytest, pandas, pyarrow,
# cleanlab with the scikit-learn of its parity fixture, and MLflow's client (`mlflow-skinny`).
venv="${ANTIDOTE_VENV:-/var/tmp/antidote-venv}"
python_packages=(model-signing==1.1.1 pyOpenSSL==26.4.0 flwr==1.42.0 numpy==2.4.6 dp-accounting==0.6.0
  maturin==1.16.0 pytest==9.2.0 pandas==3.1.1 pyarrow==26.0.1 cleanlab==2.9.0 scikit-learn==1.9.1
  mlflow-skinny==3.17.2)
if ! "$venv/bin/python" - "${python_packages[@]}" 2>/dev/null <<'PY'
import importlib.metadata as m, sys
for requirement in sys.argv[1:]:
    name, version = requirement.split("==")
    assert m.version(name) == version, requirement
PY
then
  echo "installing ${python_packages[*]} into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${python_packages[@]}"
fi

cargo test --workspace --locked "$@"

# The interoperability tests are ignored by a plain `cargo test`: they need the environment above.
export ANTIDOTE_MODEL_SIGNING_PY="$venv/bin/python" ANTIDOTE_FLOWER_PY="$venv/bin/python" \
  ANTIDOTE_DP_ACCOUNTING_PY="$venv/bin/python"
# Run from the workspace, as above, so that nothing is rebuilt with other features.
cargo test --workspace --locked "$@" -- --ignored model_signing flower dp_accounting

# `--engine ballista`: antidote built with the `ballista` feature, in release (Ballista builds
# DataFusion with all its default features: a second build of it, kept apart from the one above),
# and the test that starts antidote's Ballista scheduler and two executors from that binary.
cargo build --release --locked --quiet -p antidote --features ballista
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
cp "$target_dir/release/antidote" "$target_dir/release/antidote-ballista"
ANTIDOTE_BALLISTA_BIN="$target_dir/release/antidote-ballista" \
  cargo test --workspace --locked "$@" -- --ignored a_ballista_cluster

# The API documentation builds without a broken or private link (antidote's crates only).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --locked --no-deps --quiet

# The Python package: a wheel built by maturin in the dev profile (the workspace's dependencies
# are optimized even there), installed into the environment above as a user installs it, and
# its pytest suite, which compares with the binary built above, cleanlab and a local MLflow store.
wheels="$target_dir/wheels/antidote-py"
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --locked --manifest-path crates/antidote-py/Cargo.toml \
  --interpreter "$venv/bin/python" --out "$wheels"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/antidote-*.whl
ANTIDOTE_BIN="$target_dir/debug/antidote" "$venv/bin/python" -m pytest -q -p no:cacheprovider crates/antidote-py/tests
