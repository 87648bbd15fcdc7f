"""whylogs' profile of the table of bench/engine.sh, on pandas chunks: each file read with
pyarrow, profiled with `whylogs.log(pandas=...)`, the profiles merged, as its documentation
shows for data larger than memory. Prints the record count whylogs saw."""

import sys
from pathlib import Path

import pyarrow.parquet as pq
import whylogs as why


def main() -> None:
    merged = None
    for path in sorted(Path(sys.argv[1]).glob("*.parquet")):
        reader = pq.ParquetFile(path)
        for batch in reader.iter_batches(batch_size=1_000_000):
            view = why.log(pandas=batch.to_pandas()).view()
            merged = view if merged is None else merged.merge(view)
    counts = merged.get_column("id").get_metric("counts").n.value
    print(counts)


if __name__ == "__main__":
    main()
