"""The Python pipelines bench/scan.sh and bench/matrix.sh run beside `antidote scan`, on the same
poisoned copy. Each mode writes the ids it flags (one per line; IDX ids are record positions, as
antidote names them) and prints one line of `key=value` timings.

    python bench/scan_peers.py cleanlab DATA FLAGGED
    python bench/scan_peers.py art-train IMAGES MODEL
    python bench/scan_peers.py art-defence {activation,spectral} IMAGES MODEL FLAGGED

cleanlab   the pipeline cleanlab's documentation shows: 5-fold out-of-sample probabilities from
           scikit-learn (`cross_val_predict(LogisticRegression(), X, labels, cv=5,
           method="predict_proba")`), then `cleanlab.filter.find_label_issues(labels, pred_probs)`
           with its defaults. X is pixels / 255 for IDX images, TF-IDF (`TfidfVectorizer()`
           defaults) of the `text` column for a CSV with `text,label`.
art-train  the small PyTorch CNN of ART's `get_started_pytorch.py` (two 5x5 convolutions with 4
           and 10 channels, max pooling, a 100-unit hidden layer), wrapped in ART's
           `PyTorchClassifier` and fitted on the poisoned data as that example does (Adam, lr 0.01,
           batch 64, 3 epochs); saves its weights to MODEL.
art-defence  ART's `ActivationDefence` or `SpectralSignatureDefense` with their default parameters
           around the saved CNN; a record is flagged when the defence marks it as poison
           (`is_clean_lst[i] == 0`).

The CNN is an `nn.Sequential`, so that ART sees its layers; both defences read the last one by
default. Torch uses every core (`torch.set_num_threads(os.cpu_count())`).
"""
import time

# Before the imports: a peer's time includes importing its libraries, as a user's run does.
STARTED = time.perf_counter()

import csv  # noqa: E402
import gzip
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

SEED = 0


def open_maybe_gzip(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def labels_path(images):
    """The IDX labels file paired with an images file, as antidote pairs them."""
    folder, name = os.path.split(images)
    return os.path.join(folder, name.replace("images", "labels").replace("idx3", "idx1"))


def read_idx(images):
    """Pixels (n x 784, uint8) and labels (n, int64) of an IDX pair."""
    with open_maybe_gzip(images) as handle:
        data = handle.read()
    count, rows, cols = (int.from_bytes(data[at : at + 4], "big") for at in (4, 8, 12))
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows * cols)
    with open_maybe_gzip(labels_path(images)) as handle:
        labels = np.frombuffer(handle.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return pixels, labels, (rows, cols)


def read_text_csv(path):
    """Texts, integer labels and ids of a CSV with `text` and `label` columns (ids: the `id`
    column, else the record position, as antidote names them)."""
    texts, names, ids = [], [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for position, row in enumerate(csv.DictReader(handle)):
            texts.append(row["text"])
            names.append(row["label"])
            ids.append(row.get("id") or str(position))
    classes = sorted(set(names))
    labels = np.array([classes.index(name) for name in names], dtype=np.int64)
    return texts, labels, ids


def write_ids(path, ids):
    with open(path, "w", encoding="utf-8") as handle:
        for record_id in ids:
            handle.write(f"{record_id}\n")


def cleanlab_mode(data, flagged):
    from cleanlab.filter import find_label_issues
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    start = time.perf_counter()
    if data.endswith(".csv"):
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts, labels, ids = read_text_csv(data)
        features = TfidfVectorizer().fit_transform(texts)
    else:
        pixels, labels, _ = read_idx(data)
        features = pixels / 255.0
        ids = [str(position) for position in range(len(labels))]
    load = time.perf_counter() - start

    # scikit-learn's default max_iter=100 stops before converging on the images; the warning
    # says so and nothing else.
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    pred_probs = cross_val_predict(
        LogisticRegression(), features, labels, cv=5, method="predict_proba"
    )
    oos = time.perf_counter() - start
    start = time.perf_counter()
    issues = find_label_issues(labels, pred_probs)
    find = time.perf_counter() - start
    write_ids(flagged, [ids[index] for index in np.flatnonzero(issues)])
    accuracy = float(np.mean(pred_probs.argmax(axis=1) == labels))
    print(
        f"records={len(labels)} load_seconds={load:.3f} oos_seconds={oos:.3f} "
        f"find_seconds={find:.3f} flagged={int(issues.sum())} oos_accuracy={accuracy:.4f}"
    )


def art_setup(images):
    """The data in ART's shape, and an untrained CNN inside a `PyTorchClassifier`."""
    import torch
    from torch import nn

    from art.estimators.classification import PyTorchClassifier

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    pixels, labels, (rows, cols) = read_idx(images)
    x = (pixels / 255.0).astype(np.float32).reshape(-1, 1, rows, cols)
    classes = int(labels.max()) + 1
    y = np.eye(classes, dtype=np.float32)[labels]
    side = ((rows - 4) // 2 - 4) // 2
    model = nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=5, stride=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(4, 10, kernel_size=5, stride=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(side * side * 10, 100),
        nn.ReLU(),
        nn.Linear(100, classes),
    )
    classifier = PyTorchClassifier(
        model=model,
        clip_values=(0.0, 1.0),
        loss=nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(model.parameters(), lr=0.01),
        input_shape=(1, rows, cols),
        nb_classes=classes,
    )
    return x, y, labels, model, classifier


def art_train_mode(images, model_path):
    import torch

    start = time.perf_counter()
    x, y, labels, model, classifier = art_setup(images)
    load = time.perf_counter() - start
    start = time.perf_counter()
    classifier.fit(x, y, batch_size=64, nb_epochs=3)
    train = time.perf_counter() - start
    # Imports, reading the data and training: what a defence needs before it can run.
    ready = time.perf_counter() - STARTED
    accuracy = float(np.mean(classifier.predict(x, batch_size=512).argmax(axis=1) == labels))
    torch.save(model.state_dict(), model_path)
    print(
        f"records={len(labels)} load_seconds={load:.3f} train_seconds={train:.3f} "
        f"ready_seconds={ready:.3f} train_accuracy={accuracy:.4f} threads={torch.get_num_threads()}"
    )


def art_defence_mode(defence, images, model_path, flagged):
    import torch

    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense

    start = time.perf_counter()
    x, y, labels, model, classifier = art_setup(images)
    model.load_state_dict(torch.load(model_path))
    load = time.perf_counter() - start
    start = time.perf_counter()
    if defence == "activation":
        _, is_clean = ActivationDefence(classifier, x, y).detect_poison()
    elif defence == "spectral":
        _, is_clean = SpectralSignatureDefense(classifier, x, y).detect_poison()
    else:
        raise SystemExit(f"unknown defence `{defence}` (activation, spectral)")
    seconds = time.perf_counter() - start
    poison = np.flatnonzero(np.asarray(is_clean) == 0)
    write_ids(flagged, [str(position) for position in poison])
    print(
        f"records={len(labels)} load_seconds={load:.3f} defence_seconds={seconds:.3f} "
        f"flagged={len(poison)}"
    )


def main():
    mode, arguments = sys.argv[1], sys.argv[2:]
    if mode == "cleanlab":
        cleanlab_mode(*arguments)
    elif mode == "art-train":
        art_train_mode(*arguments)
    elif mode == "art-defence":
        art_defence_mode(*arguments)
    else:
        raise SystemExit(f"unknown mode `{mode}` (cleanlab, art-train, art-defence)")


if __name__ == "__main__":
    main()
