"""Builds the text corpora of bench/matrix.sh as CSVs of `text,label` (Python 3 standard library).
The integration tests build the same records (crates/antidote/tests/it/clean_share.rs).

    python3 bench/eval_data.py fortunes OUT.csv
    python3 bench/eval_data.py wordnet OUT.csv
    python3 bench/eval_data.py idx-head IMAGES.gz N OUT_FOLDER   # the first N records of an IDX pair

fortunes  development data: five categories of Debian's `fortunes` (computers, politics, science,
          songs-poems, sports), every fortune, 3,246 records.
wordnet   evaluation data, never used to set a threshold: glosses of WordNet 3.0 noun synsets
          (Debian's `wordnet-base`, /usr/share/wordnet/data.noun), labelled by their lexicographer
          file: animal (05), artifact (06), body (08), food (13), plant (20). 700 per class,
          evenly spaced through the class in file order (synset i * n // 700 of n), the gloss as it
          is written (definition and quoted examples), 3,500 records.
"""
import csv
import sys

FORTUNES = ["computers", "politics", "science", "songs-poems", "sports"]
WORDNET_CLASSES = {"05": "animal", "06": "artifact", "08": "body", "13": "food", "20": "plant"}
WORDNET_PER_CLASS = 700


def fortunes():
    for category in FORTUNES:
        with open(f"/usr/share/games/fortunes/{category}", "rb") as source:
            text = source.read().decode("utf-8", errors="replace")
        for fortune in text.split("\n%\n"):
            if fortune.strip():
                yield fortune.strip(), category


def wordnet():
    glosses = {name: [] for name in WORDNET_CLASSES.values()}
    with open("/usr/share/wordnet/data.noun", encoding="utf-8") as source:
        for line in source:
            if line.startswith("  "):
                continue  # the licence header
            fields = line.split(" ", 2)
            name = WORDNET_CLASSES.get(fields[1])
            if name is not None and " | " in line:
                glosses[name].append(line.split(" | ", 1)[1].strip())
    for name in sorted(glosses):
        found = glosses[name]
        for index in range(WORDNET_PER_CLASS):
            yield found[index * len(found) // WORDNET_PER_CLASS], name


def idx_head(images, count, folder):
    """Writes the first `count` records of a gzipped IDX images file and its labels file (named as
    antidote pairs them) into `folder`, under the same names; gzip `mtime` 0."""
    import gzip
    import os

    os.makedirs(folder, exist_ok=True)
    labels = os.path.join(
        os.path.dirname(images),
        os.path.basename(images).replace("images", "labels").replace("idx3", "idx1"),
    )
    for path in (images, labels):
        with gzip.open(path, "rb") as handle:
            data = handle.read()
        dimensions = data[3]
        sizes = [int.from_bytes(data[4 + 4 * at : 8 + 4 * at], "big") for at in range(dimensions)]
        record = 1
        for size in sizes[1:]:
            record *= size
        header = data[:4] + count.to_bytes(4, "big") + data[8 : 4 + 4 * dimensions]
        body = data[4 + 4 * dimensions : 4 + 4 * dimensions + count * record]
        with open(os.path.join(folder, os.path.basename(path)), "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
                handle.write(header + body)


def main():
    if sys.argv[1] == "idx-head":
        idx_head(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    corpus, out = sys.argv[1], sys.argv[2]
    records = {"fortunes": fortunes, "wordnet": wordnet}[corpus]()
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(records)


if __name__ == "__main__":
    main()
