"""Writes the table of bench/engine.sh: `rows` records in `files` Parquet files.

Columns: `id` (unique), `label` (10 classes, skewed), four float features, a category of 50
values and a short text; about 100 bytes per record before compression. Deterministic for a seed.
"""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    out, rows, files = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261207)
    labels = np.array([f"class-{k}" for k in range(10)])
    shares = np.array([0.2, 0.15, 0.12, 0.1, 0.1, 0.1, 0.08, 0.07, 0.05, 0.03])
    categories = np.array([f"cat-{k:02d}" for k in range(50)])
    words = np.array(["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"])
    per_file = -(-rows // files)
    chunk = 1_000_000
    start = 0
    for index in range(files):
        count = min(per_file, rows - start)
        if count <= 0:
            break
        path = out / f"part-{index:05d}.parquet"
        writer = None
        for first in range(start, start + count, chunk):
            n = min(chunk, start + count - first)
            ids = pa.array([f"r{k:011d}" for k in range(first, first + n)])
            text = [
                " ".join(row)
                for row in words[rng.integers(0, len(words), size=(n, 3))].tolist()
            ]
            table = pa.table(
                {
                    "id": ids,
                    "label": labels[rng.choice(10, size=n, p=shares)],
                    "x1": rng.normal(0.0, 1.0, n),
                    "x2": rng.normal(5.0, 2.0, n),
                    "x3": rng.exponential(1.0, n),
                    "x4": rng.integers(0, 1000, n).astype(np.float64),
                    "category": categories[rng.integers(0, 50, n)],
                    "text": text,
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=256 * 1024)
        writer.close()
        start += count


if __name__ == "__main__":
    main()
