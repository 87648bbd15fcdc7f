# Shared by bench/scan.sh and bench/matrix.sh (sourced, not run): installing what they need,
# building antidote, timing a run on a machine that may be shared, and small formatting helpers.
# A script that sources this file sets `set -euo pipefail` and `cd`s to the repository first.

# bench_apt PACKAGE...: apt-get install the Debian packages among PACKAGE... that are missing
# (given as `package:path-it-provides`; a bare name is checked with `dpkg -s`).
bench_apt() {
  local need=() spec package path
  for spec in "$@"; do
    package=${spec%%:*}
    path=${spec#*:}
    if [ "$path" != "$spec" ]; then
      [ -e "$path" ] || need+=("$package")
    else
      dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
    fi
  done
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# bench_peers: creates or completes the virtual environment $venv with numpy, scikit-learn,
# cleanlab, adversarial-robustness-toolbox and torch, and sets $python, $torch_source and
# $peer_versions. Torch comes from PyTorch's CPU wheel index when that is reachable, else from
# Debian (`python3-torch`: the environment is rebuilt on Debian's python3 with system site packages
# and NumPy < 2, which Debian's torch is built against), else from PyPI.
venv=/var/tmp/antidote-bench-venv
bench_peers() {
  if ! "$venv/bin/python" -c 'import numpy, sklearn, cleanlab, torch, art.defences.detector.poison' 2>/dev/null; then
    echo "installing the Python peers into $venv ..." >&2
    if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
      [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
      if ! "$venv/bin/pip" install -q --retries 1 --timeout 30 torch \
          --index-url https://download.pytorch.org/whl/cpu 2>/dev/null; then
        echo "PyTorch's CPU wheel index is unreachable: trying Debian's python3-torch" >&2
        if { /usr/bin/python3 -c 'import torch' 2>/dev/null ||
             { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null; }; } &&
           /usr/bin/python3 -c 'import torch' 2>/dev/null; then
          # Debian's python3 makes virtual environments with its own python3-venv (ensurepip),
          # which the machine's other Python does not bring.
          /usr/bin/python3 -c 'import ensurepip' 2>/dev/null ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
          /usr/bin/python3 -m venv --clear --system-site-packages "$venv"
          "$venv/bin/pip" install -q "numpy<2"
        else
          echo "no Debian torch either: installing torch from PyPI" >&2
          "$venv/bin/pip" install -q torch
        fi
      fi
    fi
    # Debian's torch is built against NumPy 1: keep it below 2 when the environment uses it.
    local numpy=numpy
    "$venv/bin/python" -c 'import torch, sys; sys.exit(not torch.__file__.startswith("/usr/lib/python3/"))' \
      2>/dev/null && numpy="numpy<2"
    "$venv/bin/pip" install -q "$numpy" scikit-learn cleanlab adversarial-robustness-toolbox packaging
  fi
  python="$venv/bin/python"
  torch_source=$("$python" -c '
import torch
if torch.__file__.startswith("/usr/lib/python3/"): print("Debian python3-torch")
elif "+cpu" in torch.__version__: print("PyTorch CPU wheel index")
else: print("PyPI")')
  peer_versions=$("$python" -c '
import platform, art, cleanlab, numpy, sklearn, torch
print(f"cleanlab {cleanlab.__version__}, scikit-learn {sklearn.__version__}, adversarial-robustness-toolbox {art.__version__}, torch {torch.__version__}, numpy {numpy.__version__}, Python {platform.python_version()}")')
}

# bench_antidote: builds this tree's antidote (or takes $ANTIDOTE, a binary to measure instead)
# and sets $antidote.
bench_antidote() {
  if [ -z "${ANTIDOTE:-}" ]; then
    cargo build --release --quiet -p antidote
  fi
  antidote="${ANTIDOTE:-${CARGO_TARGET_DIR:-target}/release/antidote}"
}

# bench_machine: "2026-11-22, 2 cores, Intel(R) ..., x86_64".
bench_machine() {
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(uname -m)"
}

value() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1fx\", $1 / $2; else print \"n/a\" }"; }
mib() { echo $(($1 / 1024)); }
larger() { awk "BEGIN{print ($1 > $2) ? $1 : $2}"; }
percent() { awk "BEGIN{printf \"%.0f%%\", 100 * $1}"; }

# The machine may be shared: before each measured run, wait (at most $BENCH_QUIET_WAIT seconds,
# default 60) until other processes use less than 10% of the CPU; run it at a higher priority
# than theirs (`nice -n $BENCH_NICE`, default -10, which needs root; without it the run keeps the
# normal priority), so that their work takes little from it; and measure how much of the CPU they
# used during the run, so that a table can say when a time was taken on a busy machine.
# With the kernel's autogroup scheduling (the default on desktops and many servers), nice values
# only order processes within one session, so the whole session of the run gets the priority too
# (`/proc/self/autogroup`); bench_restore_priority puts the old one back.
bench_priority() {
  [ -w /proc/self/autogroup ] || return 0
  autogroup_nice=$(sed -n 's/.* nice //p' /proc/self/autogroup)
  echo "${BENCH_NICE:--10}" >/proc/self/autogroup 2>/dev/null || autogroup_nice=""
}
bench_restore_priority() {
  if [ -n "${autogroup_nice:-}" ]; then echo "$autogroup_nice" >/proc/self/autogroup 2>/dev/null || true; fi
}
hz=$(getconf CLK_TCK)
busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
wait_quiet() {
  local waited=0 before after
  while [ "$waited" -lt "${BENCH_QUIET_WAIT:-60}" ]; do
    before=$(busy_jiffies)
    sleep 2
    after=$(busy_jiffies)
    awk "BEGIN{exit !(($after - $before) / ($hz * 2 * $(nproc)) < 0.1)}" && return 0
    waited=$((waited + 2))
  done
  echo "the machine stayed busy for ${BENCH_QUIET_WAIT:-60} s: measuring anyway" >&2
}

# timed OUTPUT COMMAND...: runs COMMAND with its stdout in OUTPUT (stderr in OUTPUT.err) and
# prints "seconds peak_kib others": wall-clock seconds and maximum resident set of the process
# (`/usr/bin/time`), and the share of the machine's CPU that other processes used meanwhile.
# `antidote` exiting 1 (the data must not be trained on) is a result, not a failure.
timed() {
  local output=$1
  shift
  wait_quiet
  local before after
  before=$(busy_jiffies)
  nice -n "${BENCH_NICE:--10}" /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$@" >"$output" 2>"$output.err" || {
    local code=$?
    if [ "$code" -ne 1 ] || [ "$1" != "$antidote" ]; then
      echo "failed ($code): $*" >&2
      cat "$output.err" >&2
      exit 2
    fi
  }
  after=$(busy_jiffies)
  local seconds peak user system
  read -r seconds peak user system < <(tail -n 1 "$work/time.txt")
  echo "$seconds $peak $(awk "BEGIN{ o = (($after - $before) / $hz - $user - $system) / ($seconds * $(nproc) + 0.01); printf \"%.2f\", o < 0 ? 0 : o }")"
}

# verdict SUMMARY_JSON: "train" or "do not train", as `antidote scan` decided.
verdict() {
  python3 -c 'import json,sys; print("train" if json.load(open(sys.argv[1]))["verdict"]["train"] else "do not train")' "$1"
}
