"""Record an antidote lock in MLflow: the dataset a run trained on, pinned by content.

MLflow's own dataset digest is a hash of the first rows of a data frame; a lock pins every file
(SHA-256) and every record (a Merkle root). ``log_lock`` logs each locked dataset as the run's
input, with the lock's root as its digest and source, and puts the roots and the file digests in
the run's tags, so that ``antidote verify`` can later prove the data is what the run saw.

>>> import mlflow, antidote, antidote.mlflow                       # doctest: +SKIP
>>> with mlflow.start_run():                                       # doctest: +SKIP
...     antidote.mlflow.log_lock(antidote.lock(["data/train.csv"]))
"""

from __future__ import annotations

import os
from typing import Optional, Union

from antidote import Lock

#: MLflow keeps at most 36 characters of a dataset digest (``MAX_DATASET_DIGEST_SIZE``).
_DIGEST_CHARACTERS = 36


def tags_of(lock: Lock) -> dict:
    """The run tags ``log_lock`` sets: ``antidote.lock``, one ``antidote.dataset.PATH.merkle_root``
    and ``.records`` per dataset (and ``antidote.merkle_root`` when there is one), and one
    ``antidote.file.PATH.sha256`` per file."""
    tags = {"antidote.lock": str(lock.path)}
    for dataset in lock.datasets:
        tags[f"antidote.dataset.{dataset['path']}.merkle_root"] = dataset["merkle_root"]
        tags[f"antidote.dataset.{dataset['path']}.records"] = str(dataset["record_count"])
    if len(lock.datasets) == 1:
        tags["antidote.merkle_root"] = lock.datasets[0]["merkle_root"]
    file_list = lock.document.get("file_list")
    if file_list:
        # A lock of more files than a lock lists (format version 2): one tag for their list,
        # which pins every file, rather than millions of tags.
        tags[f"antidote.file.{file_list['path']}.sha256"] = file_list["sha256"]
        return tags
    for file in lock.files:
        tags[f"antidote.file.{file['path']}.sha256"] = file["sha256"]
    return tags


def log_lock(
    lock: Union[Lock, str, "os.PathLike[str]"],
    *,
    context: str = "training",
    run_id: Optional[str] = None,
) -> None:
    """Logs a lock in the active MLflow run (or the run ``run_id``).

    Each locked dataset becomes an input of the run (``mlflow.log_input``): its source is the
    dataset's path, its digest the first 36 hex characters of its Merkle root (MLflow's limit),
    and its input tags carry the full root and the record count. The run's tags get every root
    and every file's SHA-256, or the files sidecar's for a lock of more than 10 000 files (see
    ``tags_of``).
    """
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    if not isinstance(lock, Lock):
        lock = Lock.read(lock)
    base = os.path.dirname(os.path.abspath(lock.path))
    client = mlflow.MlflowClient()
    if run_id is None:
        run = mlflow.active_run()
        if run is None:
            raise RuntimeError("no active MLflow run: call `log_lock` inside `mlflow.start_run()`, or pass `run_id`")
        run_id = run.info.run_id
    from mlflow.entities import DatasetInput, InputTag

    inputs = []
    for dataset in lock.datasets:
        root = dataset["merkle_root"]
        location = os.path.join(base, dataset["path"])
        logged = MetaDataset(
            source=resolve_dataset_source(location),
            name=dataset["path"],
            digest=root.split(":", 1)[-1][:_DIGEST_CHARACTERS],
        )
        tags = [
            InputTag(key="mlflow.data.context", value=context),
            InputTag(key="antidote.merkle_root", value=root),
            InputTag(key="antidote.records", value=str(dataset["record_count"])),
        ]
        inputs.append(DatasetInput(dataset=logged._to_mlflow_entity(), tags=tags))
    if inputs:
        client.log_inputs(run_id, datasets=inputs)
    for key, value in tags_of(lock).items():
        client.set_tag(run_id, key, value)
