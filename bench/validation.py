"""Python peers of `antidote profile` on Fashion-MNIST: pandas and whylogs.

Prints one JSON line per tool with load and profile seconds and peak memory. Used by
`bench/validation.sh`; run it there, not directly.
"""
import gzip
import json
import resource
import sys
import time

import numpy as np


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return handle.read()


def load(images_path, labels_path):
    data = read(images_path)
    count = int.from_bytes(data[4:8], "big")
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, 784)
    labels = np.frombuffer(read(labels_path), dtype=np.uint8, offset=8)
    return pixels, labels


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(tool, images_path, labels_path):
    started = time.perf_counter()
    pixels, labels = load(images_path, labels_path)
    import pandas as pd

    frame = pd.DataFrame(pixels, columns=[f"pixel{index}" for index in range(784)])
    frame["label"] = labels
    loaded = time.perf_counter()
    if tool == "pandas":
        described = frame.describe()
        counts = frame["label"].value_counts(normalize=True)
        duplicates = frame.duplicated().mean()
        result = {"columns": int(described.shape[1]), "labels": int(counts.shape[0]), "duplicate_rate": float(duplicates)}
    elif tool == "whylogs":
        import whylogs as why

        view = why.log(pandas=frame).view()
        result = {"columns": len(view.get_columns())}
    else:
        raise SystemExit(f"unknown tool {tool}")
    done = time.perf_counter()
    print(json.dumps({
        "tool": tool,
        "load_seconds": loaded - started,
        "profile_seconds": done - loaded,
        "peak_mib": peak_mib(),
        **result,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
