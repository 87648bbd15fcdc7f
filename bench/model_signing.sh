#!/usr/bin/env bash
# Signs and verifies a generated 5 GB model folder with `antidote sign-model` / `verify-model`
# (release build) and with the reference CLI of OpenSSF model signing (`model_signing sign key`
# / `verify key`, the Python package `model-signing`) in the same run, on the same files and
# key, and writes bench/results/model_signing.md. Each tool also verifies the other's signature
# once (not timed): the two must agree on the model.
#
#   bench/model_signing.sh                          # 5 GiB: 4 files of 1200 MiB + 4,000 small files
#   BENCH_LARGE_MIB=256 BENCH_SMALL_FILES=500 bench/model_signing.sh   # a quick look
#   ANTIDOTE=/path/to/antidote bench/model_signing.sh                  # measure that binary
#
# The model folder is generated in /var/tmp and deleted on exit. Every run reads from the page
# cache when the machine has the memory (one warm-up pass first), so the times compare hashing
# and signing, not the disk. Needs: /usr/bin/time, the virtual environment of scripts/test.sh
# ($ANTIDOTE_VENV, default /var/tmp/antidote-venv) with model-signing; it installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

large_count=${BENCH_LARGE_FILES:-4}
large_mib=${BENCH_LARGE_MIB:-1200}
small_count=${BENCH_SMALL_FILES:-4000}
small_kib=${BENCH_SMALL_KIB:-48}
repeats=${BENCH_REPEATS:-2}
venv_dir=${ANTIDOTE_VENV:-/var/tmp/antidote-venv}

bench_apt time:/usr/bin/time
if ! "$venv_dir/bin/python" -c 'import model_signing' 2>/dev/null; then
  [ -x "$venv_dir/bin/python" ] || python3 -m venv "$venv_dir"
  "$venv_dir/bin/pip" install -q 'model-signing==1.1.1'
fi
reference="$venv_dir/bin/model_signing"
reference_version=$("$venv_dir/bin/python" -c 'import importlib.metadata as m; print(m.version("model-signing"))')
bench_antidote
case "$antidote" in
  */release/*) build="antidote's release build" ;;
  */debug/*) build='antidote'"'"'s dev-profile build (`[profile.dev.package."*"] opt-level = 3`: sha2, rayon and every other dependency optimised as in release; its own crates at opt-level 1)' ;;
  *) build="the antidote binary \`$antidote\`" ;;
esac

work=$(mktemp -d /var/tmp/antidote-model-signing.XXXXXX)
trap 'rm -rf "$work"' EXIT
model="$work/model"
mkdir -p "$model/shards" "$model/tokenizer"
echo "generating the model folder in $model ..." >&2
# random BYTES SEED: incompressible bytes from a cipher stream, faster than /dev/urandom (openssl
# dies of SIGPIPE when `head` has enough: not a failure).
random() {
  (set +o pipefail; openssl enc -aes-128-ctr -nosalt -pass "pass:antidote-$2" -in /dev/zero 2>/dev/null | head -c "$1")
}
for index in $(seq 1 "$large_count"); do
  random "$((large_mib * 1024 * 1024))" "$index" > "$model/shards/model-0000$index-of-0000$large_count.safetensors"
done
random "$((small_count * small_kib * 1024))" small > "$work/small.bin"
(cd "$model/tokenizer" && split -a 5 -d -b "$((small_kib * 1024))" "$work/small.bin" piece-)
rm "$work/small.bin"
echo '{"architectures": ["Bench"], "hidden_size": 4096}' > "$model/config.json"
files=$(find "$model" -type f | wc -l)
bytes=$(du -sb "$model" | cut -f1)
gib=$(awk "BEGIN{printf \"%.2f\", $bytes / 1024^3}")

cd "$work"
"$antidote" --no-ledger --quiet keygen -o bench.key >/dev/null
# best_of NAME COMMAND...: the fastest of $repeats runs after a warm-up, as "seconds peak_kib".
best_of() {
  local name=$1 best="" rss="" seconds peak
  shift
  "$@" >"$work/$name.out" 2>&1 || { echo "failed: $*" >&2; cat "$work/$name.out" >&2; exit 2; }
  for _ in $(seq "$repeats"); do
    wait_quiet
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/$name.out" 2>&1 ||
      { echo "failed: $*" >&2; cat "$work/$name.out" >&2; exit 2; }
    read -r seconds peak < <(tail -n 1 "$work/time.txt")
    if [ -z "$best" ] || awk "BEGIN{exit !($seconds < $best)}"; then best=$seconds; rss=$peak; fi
  done
  echo "$best $rss"
}

echo "signing and verifying $files files, $gib GiB ..." >&2
read -r a_sign a_sign_rss < <(best_of antidote-sign "$antidote" --no-ledger --quiet sign-model model --key bench.key --signature antidote.sig)
read -r a_verify a_verify_rss < <(best_of antidote-verify "$antidote" --no-ledger --quiet verify-model model --pubkey bench.pub --signature antidote.sig)
read -r r_sign r_sign_rss < <(best_of reference-sign "$reference" sign key model --private_key bench.key --signature reference.sig)
read -r r_verify r_verify_rss < <(best_of reference-verify "$reference" verify key model --signature reference.sig --public_key bench.pub)
# Interoperability on the same 5 GB: each verifies the other's signature.
"$reference" verify key model --signature antidote.sig --public_key bench.pub >"$work/cross1.out" 2>&1 ||
  { echo "model_signing refused antidote's signature:" >&2; cat "$work/cross1.out" >&2; exit 2; }
"$antidote" --no-ledger --quiet verify-model model --pubkey bench.pub --signature reference.sig >"$work/cross2.out" 2>&1 ||
  { echo "antidote refused model_signing's signature:" >&2; cat "$work/cross2.out" >&2; exit 2; }
cd - >/dev/null

speed() { awk "BEGIN{ printf \"%.0f\", $bytes / 1048576 / $1 }"; }
x() { awk "BEGIN{ if ($2 > 0) printf \"%.1fx\", $1 / $2; else print \"n/a\" }"; }
result=bench/results/model_signing.md
{
  echo "# Signing a 5 GB model: antidote against OpenSSF model_signing"
  echo
  echo "Written by \`bench/model_signing.sh\` ($(bench_machine)); model-signing $reference_version"
  echo "(its CLI, \`model_signing sign key\` / \`verify key\`), $build. Both"
  echo "sign with the same ECDSA P-256 key, SHA-256 per file, in the same run; each time is the"
  echo "best of $repeats runs after a warm-up (files in the page cache). Each tool verified the"
  echo "other's signature of the same folder."
  echo
  echo "Model folder: $files files, $gib GiB ($large_count files of $large_mib MiB, $small_count files"
  echo "of $small_kib KiB, a config)."
  echo
  echo "| step | antidote s | model_signing s | antidote MiB/s | model_signing MiB/s | antidote faster by | peak MiB antidote / model_signing |"
  echo "|---|---|---|---|---|---|---|"
  echo "| sign | $a_sign | $r_sign | $(speed "$a_sign") | $(speed "$r_sign") | $(x "$r_sign" "$a_sign") | $((a_sign_rss / 1024)) / $((r_sign_rss / 1024)) |"
  echo "| verify | $a_verify | $r_verify | $(speed "$a_verify") | $(speed "$r_verify") | $(x "$r_verify" "$a_verify") | $((a_verify_rss / 1024)) / $((r_verify_rss / 1024)) |"
  echo
  echo "Both hash files in parallel; on $(nproc) cores the ceiling is $(nproc) x the single-core"
  echo "SHA-256 speed. The machine may have been shared with other work during the run: the"
  echo "ratio, measured in the same run, is the figure to read."
} > "$result"
cat "$result"
