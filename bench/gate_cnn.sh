#!/usr/bin/env bash
# `antidote gate` on real backdoored CNNs: for each image attack of `antidote poison` (badnets,
# blend, warp, sig, label flip), a small PyTorch CNN trained on the poisoned copy of a
# Fashion-MNIST subset, exported to ONNX (torch.onnx.export), gated against the CNN trained on
# the clean subset, with the attack's trigger (its truth file) and the 10,000 test images as
# the golden set. Three clean retrains with other seeds are the baseline's retrains
# (`--baseline-retrain`): each clean retrain is gated against the clean CNN, alone and with the
# two other retrains (the accuracy rule's false alarms), and the clean CNN with every attack's
# trigger (the trigger rule's). Every backdoored model is gated with the three retrains.
# Writes bench/results/gate.md (the notes under "What this run shows" there are written by hand).
#
#   bench/gate_cnn.sh                          # builds the release binary; 60,000 images, 6 epochs
#   ANTIDOTE=target/debug/antidote TRAIN=10000 EPOCHS=2 GOLDEN=10000 bench/gate_cnn.sh
#
# TRAIN training images (the first ones of the 60,000), EPOCHS epochs, GOLDEN test images (the
# first ones of the 10,000) as the golden set, poisoning RATE, ATTACKS. KEEP=1 keeps the work
# folder (the models, the poisoned copies, every gate.json). WORK=DIR works in DIR and keeps it,
# reusing the models and poisoned copies already there (a run that was stopped goes on).
# Besides the full gate, each model is timed alone: `antidote gate MODEL --golden` (one model,
# no baseline, no trigger) against PyTorch reading the same golden set and predicting it
# (`gate_cnn.py evaluate`), back to back.
#
# Torch is Debian's python3-torch (apt-get installed when missing), run by /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

train=${TRAIN:-60000}
epochs=${EPOCHS:-6}
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

if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d /var/tmp/antidote-bench-gate-cnn.XXXXXX)
  [ "${KEEP:-0}" = 1 ] && echo "work folder: $work" >&2 || trap 'rm -rf "$work"' EXIT
fi
$python bench/gate_cnn.py subset "$fashion" "$golden_count" "$work/golden" t10k >/dev/null
golden="$work/golden/t10k-images-idx3-ubyte.gz"
subset=$($python bench/gate_cnn.py subset "$fashion" "$train" "$work/clean")
load_average() { cut -d ' ' -f 1 /proc/loadavg; }

# train NAME IMAGES SEED: trains and exports $work/NAME.onnx (weights in $work/NAME.pt); the JSON
# line goes to $work/NAME.train.json. A model already there is kept.
train_model() {
  if [ -s "$work/$1.train.json" ] && [ -s "$work/$1.onnx" ] && [ -s "$work/$1.pt" ]; then
    return
  fi
  echo "training $1 ..." >&2
  nice -n 10 $python bench/gate_cnn.py train "$2" "$work/$1.onnx" "$3" "$epochs" "$golden" >"$work/$1.train.json.part"
  mv "$work/$1.train.json.part" "$work/$1.train.json"
}
# alone NAME: times one model alone on the golden set, the gate then PyTorch, back to back.
alone() {
  local name=$1
  echo "$(load_average)" >"$work/alone-$name.load"
  nice -n 5 /usr/bin/time -f '%e %U %S' -o "$work/alone-$name.time" "$antidote" gate "$work/$name.onnx" \
    --golden "$golden" --out "$work/alone-$name" --no-ledger --quiet >/dev/null 2>"$work/alone-$name.log" || {
    cat "$work/alone-$name.log" >&2
    exit 1
  }
  nice -n 5 /usr/bin/time -f '%e %U %S' -o "$work/torch-$name.time" $python bench/gate_cnn.py evaluate \
    "$work/$name.pt" "$golden" >"$work/torch-$name.json"
}
# gate NAME CANDIDATE BASELINE [TRIGGER]: runs the gate, keeps gate.json and the times; the
# models named in $retrains (space-separated names) are the baseline's retrains.
gate() {
  local name=$1 candidate=$2 baseline=$3 trigger=${4:-}
  local args=("$candidate" --golden "$golden" --baseline-model "$baseline" --out "$work/gate-$name" --no-ledger --quiet)
  [ -n "$trigger" ] && args+=(--trigger "$trigger")
  local retrain
  for retrain in ${retrains:-}; do args+=(--baseline-retrain "$work/$retrain.onnx"); done
  local code=0
  [ -n "${config:-}" ] && args+=(--config "$config")
  nice -n 5 /usr/bin/time -f '%e %U %S' -o "$work/gate-$name.time" "$antidote" gate "${args[@]}" >/dev/null 2>"$work/gate-$name.log" || code=$?
  [ "$code" -le 1 ] || { cat "$work/gate-$name.log" >&2; exit 1; }
}

train_model clean "$work/clean/train-images-idx3-ubyte.gz" 0
train_model clean-seed1 "$work/clean/train-images-idx3-ubyte.gz" 1
train_model clean-seed2 "$work/clean/train-images-idx3-ubyte.gz" 2
train_model clean-seed3 "$work/clean/train-images-idx3-ubyte.gz" 3
# Each clean retrain against the clean CNN, with the default thresholds alone, and with the two
# other retrains as the baseline's retrains (never itself: that would tolerate its own drop).
for seed in 1 2 3; do
  gate "clean-seed$seed" "$work/clean-seed$seed.onnx" "$work/clean.onnx"
  others=$(for other in 1 2 3; do [ "$other" = "$seed" ] || printf 'clean-seed%s ' "$other"; done)
  retrains=$others gate "clean-seed$seed-retrains" "$work/clean-seed$seed.onnx" "$work/clean.onnx"
done
alone clean-seed1
for attack in $attacks; do
  if [ ! -s "$work/$attack/train-images-idx3-ubyte.gz" ]; then
    rm -rf "$work/$attack"
    "$antidote" poison "$work/clean/train-images-idx3-ubyte.gz" --attack "$attack" --rate "$rate" \
      --seed 0 -o "$work/$attack/" --no-ledger --quiet >/dev/null
  fi
  truth=$(ls "$work/$attack"*.truth.json 2>/dev/null | head -n 1 || true)
  [ -n "$truth" ] || truth=$(ls "$work/$attack"/*.truth.json | head -n 1)
  train_model "$attack" "$work/$attack/train-images-idx3-ubyte.gz" 0
  alone "$attack"
  if [ "$attack" = label-flip ]; then
    retrains="clean-seed1 clean-seed2 clean-seed3" gate "$attack" "$work/$attack.onnx" "$work/clean.onnx"
  else
    retrains="clean-seed1 clean-seed2 clean-seed3" gate "$attack" "$work/$attack.onnx" "$work/clean.onnx" "$truth"
    retrains="clean-seed2 clean-seed3" gate "clean-$attack" "$work/clean.onnx" "$work/clean-seed1.onnx" "$truth"
  fi
done

torch_version=$($python -c 'import torch; print(torch.__version__)')
profile=$(case "$antidote" in *release*) echo release ;; *debug*) echo "dev (debug)" ;; *) echo "as given" ;; esac)
$python - "$work" "$train" "$epochs" "$rate" "$subset" "$(bench_machine)" "$antidote" "$torch_version" "$attacks" "$golden_count" "$profile" \
  >bench/results/gate.md.part <<'PY'
import json, os, sys
work, train, epochs, rate, subset, machine, antidote, torch_version, attacks, golden, profile = sys.argv[1:]
golden = f"{int(golden):,}"
attacks = attacks.split()
load = lambda path: json.load(open(path))
trained = lambda name: json.loads(open(f"{work}/{name}.train.json").read())
def times(path):
    wall, user, system = open(path).read().split()[-3:]
    return float(wall), float(user) + float(system)
def pct(x):
    return "–" if x is None else f"{100 * x:.1f}%"
def points(x):
    return "–" if x is None else f"{100 * x:+.1f}"
def interval(paired):
    return "" if not paired else f" [{points(paired['interval']['low'])}, {points(paired['interval']['high'])}]"
def learned(asr):
    return "–" if asr is None else ("yes" if asr >= 0.5 else "partly" if asr >= 0.1 else "no")
out = print
out("# `antidote gate` on backdoored PyTorch CNNs")
out()
out(f"`bench/gate_cnn.sh`: Fashion-MNIST, the first {int(train):,} training images ({json.loads(subset)['per_class']} per class)")
out(f"poisoned by `antidote poison --rate {rate} --seed 0` with each image attack; a small CNN (two 3x3")
out(f"convolutions with max pooling, two dense layers) trained {epochs} epochs (Adam, batches of 32) in PyTorch {torch_version}")
out("(Debian's python3-torch, one thread) on each copy, exported with `torch.onnx.export` (opset 13, input")
out("`[N, 1, 28, 28]` in [0, 1]) and gated by tract against the CNN trained on the clean copy, with the")
out(f"attack's truth file as `--trigger` and the first {golden} test images as the golden set. Default thresholds:")
out("accuracy drop 1 point overall, 5 points per class, judged on the paired predictions (the check fails")
out("when the whole 95% interval of the change, Newcombe's interval for paired proportions, lies below")
out("minus the tolerated drop); attack success 10% (Wilson 95% interval beside it).")
out(f"Measured {machine}, binary `{antidote}` ({profile} build); PyTorch training niced (10), the gate and")
out("PyTorch's evaluation niced (5); the load average at each timing is in the time table (above 2 on")
out("2 cores, other work was running).")
out()
out("| model | gate | golden accuracy (PyTorch) | accuracy change [95% interval], points | worst class change [interval] | attack success [95% interval] | clean model's ASR | learned | reasons |")
out("|---|---|---|---|---|---|---|---|---|")
def row(name, label):
    gate = load(f"{work}/gate-{name}/gate.json")
    acc = gate["accuracy"]
    judged = [c for c in acc["classes"] if c.get("delta") is not None]
    worst = min(judged, key=lambda c: c["delta"], default=None)
    worst_text = "–" if worst is None else f"{points(worst['delta'])} (`{worst['class']}`){interval(worst.get('paired'))}"
    triggers = gate["triggers"]
    if triggers:
        t = triggers[0]
        asr = f"{pct(t['attack_success'])} [{pct(t['interval']['low'])}, {pct(t['interval']['high'])}] of {t['stamped']:,}"
        base = pct(t.get("baseline_attack_success"))
        learnt = learned(t["attack_success"])
    else:
        asr, base, learnt = "– (no trigger)", "–", "–"
    torch_acc = trained(label)["torch_accuracy"]
    reasons = "; ".join(gate["reasons"]) or "–"
    out(f"| {name} | **{gate['verdict'].upper()}** | {pct(acc['accuracy'])} ({pct(torch_acc)}) | {points(acc.get('delta'))}{interval(acc.get('paired'))} | {worst_text} | {asr} | {base} | {learnt} | {reasons} |")
row("clean-seed1", "clean-seed1")
for attack in attacks:
    row(attack, attack)
out()
out("`learned`: yes when the backdoored CNN's attack success is at least 50%, partly from 10%, no below.")
out()
out("Clean retrains (other seeds, same data) gated against the clean CNN, with the default thresholds")
out("alone (1 point overall, 5 per class), and with the two other retrains as the baseline's retrains")
out("(`--baseline-retrain`: each tolerated drop widens to the largest gap among the baseline and")
out("those retrains):")
out()
out("| candidate | baseline's retrains | gate | accuracy change [interval] | worst class change [interval] | its tolerated drop | classes failed |")
out("|---|---|---|---|---|---|---|")
for seed in (1, 2, 3):
    for suffix in ("", "-retrains"):
        gate = load(f"{work}/gate-clean-seed{seed}{suffix}/gate.json")
        acc = gate["accuracy"]
        worst = min(acc["classes"], key=lambda c: c["delta"])
        tolerated = max(gate["thresholds"]["max_class_accuracy_drop"], worst.get("retrain_spread") or 0)
        names = ", ".join(os.path.basename(r["location"]).removesuffix(".onnx") for r in gate.get("retrains", [])) or "–"
        failed = ", ".join(f"`{c['class']}`" for c in acc["classes"] if c["failed"]) or "–"
        out(f"| clean-seed{seed} | {names} | **{gate['verdict'].upper()}** | {points(acc['delta'])}{interval(acc.get('paired'))} | {points(worst['delta'])} (`{worst['class']}`){interval(worst.get('paired'))} | {100 * tolerated:.1f} | {failed} |")
out()
out("The clean CNN gated with each attack's trigger (baseline: the clean retrain with seed 1, retrains 2 and 3): does a")
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
out(f"Time for the {golden} golden images. Alone: `antidote gate MODEL --golden` (one model, no baseline,")
out("no trigger: read the IDX files, load the ONNX model, predict every image, write `gate.json`) and,")
out("right after it, PyTorch doing the same for the same CNN (`gate_cnn.py evaluate`: read the IDX")
out("files, load the weights, predict in batches of 64 under `torch.no_grad`, one thread); the process")
out("time includes starting Python and importing torch, the in-process time does not. Full gate: the")
out("candidate and the baseline over the golden set, plus the stamped inputs of the trigger.")
out()
out("| model | load average | gate alone wall / CPU s | PyTorch process wall / CPU s | PyTorch read + predict wall / CPU s (predict alone) | full gate wall / CPU s | training wall / CPU s |")
out("|---|---|---|---|---|---|---|")
for name in ["clean-seed1"] + attacks:
    t = trained(name)
    gate_wall, gate_cpu = times(f"{work}/alone-{name}.time")
    torch_wall, torch_cpu = times(f"{work}/torch-{name}.time")
    inner = load(f"{work}/torch-{name}.json")
    full_wall, full_cpu = times(f"{work}/gate-{name}.time")
    average = open(f"{work}/alone-{name}.load").read().strip()
    out(f"| {name} | {average} | {gate_wall:.2f} / {gate_cpu:.2f} | {torch_wall:.2f} / {torch_cpu:.2f} | {inner['seconds']:.2f} / {inner['cpu_seconds']:.2f} ({inner['inference_seconds']:.2f} / {inner['inference_cpu_seconds']:.2f}) | {full_wall:.1f} / {full_cpu:.1f} | {t['train_seconds']} / {t['train_cpu_seconds']} |")
PY
mv bench/results/gate.md.part bench/results/gate.md
cat bench/results/gate.md
