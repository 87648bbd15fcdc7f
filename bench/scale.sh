#!/usr/bin/env bash
# The scale benchmark (issue 14): `lock`, `verify` (unchanged, then after a few records change),
# `profile` and `check` of a generated dataset, a CSV file and a folder of small PNGs, with the
# release build. Each run's seconds and peak resident memory (/usr/bin/time -f %M) go to
# bench/results/scale.md. Memory that does not grow with the data shows as the same peak at two
# sizes, so the data is generated at 1x and at 4x and both are reported.
#
#   bench/scale.sh                 # 1x = 1M CSV rows + 20k PNGs, and 4x (a few minutes)
#   ROWS=250000 IMAGES=5000 bench/scale.sh   # a quick look
#   SCALE=full bench/scale.sh      # the issue's size: 4x = 50M rows (~20 GB) + 2M PNGs
#   BUILD=dev bench/scale.sh       # the dev profile, when there is no time for a release build
#   SCALE_DATA=/var/tmp/scale-data SCALE=full GENERATE_ONLY=1 bench/scale.sh
#                                  # generate the data ahead (kept in SCALE_DATA, one folder per
#                                  # size); the same command without GENERATE_ONLY measures it
#
# Needs python3 and /usr/bin/time (installed with apt-get when missing). Disk: the 4x data
# takes about (ROWS * 4 * TEXT_BYTES) bytes plus 4 * IMAGES files; the script refuses to start
# when that would leave less than 4 GB free. It deletes everything it generated on exit, and
# each size's data once measured (KEEP_DATA=1 keeps the data in SCALE_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

if [ "${SCALE:-}" = full ]; then
  rows=${ROWS:-12500000}
  images=${IMAGES:-500000}
  text_bytes=${TEXT_BYTES:-340}
else
  rows=${ROWS:-1000000}
  images=${IMAGES:-20000}
  text_bytes=${TEXT_BYTES:-60}
fi
factors=${FACTORS:-"1 4"}
largest=$(for f in $factors; do echo "$f"; done | sort -n | tail -n 1)

# Disk: each size's data not generated yet: its CSV (a row is about text_bytes + 30 bytes) and
# PNGs (4 KiB of blocks each); the largest size's run outputs: the lock's records sidecar
# (about 220 bytes a record) and the sort runs of the changed verify (about 150 bytes a record
# for each version), less the smaller sizes' data, deleted before the largest size is measured
# (unless KEEP_DATA); and KEEP_FREE_GB (default 4) to keep free. GENERATE_ONLY needs the data only.
store=${SCALE_DATA:-}
data_dir() { echo "$1/rows${2}-png${3}-text${text_bytes}"; }
data_kib() { echo $(( ($1 * (text_bytes + 40) + $2 * 4096) / 1024 )); }
keep_free_gb=${KEEP_FREE_GB:-4}
need_kib=$(( keep_free_gb * 1024 * 1024 ))
if [ -z "${GENERATE_ONLY:-}" ]; then
  need_kib=$(( need_kib + (rows * largest + images * largest) * 520 / 1024 ))
fi
for f in $factors; do
  if [ -z "$store" ] || [ ! -e "$(data_dir "$store" $((rows * f)) $((images * f)))/complete" ]; then
    need_kib=$(( need_kib + $(data_kib $((rows * f)) $((images * f))) ))
  fi
  if [ -z "${GENERATE_ONLY:-}" ] && [ -z "${KEEP_DATA:-}" ] && [ "$f" != "$largest" ]; then
    need_kib=$(( need_kib - $(data_kib $((rows * f)) $((images * f))) ))
  fi
done
free_kib=$(df -Pk /var/tmp | awk 'NR==2 {print $4}')
if [ "$free_kib" -lt "$need_kib" ]; then
  echo "error: the benchmark needs about $((need_kib / 1024 / 1024)) GB free in /var/tmp (${keep_free_gb} GB of them kept free); $((free_kib / 1024 / 1024)) GB are" >&2
  exit 2
fi

# BUILD=dev measures the dev profile (dependencies optimised, antidote's crates at opt-level 1)
# when a release build is out of reach; memory is the same, seconds are slower.
build=${BUILD:-release}
if [ -n "${GENERATE_ONLY:-}" ]; then
  antidote=""
elif [ -n "${ANTIDOTE:-}" ]; then
  antidote=$(realpath "$ANTIDOTE")  # a binary already built (say which with BUILD)
elif [ "$build" = dev ]; then
  cargo build --quiet -p antidote
  antidote="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/antidote"
else
  cargo build --release --quiet -p antidote
  antidote="$(realpath "${CARGO_TARGET_DIR:-target}")/release/antidote"
fi

results="$(pwd)/bench/results/scale.md"
work="$(mktemp -d /var/tmp/antidote-scale.XXXXXX)"
trap 'rm -rf "$work"' EXIT
store=${store:-$work/data}
# The external sort of a changed dataset writes its runs to TMPDIR: keep them on this disk.
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"

# generate FROM_ROWS ROWS FROM_IMAGES IMAGES: appends rows FROM_ROWS..ROWS to $data/rows.csv and
# writes images FROM_IMAGES..IMAGES as $data/images/<class>/<n>.png, deterministic. A row's text
# depends only on its number modulo 5000, so the 5000 texts are made once and rows are
# formatted in blocks.
generate() {
  python3 - "$data" "$1" "$2" "$3" "$4" "$text_bytes" <<'PY'
import os, random, struct, sys, zlib
root = sys.argv[1]
row_from, rows, image_from, images, text_bytes = (int(value) for value in sys.argv[2:7])
os.makedirs(root, exist_ok=True)
rng = random.Random(14)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(3, 9))) for _ in range(5000)]
labels = ['cat', 'dog', 'bird', 'fish']

def text_of(n):
    text, length = [], 0
    while length < text_bytes:
        word = words[(n * 7919 + length * 31) % 5000]
        text.append(word)
        length += len(word) + 1
    return ' '.join(text)

texts = [text_of(n) for n in range(5000)]
with open(os.path.join(root, 'rows.csv'), 'a', buffering=1 << 22) as out:
    if row_from == 0 and rows > 0:
        out.write('id,label,text,x,y\n')
    for start in range(row_from, rows, 10000):
        out.write(''.join([f'r{n:09d},{labels[n & 3]},{texts[n % 5000]},{(n * 37) % 1000 / 10},{n % 97}\n'
                           for n in range(start, min(start + 10000, rows))]))

def chunk(kind, body):
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

header = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 16, 16, 8, 0, 0, 0, 0))
end = chunk(b'IEND', b'')
steps = bytes((i * 13) & 0xFF for i in range(256))
for label in labels:
    os.makedirs(os.path.join(root, 'images', label), exist_ok=True)
for n in range(image_from, images):
    seed = (n * 2654435761) & 0xFFFFFFFF
    shifted = [(seed >> shift) & 0xFF for shift in range(24)]
    pixels = bytes((shifted[i % 24] + steps[i]) & 0xFF for i in range(256))
    raw = b''.join(b'\x00' + pixels[y * 16:(y + 1) * 16] for y in range(16))
    with open(os.path.join(root, 'images', labels[n & 3], f'{n:08d}.png'), 'wb') as out:
        out.write(header + chunk(b'IDAT', zlib.compress(raw, 1)) + end)
PY
}

# change: three CSV rows get another label, two images other pixels. Changing again with
# `restore` puts the labels back (the swap is its own inverse) and regenerates the images.
change() {
  python3 - "$data" "${1:-}" <<'PY'
import os, sys, zlib, struct
root, restore = sys.argv[1], sys.argv[2] == 'restore'
path = os.path.join(root, 'rows.csv')
# Rewrite three rows in place with another label of the same length: the file is patched,
# not copied.
swap = {b'cat': b'dog', b'dog': b'cat', b'bird': b'fish', b'fish': b'bird'}
with open(path, 'r+b') as data:
    data.readline()
    targets = {1, 1000, 50000}
    while targets:
        start = data.tell()
        line = data.readline()
        if not line:
            break
        number = int(line.split(b',', 1)[0][1:])
        if number in targets:
            targets.discard(number)
            fields = line.split(b',')
            fields[1] = swap[fields[1]]
            data.seek(start)
            data.write(b','.join(fields))
if not restore:
    for name in ('cat/00000000.png', 'dog/00000001.png'):
        image = os.path.join(root, 'images', name)
        def chunk(kind, body):
            return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
        raw = b''.join(b'\x00' + bytes([255] * 16) for _ in range(16))
        with open(image, 'wb') as out:
            out.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 16, 16, 8, 0, 0, 0, 0))
                      + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY
  if [ "${1:-}" = restore ]; then
    # The images' rows already exist; regenerating images 0 and 1 rewrites only them.
    python3 - "$data/images" <<'PY'
import os, sys
for name in ('cat/00000000.png', 'dog/00000001.png'):
    os.remove(os.path.join(sys.argv[1], name))
PY
    generate_images_only 0 2
  fi
}

# generate_images_only FROM TO: the images FROM..TO again, without rows.
generate_images_only() { generate 0 0 "$1" "$2"; }

# measure NAME COMMAND...: runs once, appends "SIZE|NAME|seconds|peak_kib|exit|load" to
# $work/runs.txt (load: the one-minute load average when the command started).
measure() {
  local name=$1 code=0
  shift
  echo "  $name ..." >&2
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || code=$?
  if [ "$code" -gt 1 ]; then
    echo "error: \`$name\` exited $code:" >&2
    cat "$work/err.txt" >&2
    exit 1
  fi
  echo "$size_label|$name|$(tail -n 1 "$work/time.txt" | tr ' ' '|')|$code|$load" >>"$work/runs.txt"
  report "Partial: the run is still going (or was stopped) after \`$name\` at $size_label."
}

# report [NOTE]: writes bench/results/scale.md from the runs so far (after every command, so
# that a run stopped early still leaves its figures).
report() {
  {
    echo "# Scale benchmark"
    echo
    echo "Generated by \`bench/scale.sh\` (ROWS=$rows IMAGES=$images FACTORS=\"$factors\") on $(date -u +%Y-%m-%d), $(nproc) cores (shared with other jobs), $build build."
    echo "Data per size: \`data/rows.csv\` (columns id, label, text of ~${text_bytes} bytes, x, y) and"
    echo "\`data/images/<4 classes>/*.png\` (16 x 16 grey), locked together as one folder."
    echo "\"5 records changed\": 3 CSV labels patched in place and 2 PNGs rewritten; \`verify\` then"
    echo "re-reads both datasets and diffs them against the lock's sidecar with the external sort."
    echo
    echo "| size | CSV rows | PNGs | data |"
    echo "|---|---|---|---|"
    while IFS='|' read -r label r i b; do
      echo "| $label | $r | $i | $(awk "BEGIN{printf \"%.0f MiB\", $b / 1048576}") |"
    done <"$work/sizes.txt"
    echo
    echo "Load: the machine's one-minute load average when each command started (other jobs share"
    echo "its cores: seconds are slower than on an idle machine; peak memory does not depend on it)."
    echo
    echo "| command |$(for f in $factors; do printf ' %sx seconds | %sx peak MiB | %sx load |' "$f" "$f" "$f"; done)"
    echo "|---|$(for _ in $factors; do printf -- '---|---|---|'; done)"
    cut -d'|' -f2 "$work/runs.txt" | awk '!seen[$0]++' | while read -r name; do
      printf '| %s |' "$name"
      for f in $factors; do
        line=$(grep -F "${f}x|$name|" "$work/runs.txt" | head -n 1 || true)
        seconds=$(echo "$line" | cut -d'|' -f3)
        kib=$(echo "$line" | cut -d'|' -f4)
        load=$(echo "$line" | cut -d'|' -f6)
        if [ -n "$kib" ]; then kib=$((kib / 1024)); else seconds=-; kib=-; load=-; fi
        printf ' %s | %s | %s |' "$seconds" "$kib" "$load"
      done
      echo
    done
    if [ -n "${1:-}" ]; then echo; echo "$1"; fi
  } >"$results"
}

: >"$work/runs.txt"
: >"$work/sizes.txt"
# prepare ROWS IMAGES: the folder holding data/ for one size, generated unless already there.
prepare() {
  local dir
  dir=$(data_dir "$store" "$1" "$2")
  if [ ! -e "$dir/complete" ]; then
    echo "generating ${1} rows and ${2} PNGs in $dir ..." >&2
    rm -rf "$dir"
    mkdir -p "$dir/data"
    data="$dir/data" generate 0 "$1" 0 "$2"
    touch "$dir/complete"
  fi
  echo "$dir"
}
if [ -n "${GENERATE_ONLY:-}" ]; then
  [ -n "${SCALE_DATA:-}" ] || { echo "error: GENERATE_ONLY needs SCALE_DATA (where to keep the data)" >&2; exit 2; }
  for factor in $factors; do prepare $((rows * factor)) $((images * factor)) >/dev/null; done
  exit 0
fi
for factor in $factors; do
  size_rows=$((rows * factor))
  size_images=$((images * factor))
  size_label="${factor}x"
  dir=$(prepare "$size_rows" "$size_images")
  data="$dir/data"
  bytes=$(du -sb "$data" | cut -f1)
  echo "$size_label|$size_rows|$size_images|$bytes" >>"$work/sizes.txt"
  cd "$dir"
  rm -f data.lock* rows.json images.json
  a=("$antidote" --no-ledger --quiet)
  measure "lock" "${a[@]}" lock data -o data.lock
  measure "verify (unchanged)" "${a[@]}" verify data.lock
  measure "profile (images)" "${a[@]}" profile data/images -o images.json
  measure "profile (CSV)" "${a[@]}" profile data/rows.csv -o rows.json
  change
  measure "verify (5 records changed)" "${a[@]}" verify data.lock
  grep -q "records: 0 added, 0 removed, 3 modified" "$work/out.txt" || { echo "error: verify did not name the 3 changed rows:" >&2; cat "$work/out.txt" >&2; exit 1; }
  measure "check (images)" "${a[@]}" check data/images --baseline images.json
  measure "check (CSV)" "${a[@]}" check data/rows.csv --baseline rows.json
  change restore
  rm -f data.lock* rows.json images.json
  cd - >/dev/null
  # The next size needs the disk.
  [ -n "${KEEP_DATA:-}" ] || rm -rf "$dir"
done

report
cat bench/results/scale.md
