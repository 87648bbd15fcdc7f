#!/usr/bin/env bash
# `antidote gate` on real backdoored CNNs: for each image attack of `antidote poison` (badnets,
# blend, warp, sig, label flip), a small PyTorch CNN trained on the poisoned copy of a
# Fashion-MNIST subset, exported to ONNX (torch.onnx.export), gated against the CNN trained on
# the clean subset, with the attack's trigger (its truth file) and the 10,000 test images as
# the golden set. The clean model is gated too, against a clean retrain with another seed
# (the accuracy rule's false alarms) and with every attack's trigger (the trigger rule's).
# Writes bench/results/gate.md (the notes under "What this run shows" there are written by hand).
#
#   bench/gate_cnn.sh                          # builds the release binary
#   ANTIDOTE=target/debug/antidote TRAIN=10000 EPOCHS=2 GOLDEN=10000 bench/gate_cnn.sh
#
# TRAIN training images (the first ones of the 60,000), EPOCHS epochs, GOLDEN test images (the
# first ones of the 10,000) as the golden set, poisoning RATE, ATTACKS. KEEP=1 keeps the work
# folder (the models, the poisoned copies, every gate.json).
#
# Torch is Debian's python3-torch (apt-get installed when missing), run by /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

train=${TRAIN:-10000}
epochs=${EPOCHS:-2}
golden_count=${GOLDEN:-10000}
rate=${RATE:-0.05}
attacks=${ATTACKS:-badnets blend warp sig label-flip}
fashion=/usr/share/datasets/fashion-mnist
python=/usr/bin/python3
bench_apt dataset-fashion-mnist:$fashion/train-images-idx3-ubyte.gz
if ! $python -c 'import torch' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
bench_antidote

work=$(mktemp -d /var/tmp/antidote-bench-gate-cnn.XXXXXX)
[ "${KEEP:-0}" = 1 ] && echo "work folder: $work" >&2 || trap 'rm -rf "$work"' EXIT
$python bench/gate_cnn.py subset "$fashion" "$golden_count" "$work/golden" t10k >/dev/null
golden="$work/golden/t10k-images-idx3-ubyte.gz"
subset=$($python bench/gate_cnn.py subset "$fashion" "$train" "$work/clean")

# train NAME IMAGES SEED: trains and exports $work/NAME.onnx; the JSON line goes to $work/NAME.train.json.
train_model() {
  echo "training $1 ..." >&2
  $python bench/gate_cnn.py train "$2" "$work/$1.onnx" "$3" "$epochs" "$golden" >"$work/$1.train.json"
}
# gate NAME CANDIDATE BASELINE [TRIGGER]: runs the gate, keeps gate.json and the times.
gate() {
  local name=$1 candidate=$2 baseline=$3 trigger=${4:-}
  local args=("$candidate" --golden "$golden" --baseline-model "$baseline" --out "$work/gate-$name" --no-ledger --quiet)
  [ -n "$trigger" ] && args+=(--trigger "$trigger")
  local code=0
  /usr/bin/time -f '%e %U %S' -o "$work/gate-$name.time" "$antidote" gate "${args[@]}" >/dev/null 2>"$work/gate-$name.log" || code=$?
  [ "$code" -le 1 ] || { cat "$work/gate-$name.log" >&2; exit 1; }
}

train_model clean "$work/clean/train-images-idx3-ubyte.gz" 0
train_model clean-seed1 "$work/clean/train-images-idx3-ubyte.gz" 1
gate clean-seed1 "$work/clean-seed1.onnx" "$work/clean.onnx"
for attack in $attacks; do
  "$antidote" poison "$work/clean/train-images-idx3-ubyte.gz" --attack "$attack" --rate "$rate" \
    --seed 0 -o "$work/$attack/" --no-ledger --quiet >/dev/null
  truth=$(ls "$work/$attack"*.truth.json 2>/dev/null | head -n 1 || true)
  [ -n "$truth" ] || truth=$(ls "$work/$attack"/*.truth.json | head -n 1)
  train_model "$attack" "$work/$attack/train-images-idx3-ubyte.gz" 0
  if [ "$attack" = label-flip ]; then
    gate "$attack" "$work/$attack.onnx" "$work/clean.onnx"
  else
    gate "$attack" "$work/$attack.onnx" "$work/clean.onnx" "$truth"
    gate "clean-$attack" "$work/clean.onnx" "$work/clean-seed1.onnx" "$truth"
  fi
done

torch_version=$($python -c 'import torch; print(torch.__version__)')
$python - "$work" "$train" "$epochs" "$rate" "$subset" "$(bench_machine)" "$antidote" "$torch_version" "$attacks" "$golden_count" \
  >bench/results/gate.md <<'PY'
import json, os, sys
work, train, epochs, rate, subset, machine, antidote, torch_version, attacks, golden = sys.argv[1:]
golden = f"{int(golden):,}"
attacks = attacks.split()
load = lambda path: json.load(open(path))
trained = lambda name: json.loads(open(f"{work}/{name}.train.json").read())
def times(name):
    wall, user, system = open(f"{work}/gate-{name}.time").read().split()[-3:]
    return float(wall), float(user) + float(system)
def pct(x):
    return "–" if x is None else f"{100 * x:.1f}%"
def points(x):
    return "–" if x is None else f"{100 * x:+.1f}"
out = print
out("# `antidote gate` on backdoored PyTorch CNNs")
out()
out(f"`bench/gate_cnn.sh`: Fashion-MNIST, the first {int(train):,} training images ({json.loads(subset)['per_class']} per class)")
out(f"poisoned by `antidote poison --rate {rate} --seed 0` with each image attack; a small CNN (two 3x3")
out(f"convolutions with max pooling, two dense layers) trained {epochs} epochs (Adam, batches of 32) in PyTorch {torch_version}")
out("(Debian's python3-torch, one thread) on each copy, exported with `torch.onnx.export` (opset 13, input")
out("`[N, 1, 28, 28]` in [0, 1]) and gated by tract against the CNN trained on the clean subset, with the")
out(f"attack's truth file as `--trigger` and the first {golden} test images as the golden set. Default thresholds:")
out("accuracy drop 1 point overall, 5 points per class; attack success 10% (Wilson 95% interval).")
out(f"Measured {machine}, binary `{antidote}`, niced on a machine shared with six other engineers'")
out("builds and tests (load average 20-40 on 2 cores): wall times are inflated, CPU times less so.")
out()
out("| model | gate | golden accuracy (PyTorch) | accuracy delta | worst class delta | attack success [95% interval] | clean model's ASR | reasons |")
out("|---|---|---|---|---|---|---|---|")
def row(name, label):
    gate = load(f"{work}/gate-{name}/gate.json")
    acc = gate["accuracy"]
    worst = min((c.get("delta") for c in acc["classes"] if c.get("delta") is not None), default=None)
    triggers = gate["triggers"]
    if triggers:
        t = triggers[0]
        asr = f"{pct(t['attack_success'])} [{pct(t['interval']['low'])}, {pct(t['interval']['high'])}] of {t['stamped']:,}"
        base = pct(t.get("baseline_attack_success"))
    else:
        asr, base = "– (no trigger)", "–"
    torch_acc = trained(label)["torch_accuracy"]
    reasons = "; ".join(gate["reasons"]) or "–"
    out(f"| {name} | **{gate['verdict'].upper()}** | {pct(acc['accuracy'])} ({pct(torch_acc)}) | {points(acc.get('delta'))} | {points(worst)} | {asr} | {base} | {reasons} |")
row("clean-seed1", "clean-seed1")
for attack in attacks:
    row(attack, attack)
out()
out("The clean CNN gated with each attack's trigger (baseline: the clean retrain with seed 1): does a")
out("trigger that was never planted pass the trigger check? (The verdict also carries the accuracy")
out("checks against the retrain.)")
out()
out("| trigger | trigger check | attack success [95% interval] | gate (all checks) |")
out("|---|---|---|---|")
for attack in attacks:
    if attack == "label-flip":
        continue
    gate = load(f"{work}/gate-clean-{attack}/gate.json")
    t = gate["triggers"][0]
    check = "fails" if t["failed"] else "passes"
    out(f"| {attack}: {t['description']} | {check} | {pct(t['attack_success'])} [{pct(t['interval']['low'])}, {pct(t['interval']['high'])}] of {t['stamped']:,} | {gate['verdict'].upper()} |")
out()
out(f"Time: training (PyTorch, per model) and the gate (candidate and baseline over the {golden} golden")
out("images, plus the stamped inputs of the trigger) against PyTorch evaluating the same CNN on the")
out(f"{golden} golden images once (batches of 64, `torch.no_grad`):")
out()
out("| model | training wall / CPU s | gate wall / CPU s | PyTorch eval wall / CPU s |")
out("|---|---|---|---|")
for attack in ["clean-seed1"] + attacks:
    t = trained(attack)
    wall, cpu = times(attack)
    out(f"| {attack} | {t['train_seconds']} / {t['train_cpu_seconds']} | {wall:.1f} / {cpu:.1f} | {t['torch_eval_seconds']} / {t['torch_eval_cpu_seconds']} |")
PY
cat bench/results/gate.md
