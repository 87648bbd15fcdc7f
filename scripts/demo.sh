#!/usr/bin/env bash
# The main job on the embedded default: `antidote drill` poisons copies of three small real
# datasets carried in the binary (6,000 Fashion-MNIST images, 3,246 quotations from Debian's
# fortunes, 2,000 instruction-tuning pairs) the way an attacker would, runs every defense layer
# (diff against a lock, check against a profile, scan), and scores what each caught against the
# ground truth. Needs only a Rust toolchain; extra arguments go to the drill (try `--train`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet -p antidote
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$(pwd)/$target_dir"
antidote="$target_dir/release/antidote"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$antidote" drill --no-ledger "$@"
