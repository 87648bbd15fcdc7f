#!/usr/bin/env bash
# Fuzzes every parser antidote runs on input an attacker may have written, with cargo-fuzz
# (libFuzzer, AddressSanitizer, nightly Rust), and writes bench/results/fuzz.md.
#
# Targets (fuzz/fuzz_targets/): the CSV/TSV, JSON Lines (and instruction JSONL), gzip, Parquet,
# IDX and image-folder (PNG, JPEG) readers, the lock file and its record sidecar, the DSSE
# envelope, the model signature bundle, `antidote.toml`, the profile JSON and the federated
# client update (.npy, safetensors). Each reads its input from a real file under the name a
# user would give it, through the same functions the commands call.
#
# Seeds: every fixture of the matching format in fixtures/ (the malformed corpus included), and
# files made for the purpose by `antidote` itself (a lock, a signature, a model bundle, a
# profile) and by fuzz/src/bin/make_seeds.rs (Parquet, IDX, PNG/JPEG, .npy, safetensors).
#
#   bench/fuzz.sh                             # every target, 10 minutes each
#   FUZZ_SECONDS=60 bench/fuzz.sh             # a shorter run
#   FUZZ_TARGETS="read_csv read_idx" bench/fuzz.sh
#
# A crash leaves its input in fuzz/artifacts/<target>/; `cargo +nightly fuzz run <target>
# <file>` replays it. Every crash found is fixed and its input becomes a regression test
# (fixtures/malformed/ and crates/antidote/tests/it/malformed.rs). Limits per run: 2 GiB of
# resident memory and no single allocation above 1 GiB (`-malloc_limit_mb`), so a reader that
# trusts a header's size is a finding even when the machine could serve the allocation.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

seconds=${FUZZ_SECONDS:-600}
targets=${FUZZ_TARGETS:-$(ls fuzz/fuzz_targets | sed 's/\.rs$//' | tr '\n' ' ')}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/var/tmp/antidote-fuzz-target}

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked --quiet cargo-fuzz
fi

# Seeds.
corpus=fuzz/corpus
mkdir -p "$corpus"
seed() { # seed TARGET FILE...
  mkdir -p "$corpus/$1"
  local target=$1 file
  shift
  for file in "$@"; do
    [ -f "$file" ] && cp "$file" "$corpus/$target/seed-$(basename "$file")"
  done
  return 0
}
seed read_csv fixtures/*.csv fixtures/malformed/*.csv fixtures/label_issues/*.csv
seed read_jsonl fixtures/*.jsonl fixtures/malformed/*.jsonl
seed read_gzip fixtures/instructions/*.jsonl.gz fixtures/malformed/*.jsonl.gz
seed read_parquet fixtures/malformed/*.parquet
seed read_idx fixtures/malformed/*-ubyte
seed read_image_folder fixtures/malformed/*png
for file in fixtures/instructions/clean.jsonl.gz; do
  # `head` closes the pipe early; gzip's SIGPIPE is expected.
  gzip -dc "$file" | head -n 50 > "$corpus/read_jsonl/seed-instructions.jsonl" || true
done
# One AddressSanitizer build of every target (and of make_seeds, which runs as a plain program).
cargo +nightly fuzz build --release --sanitizer address >/dev/null 2>&1 ||
  cargo +nightly fuzz build --release --sanitizer address
"$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/make_seeds" . "$corpus"

bench_antidote
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp fixtures/fortunes_3class.csv "$scratch/"
(
  cd "$scratch"
  mkdir model && printf 'weights' > model/weights.bin && printf '{}' > model/config.json
  run() { "$antidote" --quiet --no-ledger "$@" >/dev/null; }
  run lock fortunes_3class.csv -o antidote.lock
  run keygen -o key
  run sign antidote.lock --key key
  run sign-model model --key key -o model.sig
  run profile fortunes_3class.csv -o profile.json
) || { echo "fuzz.sh: could not make the seeds with $antidote" >&2; exit 2; }
mkdir -p "$corpus/lock_file"
{ cat "$scratch/antidote.lock"; printf '\0'; cat "$scratch/antidote.lock.records.jsonl"; } \
  > "$corpus/lock_file/seed-lock"
seed dsse_envelope "$scratch/antidote.lock.intoto.jsonl"
seed model_bundle "$scratch/model.sig"
seed profile_json "$scratch/profile.json"
mkdir -p "$corpus/config_toml"
cat > "$corpus/config_toml/seed-antidote.toml" <<'EOF'
[check]
p_value = 0.001
wasserstein = 0.1

[severity]
drift = "error"

[scan]
significance = 0.001
fail_on_concentrations = true

[data]
max_record_bytes = "64 MiB"
EOF
for target in $targets; do
  if [ -z "$(ls -A "$corpus/$target" 2>/dev/null)" ]; then
    echo "fuzz.sh: no seed for $target" >&2
    exit 2
  fi
done

# Runs.
nightly=$(rustc +nightly --version)
fuzz_version=$(cargo fuzz --version)
rows=()
for target in $targets; do
  echo "fuzzing $target for ${seconds}s ..." >&2
  mkdir -p "fuzz/artifacts/$target"
  before=$(ls "fuzz/artifacts/$target" | grep -cv '^slow-unit-' || true)
  log="$scratch/$target.log"
  status=0
  cargo +nightly fuzz run --release --sanitizer address "$target" "$corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | grep -o '[0-9]*')
  # libFuzzer also leaves `slow-unit-*` inputs (an execution over 10 s, common on a loaded
  # machine): reported, not counted as crashes.
  crashes=$(( $(ls "fuzz/artifacts/$target" | grep -cv '^slow-unit-' || true) - before ))
  slow=$(grep -c 'Slow unit' "$log" || true)
  verdict=$([ "$status" -eq 0 ] && [ "$crashes" -eq 0 ] && echo "no crash" || echo "**crash** (exit $status)")
  rows+=("| \`$target\` | ${runs:-?} | ${coverage:-?} | $crashes | ${slow:-0} | $verdict |")
  if [ "$status" -ne 0 ]; then
    grep -E 'ERROR|panicked|SUMMARY' "$log" | head -n 5 >&2 || true
  fi
done

mkdir -p bench/results
{
  echo "# Fuzzing"
  echo
  echo "\`bench/fuzz.sh\`, ${seconds} s per target, $(date -u +%Y-%m-%d), $(nproc) cores shared with other work;"
  echo "$nightly, $fuzz_version, AddressSanitizer, one job per target. Executions depend on the"
  echo "machine's load; coverage is libFuzzer's edge count at the end of the run."
  echo
  echo "| target | executions | coverage | new crashes | slow units | result |"
  echo "|---|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
} > bench/results/fuzz.md
cat bench/results/fuzz.md
