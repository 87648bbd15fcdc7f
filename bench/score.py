"""Scores a set of flagged records against the ground truth `antidote poison` wrote, for
bench/scan.sh and bench/matrix.sh (Python 3 standard library only).

    python3 bench/score.py TRUTH FLAGGED [--records N]

TRUTH is an `OUT.truth.json` (its `poisoned` ids), or `none` for clean data.
FLAGGED is one of:
  findings:PATH            every record in an `antidote scan` findings.jsonl
  quarantine:PATH          the records of the quarantine tier (`"tier": "quarantine"`, or
                           `"quarantine": true` in files older than the tiers)
  review:PATH              the records of the review tier
  detector:NAMES:PATH      the records in findings.jsonl that any detector of NAMES (comma
                           separated) flagged
  ids:PATH                 a file with one flagged id per line (what bench/scan_peers.py writes)

Prints one line of `key=value` pairs: `flagged`, `truth`, `caught` (flagged and poisoned),
`precision`, `recall`, `f1` (`-` where undefined: no truth, or nothing flagged) and, with
`--records`, `flagged_share` (flagged / N).
"""
import argparse
import json


def truth_ids(path):
    """The poisoned ids of a truth file (an empty set for `none`)."""
    if path == "none":
        return set()
    with open(path, encoding="utf-8") as handle:
        poisoned = json.load(handle)["poisoned"]
    return {entry if isinstance(entry, str) else entry["id"] for entry in poisoned}


def flagged_ids(spec):
    """The flagged ids named by a `kind:...:path` specification (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    if kind == "ids":
        with open(rest, encoding="utf-8") as handle:
            return {line.strip() for line in handle if line.strip()}
    detectors = None
    if kind == "detector":
        names, _, rest = rest.partition(":")
        detectors = set(names.split(","))
    elif kind not in ("findings", "quarantine", "review"):
        raise SystemExit(
            f"unknown flagged-set kind `{kind}` (findings, quarantine, review, detector, ids)"
        )
    flagged = set()
    with open(rest, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            finding = json.loads(line)
            tier = finding.get("tier") or ("quarantine" if finding.get("quarantine") else "review")
            if kind in ("quarantine", "review") and tier != kind:
                continue
            if detectors is not None and not detectors & set(finding.get("detectors", [])):
                continue
            flagged.add(str(finding["id"]))
    return flagged


def score(flagged, truth):
    """Counts, precision, recall and F1 of `flagged` against `truth` (None where undefined)."""
    caught = len(flagged & truth)
    precision = caught / len(flagged) if flagged and truth else None
    recall = caught / len(truth) if truth else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    elif truth:
        # Nothing flagged: precision is undefined, but nothing was caught.
        f1 = 0.0
    return {
        "flagged": len(flagged),
        "truth": len(truth),
        "caught": caught,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("truth")
    parser.add_argument("flagged")
    parser.add_argument("--records", type=int)
    args = parser.parse_args()
    result = score(flagged_ids(args.flagged), truth_ids(args.truth))
    if args.records:
        result["flagged_share"] = result["flagged"] / args.records
    print(
        " ".join(
            f"{key}={'-' if value is None else (f'{value:.3f}' if isinstance(value, float) else value)}"
            for key, value in result.items()
        )
    )


if __name__ == "__main__":
    main()
