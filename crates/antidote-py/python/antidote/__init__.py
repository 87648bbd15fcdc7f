"""antidote: defend ML training data against poisoning, from Python.

The functions call antidote's Rust libraries in-process (the same code as the ``antidote``
command line, no subprocess):

- ``lock(paths)`` / ``verify(lock)``: pin files and datasets by content (SHA-256 per file, a
  Merkle root per dataset) and check later that nothing changed;
- ``profile(data)`` / ``check(data, baseline)``: mergeable dataset profiles, and drift, schema
  and label checks of new data against a baseline;
- ``scan(X, labels=..., text=..., images=..., pred_probs=..., features=...)``: find poisoned
  records; the findings come back as a pandas DataFrame (or an Arrow table);
- ``find_label_issues(labels, pred_probs)``: cleanlab's ``find_label_issues``, same signature,
  same result;
- ``poison(data, attack)``: a reproducible poisoned copy and the truth of what was poisoned.

Errors raise ``AntidoteError`` subclasses whose message is the command line's (``error:`` and
``Caused by:`` lines); ``error.hint`` is its ``hint:`` line.

>>> import antidote
>>> lock = antidote.lock(["data/train.csv"], "antidote.lock")   # doctest: +SKIP
>>> antidote.verify(lock).passed                                 # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pyarrow as pa

from antidote import _native
from antidote._native import (
    AntidoteError,
    CheckError,
    DataError,
    LabelIssuesError,
    LockError,
    PoisonError,
    ProfileError,
    ScanError,
)

__version__ = _native.__version__

__all__ = [
    "AntidoteError",
    "CheckError",
    "DataError",
    "LabelIssuesError",
    "LockError",
    "PoisonError",
    "ProfileError",
    "ScanError",
    "Check",
    "Lock",
    "Verification",
    "check",
    "find_label_issues",
    "lock",
    "poison",
    "profile",
    "scan",
    "verify",
]

PathLike = Union[str, "os.PathLike[str]"]


def _read_options(
    *,
    label: Optional[str] = None,
    id: Optional[str] = None,
    text: Optional[str] = None,
    image: Optional[str] = None,
    source: Optional[str] = None,
    embedding: Optional[str] = None,
    skip_bad: bool = False,
    format: Optional[str] = None,
) -> str:
    """Reading options in the JSON form of ``antidote_data::ReadOptions``."""
    roles = {
        "id": id,
        "label": label,
        "text": text,
        "image": image,
        "source": source,
        "embedding": embedding,
    }
    return json.dumps({"format": format, "roles": roles, "skip_bad": skip_bad})


def _is_path(data: Any) -> bool:
    return isinstance(data, (str, os.PathLike))


def _as_table(data: Any) -> pa.Table:
    """A pandas DataFrame, a pyarrow Table or RecordBatch, or a mapping of columns, as a Table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, Mapping):
        return pa.table({name: _column(values) for name, values in data.items()})
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is optional
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise AntidoteError(f"`X` has {data.ndim} dimensions, expected 2 (records x features)")
        return pa.table({f"x{index}": data[:, index] for index in range(data.shape[1])})
    raise TypeError(
        "expected a path, a pandas DataFrame, a pyarrow Table or a 2-D NumPy array, "
        f"not {type(data).__name__}"
    )


def _column(values: Any) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    try:
        import pandas as pd

        if isinstance(values, pd.Series):
            return pa.Array.from_pandas(values)
    except ImportError:  # pragma: no cover
        pass
    return pa.array(values)


class _Staged:
    """A table written to a temporary Parquet file, for the readers the command line uses."""

    def __init__(self, table: pa.Table):
        import pyarrow.parquet as pq

        self._folder = tempfile.TemporaryDirectory(prefix="antidote-")
        self.path = os.path.join(self._folder.name, "data.parquet")
        pq.write_table(table, self.path)

    def __enter__(self) -> "_Staged":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._folder.cleanup()


# ---------------------------------------------------------------------------------------------
# Layer 1: provenance


@dataclass
class Lock:
    """A lock: every file's SHA-256 and every dataset's Merkle root (``antidote.lock``)."""

    path: Path
    document: dict = field(repr=False)

    @property
    def files(self) -> list:
        """Every file: ``path``, ``size``, ``sha256`` (``sha256:<hex>``).

        A lock of more than 10 000 files (format version 2) keeps them in its files sidecar
        (``file_list``), which is read here, whole: iterate ``open(...)`` over the sidecar's
        lines instead for millions of files.
        """
        file_list = self.document.get("file_list")
        if not file_list:
            return self.document["files"]
        sidecar = Path(file_list["path"])
        if not sidecar.is_absolute():
            sidecar = self.path.parent / sidecar
        with open(sidecar, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]

    @property
    def datasets(self) -> list:
        """Every dataset: ``path``, ``format``, ``record_count``, ``merkle_root`` and more."""
        return self.document["datasets"]

    @property
    def merkle_root(self) -> Optional[str]:
        """The Merkle root of the one dataset locked (``blake3:<hex>``); ``None`` without one.

        With several datasets, read each one's ``merkle_root`` in ``datasets``.
        """
        if len(self.datasets) == 1:
            return self.datasets[0]["merkle_root"]
        if not self.datasets:
            return None
        raise AntidoteError(
            f"the lock `{self.path}` holds {len(self.datasets)} datasets; read each one's "
            "`merkle_root` in `Lock.datasets`"
        )

    @classmethod
    def read(cls, path: PathLike) -> "Lock":
        """Reads a lock file written by ``lock`` or ``antidote lock``."""
        with open(path, encoding="utf-8") as file:
            return cls(Path(path), json.load(file))


def lock(
    paths: Union[PathLike, Sequence[PathLike]],
    output: PathLike = "antidote.lock",
    *,
    files_only: bool = False,
    label: Optional[str] = None,
    id: Optional[str] = None,
    text: Optional[str] = None,
    image: Optional[str] = None,
    source: Optional[str] = None,
    embedding: Optional[str] = None,
    skip_bad: bool = False,
) -> Lock:
    """Locks files and datasets (``antidote lock PATHS -o OUTPUT``) and returns the lock.

    Writes ``output`` and its records sidecar (``OUTPUT.records.jsonl``), which make later
    verification record-level.
    """
    if _is_path(paths):
        paths = [paths]
    read = _read_options(
        label=label, id=id, text=text, image=image, source=source, embedding=embedding,
        skip_bad=skip_bad,
    )
    document = _native.lock([os.fspath(path) for path in paths], os.fspath(output), read, files_only)
    return Lock(Path(output), json.loads(document))


@dataclass
class Verification:
    """What ``verify`` found: ``passed``, and the report of every difference."""

    passed: bool
    report: dict = field(repr=False)

    def __bool__(self) -> bool:
        return self.passed


def verify(lock: Union[Lock, PathLike] = "antidote.lock", *, pubkey: Optional[PathLike] = None) -> Verification:
    """Verifies the data against a lock (``antidote verify LOCK``); with ``pubkey``, its signature too.

    Returns a ``Verification`` (falsy when something changed); raises only when the lock
    cannot be read.
    """
    path = lock.path if isinstance(lock, Lock) else lock
    result = json.loads(
        _native.verify(os.fspath(path), None if pubkey is None else os.fspath(pubkey))
    )
    return Verification(result["passed"], result["report"])


# ---------------------------------------------------------------------------------------------
# Layer 2a: validation


def profile(
    data: Any,
    output: Optional[PathLike] = None,
    *,
    label: Optional[str] = None,
    id: Optional[str] = None,
    text: Optional[str] = None,
    image: Optional[str] = None,
    source: Optional[str] = None,
    embedding: Optional[str] = None,
    skip_bad: bool = False,
) -> dict:
    """The profile of a dataset (``antidote profile DATA -o OUTPUT``), as a dict.

    ``data`` is a path (any format antidote reads), a pandas DataFrame or a pyarrow Table.
    With ``output``, the profile is also written there, ready to be a ``check`` baseline.
    """
    read = _read_options(
        label=label, id=id, text=text, image=image, source=source, embedding=embedding,
        skip_bad=skip_bad,
    )
    out = None if output is None else os.fspath(output)
    if _is_path(data):
        return json.loads(_native.profile(os.fspath(data), read, out))
    with _Staged(_as_table(data)) as staged:
        name = "<" + type(data).__name__ + ">"
        return json.loads(_native.profile(staged.path, read, out, name))


@dataclass
class Check:
    """What ``check`` found: ``passed``, the anomalies worst first, and drift per column."""

    passed: bool
    report: dict = field(repr=False)

    @property
    def anomalies(self) -> list:
        return self.report["anomalies"]

    @property
    def drift(self) -> list:
        return self.report["drift"]

    def __bool__(self) -> bool:
        return self.passed


def check(
    data: Any,
    baseline: Union[PathLike, Mapping],
    *,
    label: Optional[str] = None,
    id: Optional[str] = None,
    text: Optional[str] = None,
    image: Optional[str] = None,
    source: Optional[str] = None,
    embedding: Optional[str] = None,
    skip_bad: bool = False,
) -> Check:
    """Checks new data against a baseline profile (``antidote check DATA --baseline BASELINE``).

    ``baseline`` is a profile file or a profile dict returned by ``profile``. The thresholds and
    rules are the defaults (those of a run without ``antidote.toml``).
    """
    read = _read_options(
        label=label, id=id, text=text, image=image, source=source, embedding=embedding,
        skip_bad=skip_bad,
    )
    with tempfile.TemporaryDirectory(prefix="antidote-") as folder:
        if isinstance(baseline, Mapping):
            baseline_path = os.path.join(folder, "baseline.json")
            with open(baseline_path, "w", encoding="utf-8") as file:
                json.dump(baseline, file)
        else:
            baseline_path = os.fspath(baseline)
        if _is_path(data):
            result = _native.check(os.fspath(data), baseline_path, read)
        else:
            with _Staged(_as_table(data)) as staged:
                result = _native.check(staged.path, baseline_path, read)
    result = json.loads(result)
    return Check(result["passed"], result["report"])


# ---------------------------------------------------------------------------------------------
# Layer 2b: detection


def _contiguous(values: Any, dtype: Any, name: str, ndim: Sequence[int]) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(values), dtype=dtype)
    if array.ndim not in ndim:
        raise AntidoteError(
            f"`{name}` has {array.ndim} dimensions, expected {' or '.join(map(str, ndim))}"
        )
    return array


def _flat(array: np.ndarray) -> pa.Array:
    """A flat Arrow view of a C-contiguous array: ``pa.array`` wraps its buffer, no copy."""
    return pa.array(array.reshape(-1))


def scan(
    X: Any = None,
    labels: Any = None,
    *,
    text: Any = None,
    images: Any = None,
    pred_probs: Any = None,
    features: Any = None,
    ids: Any = None,
    sources: Any = None,
    detectors: Optional[Iterable[str]] = None,
    seed: int = 0,
    folds: Optional[int] = None,
    output: str = "pandas",
    label: Optional[str] = None,
    id: Optional[str] = None,
    text_column: Optional[str] = None,
    source: Optional[str] = None,
    skip_bad: bool = False,
) -> Any:
    """Finds poisoned records (``antidote scan``) and returns the findings, highest score first.

    The data is any mix of:

    - ``X``: a path (scanned as ``antidote scan`` reads it), a pandas DataFrame, a pyarrow Table
      or a 2-D NumPy array of features;
    - ``labels``, ``text``, ``ids``, ``sources``: one value per record;
    - ``images``: a ``uint8`` array of shape (records, height, width) or (records, height,
      width, channels);
    - ``features``: your representation, (records, dimensions); the backdoor and outlier
      detectors read it instead of the built-in network's;
    - ``pred_probs``: your out-of-sample probabilities, (records, classes), columns in the
      order of the sorted labels (for labels ``0`` to ``K - 1``, cleanlab's order).

    ``images``, ``features`` and ``pred_probs`` cross into Rust as Arrow arrays over the
    arrays' own memory. The result is a pandas DataFrame (``output="pandas"``) or a pyarrow
    Table (``output="arrow"``) with the columns of ``findings.jsonl`` (``id``, ``score``,
    ``tier``, ``quarantine``, ``reason``, ``label``, ``source``, ``detectors``, ``confidences``,
    ``evidence``) and ``position``, the record's row; ``summary.json`` is in
    ``result.attrs["summary"]`` (pandas) or the table's schema metadata ``antidote.summary``.
    """
    if output not in ("pandas", "arrow"):
        raise ValueError(f"`output` is `pandas` or `arrow`, not `{output}`")
    roles = dict(label=label, id=id, text=text_column, source=source, skip_bad=skip_bad)
    count = None
    if X is not None and _is_path(X):
        if any(value is not None for value in (labels, text, ids, sources)):
            raise AntidoteError(
                "`labels`, `text`, `ids` and `sources` go with in-memory data, not with a path; "
                "name the columns with `label=`, `text_column=`, `id=` and `source=`"
            )
        staged = None
        data_path, input_name = os.fspath(X), os.fspath(X)
    else:
        columns: dict = {}
        if X is not None:
            table = _as_table(X)
            columns.update(zip(table.column_names, table.columns))
            count = table.num_rows
        for name, values in (("id", ids), ("label", labels), ("text", text), ("source", sources)):
            if values is None:
                continue
            if name in columns:
                raise AntidoteError(f"`X` already has a column `{name}`; pass it in `X` or as `{name}`, not both")
            columns[name] = _column(values)
            roles["text" if name == "text" else name] = name
        if count is None and columns:
            count = len(next(iter(columns.values())))
        for name, values in (("features", features), ("images", images), ("pred_probs", pred_probs)):
            if values is not None and count is None:
                count = len(values)
        if count is None:
            raise AntidoteError("nothing to scan: give `X`, `labels`, `text`, `images` or `features`")
        if not columns:
            # Records need a column; ids carry no signal a detector could read.
            columns["id"] = pa.array(np.arange(count, dtype=np.int64))
            roles["id"] = "id"
        staged = _Staged(pa.table(columns))
        data_path, input_name = staged.path, "<in-memory data>"
    try:
        kwargs: dict = {}
        if features is not None:
            array = _contiguous(features, np.float64, "features", (2,))
            kwargs.update(features=_flat(array), feature_dim=array.shape[1])
        if images is not None:
            array = _contiguous(images, np.uint8, "images", (3, 4))
            height, width = array.shape[1], array.shape[2]
            channels = array.shape[3] if array.ndim == 4 else 1
            kwargs.update(images=_flat(array), image_shape=(height, width, channels))
        if pred_probs is not None:
            array = _contiguous(pred_probs, np.float32, "pred_probs", (2,))
            kwargs["probabilities"] = _flat(array)
        batch, summary = _native.scan(
            data_path,
            _read_options(**roles),
            input_name,
            detectors=None if detectors is None else list(detectors),
            seed=seed,
            folds=folds,
            **kwargs,
        )
    finally:
        if staged is not None:
            staged.__exit__()
    table = pa.Table.from_batches([batch]).replace_schema_metadata({"antidote.summary": summary})
    if output == "arrow":
        return table
    frame = table.to_pandas()
    frame.attrs["summary"] = json.loads(summary)
    return frame


def find_label_issues(
    labels: Any,
    pred_probs: Any,
    *,
    return_indices_ranked_by: Optional[str] = None,
    rank_by_kwargs: Optional[dict] = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: Optional[list] = None,
    min_examples_per_class: int = 1,
    confident_joint: Optional[np.ndarray] = None,
    n_jobs: Optional[int] = None,
    verbose: bool = False,
    multi_label: bool = False,
) -> np.ndarray:
    """cleanlab's ``cleanlab.filter.find_label_issues``, computed by antidote.

    Same signature and same result: a boolean mask of the label issues, or with
    ``return_indices_ranked_by`` (``"self_confidence"`` or ``"normalized_margin"``) their
    indices, most likely issue first. ``filter_by="prune_by_noise_rate"`` (cleanlab's default)
    is the method implemented; ``n_jobs`` and ``verbose`` change nothing.
    """
    unsupported = {
        "filter_by": filter_by != "prune_by_noise_rate",
        "num_to_remove_per_class": num_to_remove_per_class is not None,
        "confident_joint": confident_joint is not None,
        "multi_label": bool(multi_label),
        "rank_by_kwargs": bool(rank_by_kwargs),
    }
    for name, given in unsupported.items():
        if given:
            raise LabelIssuesError(
                f"`{name}` is not supported: antidote implements `filter_by=\"prune_by_noise_rate\"` "
                "with cleanlab's defaults otherwise"
            )
    label_array = np.ascontiguousarray(np.asarray(labels), dtype=np.int64)
    probabilities = np.ascontiguousarray(np.asarray(pred_probs), dtype=np.float64)
    if label_array.ndim != 1 or probabilities.ndim != 2:
        raise LabelIssuesError(
            f"expected 1-D labels and 2-D pred_probs, got shapes {label_array.shape} and {probabilities.shape}"
        )
    mask = _native.find_label_issues(
        pa.array(label_array),
        _flat(probabilities),
        probabilities.shape[1],
        float(frac_noise),
        int(min_examples_per_class),
    )
    mask = mask.to_numpy(zero_copy_only=False).astype(bool)
    if return_indices_ranked_by is None:
        return mask
    rows = np.arange(len(label_array))
    self_confidence = probabilities[rows, label_array]
    if return_indices_ranked_by == "self_confidence":
        scores = self_confidence
    elif return_indices_ranked_by == "normalized_margin":
        others = probabilities.copy()
        others[rows, label_array] = -np.inf
        scores = (self_confidence - others.max(axis=1) + 1) / 2
    else:
        raise LabelIssuesError(
            f"`return_indices_ranked_by` is `self_confidence` or `normalized_margin`, not `{return_indices_ranked_by}`"
        )
    return rows[mask][np.argsort(scores[mask])]


# ---------------------------------------------------------------------------------------------
# Red team


def poison(
    data: PathLike,
    attack: str,
    output: Optional[PathLike] = None,
    *,
    truth: Optional[PathLike] = None,
    seed: int = 0,
    label: Optional[str] = None,
    id: Optional[str] = None,
    text: Optional[str] = None,
    image: Optional[str] = None,
    source: Optional[str] = None,
    skip_bad: bool = False,
    **options: Any,
) -> dict:
    """Writes a poisoned copy of a dataset and the truth of what was poisoned (``antidote poison``).

    ``attack`` is an attack name (``label-flip-uniform``, ``badnets``, ``rare-token``, ...; see
    ``antidote poison --help``), ``options`` its options by their command-line names with
    underscores (``rate=0.05``, ``target="cat"``, ``from_="dog"``, ``token="cf"``). Without
    ``output``, the copy is ``NAME.ATTACK.EXT`` in the current folder; the truth goes to
    ``OUTPUT.truth.json``. Nothing is overwritten. Returns the truth (``poisoned`` ids,
    ``target``, ``summary``, ...).
    """
    data = os.fspath(data)
    if output is None:
        name = os.path.basename(data.rstrip("/"))
        stem, _, extension = name.rpartition(".")
        output = f"{stem}.{attack}.{extension}" if stem else f"{name}-{attack}"
    output = os.fspath(output)
    truth = os.fspath(truth) if truth is not None else output + ".truth.json"
    if "from_" in options:
        options["from"] = options.pop("from_")
    read = _read_options(label=label, id=id, text=text, image=image, source=source, skip_bad=skip_bad)
    return json.loads(_native.poison(data, attack, output, truth, read, json.dumps(options), seed))
