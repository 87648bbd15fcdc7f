#!/usr/bin/env python3
"""Rewrites the datasets `antidote drill` embeds, byte for byte, from Debian packages.

Needs `apt-get install dataset-fashion-mnist fortunes`. Standard library only; deterministic
(gzip headers carry no name and no time), so running it again gives identical files.

- `fashion-mnist-6000-images-idx3-ubyte.gz` and `fashion-mnist-6000-labels-idx1-ubyte.gz`: the
  first 6,000 images of the Fashion-MNIST training set and their labels, in the IDX format of
  the originals (about 600 per class).
- `fortunes-5.csv.gz`: every fortune of five categories of Debian's `fortunes` (`computers`,
  `politics`, `science`, `songs-poems`, `sports`), one record per fortune with the category
  as its label: `id,label,text`.
"""
import csv
import gzip
import io
from pathlib import Path

HERE = Path(__file__).resolve().parent
FASHION = Path("/usr/share/datasets/fashion-mnist")
FORTUNES = Path("/usr/share/games/fortunes")
IMAGES = 6000
CATEGORIES = ["computers", "politics", "science", "songs-poems", "sports"]


def write_gzip(path, data):
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as handle:
            handle.write(data)


def fashion():
    images = gzip.decompress((FASHION / "train-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((FASHION / "train-labels-idx1-ubyte.gz").read_bytes())
    header = bytearray(images[:16])
    header[4:8] = IMAGES.to_bytes(4, "big")
    write_gzip(HERE / f"fashion-mnist-{IMAGES}-images-idx3-ubyte.gz",
               bytes(header) + images[16:16 + IMAGES * 28 * 28])
    header = bytearray(labels[:8])
    header[4:8] = IMAGES.to_bytes(4, "big")
    write_gzip(HERE / f"fashion-mnist-{IMAGES}-labels-idx1-ubyte.gz", bytes(header) + labels[8:8 + IMAGES])


def fortunes():
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "label", "text"])
    for category in CATEGORIES:
        text = (FORTUNES / category).read_text(encoding="utf-8", errors="replace")
        blocks = [block.strip() for block in text.split("\n%\n")]
        for index, block in enumerate(block for block in blocks if block):
            writer.writerow([f"{category}-{index:04d}", category, block])
    write_gzip(HERE / "fortunes-5.csv.gz", out.getvalue().encode("utf-8"))


if __name__ == "__main__":
    fashion()
    fortunes()
