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
#
# Needs python3 and /usr/bin/time (installed with apt-get when missing). Disk: the 4x data
# takes about (ROWS * 4 * TEXT_BYTES) bytes plus 4 * IMAGES files; the script refuses to start
# when that would leave less than 8 GB free, and deletes everything it generated on exit.
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

# Disk: the largest size's CSV, PNGs (about 4 KiB of blocks each), lock sidecar (~2x the
# records' entries) and sort runs, plus 8 GB to keep free.
need_kib=$(( (rows * largest * (text_bytes + 40) * 3 + images * largest * 4096 * 2) / 1024 + 8 * 1024 * 1024 ))
free_kib=$(df -Pk /var/tmp | awk 'NR==2 {print $4}')
if [ "$free_kib" -lt "$need_kib" ]; then
  echo "error: the benchmark needs about $((need_kib / 1024 / 1024)) GB free in /var/tmp (8 GB of them kept free); $((free_kib / 1024 / 1024)) GB are" >&2
  exit 2
fi

# BUILD=dev measures the dev profile (dependencies optimised, antidote's crates at opt-level 1)
# when a release build is out of reach; memory is the same, seconds are slower.
build=${BUILD:-release}
if [ -n "${ANTIDOTE:-}" ]; then
  antidote=$(realpath "$ANTIDOTE")  # a binary already built (say which with BUILD)
elif [ "$build" = dev ]; then
  cargo build --quiet -p antidote
  antidote="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/antidote"
else
  cargo build --release --quiet -p antidote
  antidote="$(realpath "${CARGO_TARGET_DIR:-target}")/release/antidote"
fi

work="$(mktemp -d /var/tmp/antidote-scale.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The external sort of a changed dataset writes its runs to TMPDIR: keep them on this disk.
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"

# generate ROWS IMAGES: data/rows.csv and data/images/<class>/<n>.png, deterministic.
generate() {
  python3 - "$work/data" "$1" "$2" "$text_bytes" <<'PY'
import os, random, struct, sys, zlib
root, rows, images, text_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(root, exist_ok=True)
rng = random.Random(14)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(3, 9))) for _ in range(5000)]
labels = ['cat', 'dog', 'bird', 'fish']
with open(os.path.join(root, 'rows.csv'), 'w', buffering=1 << 20) as out:
    out.write('id,label,text,x,y\n')
    chunk = []
    for n in range(rows):
        text, length = [], 0
        while length < text_bytes:
            word = words[(n * 7919 + length * 31) % 5000]
            text.append(word)
            length += len(word) + 1
        chunk.append(f'r{n:09d},{labels[n % 4]},{" ".join(text)},{(n * 37) % 1000 / 10},{n % 97}\n')
        if len(chunk) == 10000:
            out.write(''.join(chunk)); chunk = []
    out.write(''.join(chunk))

def png(width, height, pixels):
    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
    raw = b''.join(b'\x00' + pixels[y * width:(y + 1) * width] for y in range(height))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw, 1)) + chunk(b'IEND', b''))

for label in labels:
    os.makedirs(os.path.join(root, 'images', label), exist_ok=True)
for n in range(images):
    label = labels[n % 4]
    seed = (n * 2654435761) & 0xFFFFFFFF
    pixels = bytes(((seed >> (i % 24)) + i * 13) & 0xFF for i in range(16 * 16))
    with open(os.path.join(root, 'images', label, f'{n:08d}.png'), 'wb') as out:
        out.write(png(16, 16, pixels))
PY
}

# change: three CSV rows get another label, two images other pixels.
change() {
  python3 - "$work/data" <<'PY'
import os, sys, zlib, struct
root = sys.argv[1]
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
for name in ('cat/00000000.png', 'dog/00000001.png'):
    image = os.path.join(root, 'images', name)
    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
    raw = b''.join(b'\x00' + bytes([255] * 16) for _ in range(16))
    with open(image, 'wb') as out:
        out.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 16, 16, 8, 0, 0, 0, 0))
                  + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY
}

# measure NAME COMMAND...: runs once, appends "NAME seconds peak_kib exit" to $work/runs.txt.
measure() {
  local name=$1 code=0
  shift
  echo "  $name ..." >&2
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || code=$?
  if [ "$code" -gt 1 ]; then
    echo "error: \`$name\` exited $code:" >&2
    cat "$work/err.txt" >&2
    exit 1
  fi
  echo "$size_label|$name|$(tail -n 1 "$work/time.txt" | tr ' ' '|')|$code" >>"$work/runs.txt"
}

: >"$work/runs.txt"
for factor in $factors; do
  size_rows=$((rows * factor))
  size_images=$((images * factor))
  size_label="${factor}x"
  echo "generating ${size_rows} rows and ${size_images} PNGs ..." >&2
  rm -rf "$work/data" "$work"/*.lock* "$work"/*.json
  generate "$size_rows" "$size_images"
  bytes=$(du -sb "$work/data" | cut -f1)
  echo "$size_label|$size_rows|$size_images|$bytes" >>"$work/sizes.txt"
  cd "$work"
  a=("$antidote" --no-ledger --quiet)
  measure "lock" "${a[@]}" lock data -o data.lock
  measure "verify (unchanged)" "${a[@]}" verify data.lock
  measure "profile (CSV)" "${a[@]}" profile data/rows.csv -o rows.json
  measure "profile (images)" "${a[@]}" profile data/images -o images.json
  change
  measure "verify (5 records changed)" "${a[@]}" verify data.lock
  grep -q "records: 0 added, 0 removed, 3 modified" "$work/out.txt" || { echo "error: verify did not name the 3 changed rows:" >&2; cat "$work/out.txt" >&2; exit 1; }
  measure "check (CSV)" "${a[@]}" check data/rows.csv --baseline rows.json
  measure "check (images)" "${a[@]}" check data/images --baseline images.json
  cd - >/dev/null
done

{
  echo "# Scale benchmark"
  echo
  echo "Generated by \`bench/scale.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores (shared with other jobs), $build build."
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
  echo "| command |$(for f in $factors; do printf ' %sx seconds | %sx peak MiB |' "$f" "$f"; done)"
  echo "|---|$(for _ in $factors; do printf -- '---|---|'; done)"
  cut -d'|' -f2 "$work/runs.txt" | awk '!seen[$0]++' | while read -r name; do
    printf '| %s |' "$name"
    for f in $factors; do
      line=$(grep -F "${f}x|$name|" "$work/runs.txt" | head -n 1)
      seconds=$(echo "$line" | cut -d'|' -f3)
      kib=$(echo "$line" | cut -d'|' -f4)
      printf ' %s | %s |' "$seconds" "$((kib / 1024))"
    done
    echo
  done
} >bench/results/scale.md
cat bench/results/scale.md
