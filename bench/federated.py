"""Flower's and ByzFL's aggregation functions and antidote's rules on the same exported client
updates.

Usage: federated.py EXPORT_DIR ANTIDOTE_BIN

EXPORT_DIR is what `antidote drill --federated --export-updates EXPORT_DIR` wrote: for each
partition and attack, every round's client updates along one rule's run (`truth.json` names the
rule and the malicious clients), the global model each round started from, and the test split.
For every round, each rule combines that round's updates once; the global model plus the
aggregate is measured on the clean test split (and, for the backdoor, on the stamped test
records). This is a one-step comparison on identical inputs: every rule sees the same updates, so
the numbers differ only by the aggregation, not by a trajectory of its own.

Flower and ByzFL are given the true number of malicious clients (their Krum, multi-Krum, Bulyan
and trimmed mean need it); antidote's rules are not (`antidote aggregate` estimates it from the anomaly scores).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import byzfl
import numpy as np
from flwr.server.strategy import aggregate as flower

FLOWER_RULES = {
    "FedAvg": lambda results, f: flower.aggregate(results),
    "FedMedian": lambda results, f: flower.aggregate_median(results),
    "FedTrimmedAvg(0.2)": lambda results, f: flower.aggregate_trimmed_avg(results, 0.2),
    "Krum": lambda results, f: flower.aggregate_krum(results, f, 0),
    "MultiKrum": lambda results, f: flower.aggregate_krum(results, f, len(results) - f),
    "Bulyan": lambda results, f: flower.aggregate_bulyan(
        results, f, flower.aggregate_krum, to_keep=0
    ),
}
# ByzFL (EPFL's Byzantine-robust FL library) where it implements one of antidote's rules, given
# the true attacker count as Flower is. Its Krum scores each update by its n - f - 1 nearest
# neighbours (Blanchard et al. use n - f - 2) and its geometric median runs 3 smoothed Weiszfeld
# steps, so those two may pick or land elsewhere than antidote's.
BYZFL_RULES = {
    "Average": lambda f: byzfl.Average(),
    "Median": lambda f: byzfl.Median(),
    "TrMean(f)": lambda f: byzfl.TrMean(f=f),
    "Krum(f)": lambda f: byzfl.Krum(f=f),
    "MultiKrum(f)": lambda f: byzfl.MultiKrum(f=f),
    "GeometricMedian": lambda f: byzfl.GeometricMedian(),
}
# The antidote rule each Flower or ByzFL rule is compared with.
COUNTERPARTS = {
    "Flower FedAvg": "mean", "Flower FedMedian": "median", "Flower Krum": "krum",
    "Flower MultiKrum": "multi-krum", "Flower Bulyan": "bulyan",
    "ByzFL Average": "mean", "ByzFL Median": "median", "ByzFL TrMean(f)": "trimmed-mean",
    "ByzFL Krum(f)": "krum", "ByzFL MultiKrum(f)": "multi-krum",
    "ByzFL GeometricMedian": "geometric-median",
}
ANTIDOTE_RULES = [
    "mean", "median", "trimmed-mean", "krum", "multi-krum", "bulyan", "geometric-median",
    "fltrust", "norm-clip",
]


def accuracy(model, features, labels, widths):
    """The share of `features` the network of layer `widths` classifies as `labels`: per layer,
    the weights (inputs x outputs, row-major) then the biases, ReLU between layers."""
    values, offset = features, 0
    layers = list(zip(widths, widths[1:]))
    for layer, (inputs, outputs) in enumerate(layers):
        weights = model[offset : offset + inputs * outputs].reshape(inputs, outputs)
        offset += inputs * outputs
        bias = model[offset : offset + outputs]
        offset += outputs
        values = values @ weights + bias
        if layer + 1 < len(layers):
            values = np.maximum(values, 0.0)
    return float(np.mean(np.argmax(values, axis=1) == labels))


def antidote_aggregates(binary, run, rule, rounds):
    """Every round's aggregate by `antidote aggregate --rule RULE`."""
    with tempfile.TemporaryDirectory() as out:
        command = [binary, "aggregate", str(run / "updates"), "--rule", rule, "--out", out,
                   "--json", "--no-ledger"]
        if rule == "fltrust":
            command += ["--root-update", str(run / "root")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
        summary = json.loads(result.stdout)
        return [np.load(round_["aggregate_path"]) for round_ in summary["rounds"]][:rounds]


def main():
    export, binary = Path(sys.argv[1]), sys.argv[2]
    test = np.load(export / "test-features.npy")
    labels = np.load(export / "test-labels.npy").astype(int)
    stamped_path = export / "test-stamped-features.npy"
    stamped = np.load(stamped_path) if stamped_path.exists() else None
    rows, agreement = [], []
    for truth_path in sorted(export.glob("*/*/truth.json")):
        run = truth_path.parent
        truth = json.loads(truth_path.read_text())
        widths, malicious = truth["widths"], len(truth["malicious"])
        round_folders = sorted((run / "updates").iterdir())
        globals_ = [np.load(run / "global" / f"{folder.name}.npy") for folder in round_folders]
        updates = [
            [np.load(path) for path in sorted(folder.glob("*.npy"))] for folder in round_folders
        ]
        measured = {}
        for name, rule in FLOWER_RULES.items():
            aggregates = [
                rule([([update], 1) for update in round_], malicious)[0] for round_ in updates
            ]
            measured["Flower " + name] = aggregates
        for name, make in BYZFL_RULES.items():
            rule = make(malicious)
            measured["ByzFL " + name] = [
                np.asarray(rule(np.stack(round_)), dtype=np.float32) for round_ in updates
            ]
        for rule in ANTIDOTE_RULES:
            measured["antidote " + rule] = antidote_aggregates(binary, run, rule, len(updates))
        for name, aggregates in measured.items():
            accuracies = [
                accuracy(start + step, test, labels, widths)
                for start, step in zip(globals_, aggregates)
            ]
            last = globals_[-1] + aggregates[-1]
            success = None
            if truth["target"] is not None and stamped is not None:
                success = accuracy(last, stamped, np.full(len(stamped), truth["target"]), widths)
            rows.append((run.parent.name, truth["attack"], name, float(np.mean(accuracies)),
                         accuracies[-1], success))
        # Agreement with antidote's counterpart on the same updates: the largest difference of
        # one-step accuracy over the rounds, and of the aggregates' coordinates.
        for name, counterpart in COUNTERPARTS.items():
            ours, theirs = measured["antidote " + counterpart], measured[name]
            accuracy_gap = max(
                abs(accuracy(start + a, test, labels, widths) - accuracy(start + b, test, labels, widths))
                for start, a, b in zip(globals_, ours, theirs)
            )
            coordinate_gap = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs))
            scale = max(float(np.max(np.abs(a))) for a in ours) or 1.0
            agreement.append((run.parent.name, truth["attack"], name, counterpart, accuracy_gap,
                              coordinate_gap / scale))
    print("| partition | attack | rule | mean one-step accuracy over rounds | last round | backdoor success (last round) |")
    print("|---|---|---|---|---|---|")
    for partition, attack, name, mean, last, success in rows:
        backdoor = "-" if success is None else f"{success:.3f}"
        print(f"| {partition} | {attack} | {name} | {mean:.3f} | {last:.3f} | {backdoor} |")
    print()
    print("Agreement with antidote's rule on the same updates (largest over rounds):")
    print()
    print("| partition | attack | rule | antidote rule | accuracy difference | coordinate difference / largest coordinate |")
    print("|---|---|---|---|---|---|")
    for partition, attack, name, counterpart, accuracy_gap, coordinate_gap in agreement:
        print(f"| {partition} | {attack} | {name} | {counterpart} | {accuracy_gap:.4f} | {coordinate_gap:.2e} |")


if __name__ == "__main__":
    main()
