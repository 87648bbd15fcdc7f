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

# The Python `model-signing` package (OpenSSF model signing) in a virtual environment, for the
# interoperability tests of `antidote sign-model` / `verify-model`; reused when present.
# pyOpenSSL is imported by model-signing 1.1.1 but not declared by it.
venv="${ANTIDOTE_VENV:-/var/tmp/antidote-venv}"
if ! "$venv/bin/python" -c 'import importlib.metadata as m, OpenSSL, model_signing; assert m.version("model-signing") == "1.1.1"' 2>/dev/null; then
  echo "installing model-signing 1.1.1 into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check model-signing==1.1.1 pyOpenSSL==26.4.0
fi

cargo test --workspace --locked "$@"

# The interoperability tests are ignored by a plain `cargo test`: they need the venv above.
ANTIDOTE_MODEL_SIGNING_PY="$venv/bin/python" \
  cargo test -p antidote --test it --locked "$@" -- --ignored model_signing
