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

# Flower and NumPy in a virtual environment, for the test of the Flower strategy
# (python/antidote_flower); reused when present.
venv="${ANTIDOTE_VENV:-/var/tmp/antidote-venv}"
if ! "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("flwr") == "1.42.0"' 2>/dev/null; then
  echo "installing flwr 1.42.0 into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check flwr==1.42.0 numpy==2.4.6
fi

cargo test --workspace --locked "$@"

# The Python tests are ignored by a plain `cargo test`: they need the environment above.
ANTIDOTE_FLOWER_PY="$venv/bin/python" \
  cargo test -p antidote --test it --locked "$@" -- --ignored flower
