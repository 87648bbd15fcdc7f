"""Flower's aggregation functions and antidote's rules on the same exported client updates.

Usage: federated.py EXPORT_DIR ANTIDOTE_BIN

EXPORT_DIR is what `antidote drill --federated --export-updates EXPORT_DIR` wrote: for each
partition and attack, every round's client updates along one rule's run (`truth.json` names the
rule and the malicious clients), the global model each round started from, and the test split.
For every round, each rule combines that round's updates once; the global model plus the
aggregate is measured on the clean test split (and, for the backdoor, on the stamped test
records). This is a one-step comparison on identical inputs: every rule sees the same updates, so
the numbers differ only by the aggregation, not by a trajectory of its own.

Flower is given the true number of malicious clients (its Krum, multi-Krum and Bulyan need it);
antidote's rules are not (`antidote aggregate` estimates it from the anomaly scores).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

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
ANTIDOTE_RULES = [
    "mean", "median", "trimmed-mean", "krum", "multi-krum", "bulyan", "geometric-median",
    "fltrust", "norm-clip",
]


def accuracy(model, features, labels, classes):
    dims = features.shape[1]
    weights = model[: classes * dims].reshape(classes, dims)
    bias = model[classes * dims :]
    predicted = np.argmax(features @ weights.T + bias, axis=1)
    return float(np.mean(predicted == labels))


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
    rows = []
    for truth_path in sorted(export.glob("*/*/truth.json")):
        run = truth_path.parent
        truth = json.loads(truth_path.read_text())
        classes, malicious = truth["classes"], len(truth["malicious"])
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
        for rule in ANTIDOTE_RULES:
            measured["antidote " + rule] = antidote_aggregates(binary, run, rule, len(updates))
        for name, aggregates in measured.items():
            accuracies = [
                accuracy(start + step, test, labels, classes)
                for start, step in zip(globals_, aggregates)
            ]
            last = globals_[-1] + aggregates[-1]
            success = None
            if truth["target"] is not None and stamped is not None:
                success = accuracy(last, stamped, np.full(len(stamped), truth["target"]), classes)
            rows.append((run.parent.name, truth["attack"], name, float(np.mean(accuracies)),
                         accuracies[-1], success))
    print("| partition | attack | rule | mean one-step accuracy over rounds | last round | backdoor success (last round) |")
    print("|---|---|---|---|---|---|")
    for partition, attack, name, mean, last, success in rows:
        backdoor = "-" if success is None else f"{success:.3f}"
        print(f"| {partition} | {attack} | {name} | {mean:.3f} | {last:.3f} | {backdoor} |")


if __name__ == "__main__":
    main()
