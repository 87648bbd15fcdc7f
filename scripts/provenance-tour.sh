#!/usr/bin/env bash
# A tour of the provenance layer: lock and verify a small real dataset shipped in the
# repository (120 quotations from Debian's `fortunes`, 300 Fashion-MNIST images), sign the
# lock, then tamper with a copy the way an attacker would and watch `verify` and `diff` fail.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet -p antidote
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"
antidote="$target_dir/release/antidote"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
cp fixtures/fortunes_3class.csv "$work/data/"
cp -r fixtures/fashion_mnist_300 "$work/data/"
cd "$work"

step() { printf '\n\033[1m$ antidote %s\033[0m\n' "$*"; }

step keygen
"$antidote" keygen
step lock data --key antidote.key
"$antidote" lock data --key antidote.key
step verify --pubkey antidote.pub
"$antidote" verify --pubkey antidote.pub
step profile data/fortunes_3class.csv -o baseline.json
"$antidote" profile data/fortunes_3class.csv -o baseline.json

echo
echo "# an attacker relabels three quotations to \`science\` and appends one record"
sed -i -e 's/^computers-003,computers,/computers-003,science,/' \
       -e 's/^food-004,food,/food-004,science,/' \
       -e 's/^food-007,food,/food-007,science,/' data/fortunes_3class.csv
echo 'food-999,food,"An apple a day keeps the doctor away."' >> data/fortunes_3class.csv

step verify --pubkey antidote.pub
status=0
"$antidote" verify --pubkey antidote.pub || status=$?
echo "(exit code $status: 1 means the data no longer matches the lock)"
step diff antidote.lock data/fortunes_3class.csv
"$antidote" diff antidote.lock data/fortunes_3class.csv || true
step check data/fortunes_3class.csv --baseline baseline.json
"$antidote" check data/fortunes_3class.csv --baseline baseline.json || true
echo "(four records in 121 move no statistic past its threshold: statistics catch floods and shifts,"
echo " the lock catches every changed record)"
step log --verify
"$antidote" log --verify
if [ "$status" -ne 1 ]; then
  echo "demo: expected verify to fail on the tampered copy" >&2
  exit 1
fi
