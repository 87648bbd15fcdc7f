"""The `antidote` wheel against the real command line (`ANTIDOTE_BIN`), cleanlab and MLflow.

`scripts/test.sh` builds the wheel with maturin, installs it into its virtual environment and
runs these tests with `ANTIDOTE_BIN` set to the binary `cargo test` built.
"""

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import antidote

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures"


@pytest.fixture(scope="session")
def antidote_bin():
    binary = os.environ.get("ANTIDOTE_BIN")
    assert binary and Path(binary).is_file(), (
        "set ANTIDOTE_BIN to the `antidote` binary (scripts/test.sh does)"
    )
    return binary


def cli(binary, *args, cwd):
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}
    )


def cli_error(stderr):
    """The command line's error, as a Python exception reads it: `error:` stripped, no hint."""
    text = stderr.split("\n\nhint: ")[0].rstrip("\n")
    assert text.startswith("error: "), stderr
    return text[len("error: "):]


def cli_hint(stderr):
    return stderr.split("\n\nhint: ")[1].rstrip("\n") if "\n\nhint: " in stderr else None


@pytest.fixture
def text_data(tmp_path):
    path = tmp_path / "fortunes.csv"
    shutil.copy(FIXTURES / "fortunes_3class.csv", path)
    return path


# --- provenance ----------------------------------------------------------------------------


def test_lock_has_the_merkle_root_and_digests_of_the_cli(tmp_path, text_data, antidote_bin):
    ours = antidote.lock([text_data], tmp_path / "py.lock")
    result = cli(antidote_bin, "lock", str(text_data), "-o", str(tmp_path / "cli.lock"), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    theirs = json.loads((tmp_path / "cli.lock").read_text())

    assert ours.merkle_root.startswith("blake3:")
    assert ours.merkle_root == theirs["datasets"][0]["merkle_root"]
    assert ours.files == theirs["files"]
    assert ours.datasets[0]["record_count"] == 120
    assert (tmp_path / "py.lock.records.jsonl").read_text() == (tmp_path / "cli.lock.records.jsonl").read_text()
    # The lock file on disk is the one returned.
    assert antidote.Lock.read(tmp_path / "py.lock").merkle_root == ours.merkle_root


def test_verify_passes_then_names_the_modified_record(tmp_path, text_data):
    lock = antidote.lock([text_data], tmp_path / "antidote.lock")
    assert antidote.verify(lock).passed

    rows = list(csv.reader(text_data.open()))
    rows[5][1] = "food" if rows[5][1] != "food" else "science"
    with text_data.open("w", newline="") as file:
        csv.writer(file).writerows(rows)

    verification = antidote.verify(tmp_path / "antidote.lock")
    assert not verification
    dataset = verification.report["datasets"][0]
    assert dataset["status"] == "changed"
    assert [change["id"] for change in dataset["diff"]["changed"]] == [rows[5][0]]


def test_a_missing_path_raises_the_cli_error(tmp_path, antidote_bin):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(antidote.LockError) as caught:
        antidote.lock([missing], tmp_path / "antidote.lock")
    result = cli(antidote_bin, "lock", str(missing), "-o", str(tmp_path / "cli.lock"), cwd=tmp_path)
    assert result.returncode == 2
    assert str(caught.value) == cli_error(result.stderr)
    assert caught.value.hint == cli_hint(result.stderr)
    assert caught.value.hint.startswith("check the path")
    assert isinstance(caught.value, antidote.AntidoteError)


def test_verify_of_a_missing_lock_raises_the_cli_error(tmp_path, antidote_bin):
    with pytest.raises(antidote.LockError) as caught:
        antidote.verify(tmp_path / "antidote.lock")
    result = cli(antidote_bin, "verify", str(tmp_path / "antidote.lock"), cwd=tmp_path)
    assert result.returncode == 2
    assert str(caught.value) == cli_error(result.stderr)
    assert caught.value.hint == cli_hint(result.stderr)


def test_a_malformed_record_is_a_data_error_with_the_cli_message(tmp_path, antidote_bin):
    path = tmp_path / "ragged.csv"
    path.write_text("id,label,x\n1,a,0.5\n2,b\n")
    with pytest.raises(antidote.DataError) as caught:
        antidote.profile(path)
    result = cli(antidote_bin, "profile", str(path), "-o", str(tmp_path / "p.json"), cwd=tmp_path)
    assert result.returncode == 2
    assert str(caught.value) == cli_error(result.stderr)
    assert "line 3" in str(caught.value)
    assert caught.value.hint == cli_hint(result.stderr)


# --- validation ----------------------------------------------------------------------------


def numeric_frame(seed, shift=0.0, records=400):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(records),
            "label": rng.choice(["cat", "dog"], size=records),
            "x": rng.normal(shift, 1.0, size=records),
            "y": rng.normal(0.0, 1.0, size=records),
        }
    )


def test_profile_of_a_data_frame_matches_the_cli_on_its_csv(tmp_path, antidote_bin):
    frame = numeric_frame(0)
    frame.to_csv(tmp_path / "data.csv", index=False)
    ours = antidote.profile(frame)
    result = cli(antidote_bin, "profile", "data.csv", "-o", "cli.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    theirs = json.loads((tmp_path / "cli.json").read_text())
    assert ours["record_count"] == theirs["record_count"] == 400
    assert ours["sources"] == ["<DataFrame>"]
    assert [c["name"] for c in ours["columns"]] == [c["name"] for c in theirs["columns"]]
    assert ours["label"]["counts"] == theirs["label"]["counts"]
    ours_x = next(c for c in ours["columns"] if c["name"] == "x")["stats"]
    theirs_x = next(c for c in theirs["columns"] if c["name"] == "x")["stats"]
    assert ours_x["numeric"]["moments"] == pytest.approx(theirs_x["numeric"]["moments"], rel=1e-12)
    assert ours_x["numeric"]["min"] == theirs_x["numeric"]["min"]
    assert ours_x["numeric"]["max"] == theirs_x["numeric"]["max"]


def test_check_passes_on_the_same_distribution_and_finds_drift(tmp_path, antidote_bin):
    baseline = antidote.profile(numeric_frame(0), tmp_path / "baseline.json")
    assert (tmp_path / "baseline.json").is_file()
    assert antidote.check(numeric_frame(1), baseline).passed

    drifted = antidote.check(numeric_frame(2, shift=3.0), tmp_path / "baseline.json")
    assert [column["column"] for column in drifted.drift if column["drifted"]] == ["x"]

    numeric_frame(2, shift=3.0).to_csv(tmp_path / "new.csv", index=False)
    result = cli(antidote_bin, "check", "new.csv", "--baseline", "baseline.json", "--json", cwd=tmp_path)
    theirs = json.loads(result.stdout)
    assert drifted.passed == theirs["passed"]
    assert [c["column"] for c in drifted.drift if c["drifted"]] == [
        c["column"] for c in theirs["report"]["drift"] if c["drifted"]
    ]


def test_check_against_a_missing_baseline_raises_the_cli_error(tmp_path, antidote_bin):
    numeric_frame(0).to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(antidote.CheckError) as caught:
        antidote.check(tmp_path / "data.csv", tmp_path / "missing.json")
    result = cli(antidote_bin, "check", str(tmp_path / "data.csv"), "--baseline", str(tmp_path / "missing.json"), cwd=tmp_path)
    assert result.returncode == 2
    assert str(caught.value) == cli_error(result.stderr)
    assert caught.value.hint == cli_hint(result.stderr)


# --- cleanlab parity -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion():
    frame = pd.read_csv(FIXTURES / "label_issues" / "fashion_mnist_3000_flip10.csv")
    probabilities = frame[[f"p{k}" for k in range(10)]].to_numpy()
    return frame["noisy_label"].to_numpy(), probabilities, frame


def test_find_label_issues_equals_cleanlab(fashion):
    import cleanlab.filter

    labels, pred_probs, frame = fashion
    ours = antidote.find_label_issues(labels, pred_probs)
    theirs = cleanlab.filter.find_label_issues(labels, pred_probs)
    assert ours.dtype == bool and ours.shape == (3000,)
    assert ours.sum() > 100
    np.testing.assert_array_equal(ours, theirs)
    # And the fixture's recorded cleanlab result.
    np.testing.assert_array_equal(ours, frame["cleanlab_issue"].to_numpy().astype(bool))


@pytest.mark.parametrize("ranked_by", ["self_confidence", "normalized_margin"])
def test_ranked_indices_equal_cleanlab(fashion, ranked_by):
    import cleanlab.filter

    labels, pred_probs, _ = fashion
    ours = antidote.find_label_issues(labels, pred_probs, return_indices_ranked_by=ranked_by)
    theirs = cleanlab.filter.find_label_issues(labels, pred_probs, return_indices_ranked_by=ranked_by)
    np.testing.assert_array_equal(ours, theirs)


def test_frac_noise_and_min_examples_equal_cleanlab(fashion):
    import cleanlab.filter

    labels, pred_probs, _ = fashion
    options = dict(frac_noise=0.5, min_examples_per_class=250)
    np.testing.assert_array_equal(
        antidote.find_label_issues(labels, pred_probs, **options),
        cleanlab.filter.find_label_issues(labels, pred_probs, **options),
    )


def test_find_label_issues_errors_are_typed(fashion):
    labels, pred_probs, _ = fashion
    with pytest.raises(antidote.LabelIssuesError, match=r"probabilities summing to"):
        antidote.find_label_issues(labels, pred_probs * 0.5)
    with pytest.raises(antidote.LabelIssuesError, match=r"`filter_by` is not supported"):
        antidote.find_label_issues(labels, pred_probs, filter_by="both")
    with pytest.raises(antidote.LabelIssuesError, match=r"noise fraction must be greater than `0`"):
        antidote.find_label_issues(labels, pred_probs, frac_noise=0.0)


# --- scan and poison -----------------------------------------------------------------------


def test_a_flipped_label_in_memory_is_found_by_scan(fashion):
    labels, pred_probs, frame = fashion
    # The probabilities are the representation too: the scan needs one to featurize.
    findings = antidote.scan(
        labels=labels, pred_probs=pred_probs, features=pred_probs, detectors=["label-issues"]
    )
    assert isinstance(findings, pd.DataFrame)
    flipped = set(np.flatnonzero(frame["true_label"].to_numpy() != labels))
    found = set(findings["position"])
    # Confident learning on good probabilities finds most of the 300 flips, with few mistakes.
    assert len(found & flipped) > 0.6 * len(flipped)
    # Many findings are flips: four times the 10% base rate (the rest are natural label noise).
    assert len(found & flipped) > 0.35 * len(found)
    assert findings.attrs["summary"]["records"] == 3000
    assert list(findings["score"]) == sorted(findings["score"], reverse=True)
    assert all(detectors.tolist() == ["label-issues"] for detectors in findings["detectors"])


def test_scan_finds_the_poisoned_records_of_antidote_poison(tmp_path, antidote_bin):
    rng = np.random.default_rng(0)
    records = 400
    labels = np.repeat(["cat", "dog"], records // 2)
    features = rng.normal(0, 1, (records, 4)) + np.where(labels == "cat", 0.0, 4.0)[:, None]
    clean = pd.DataFrame({"id": [f"r{i:03d}" for i in range(records)], "label": labels})
    for k in range(4):
        clean[f"x{k}"] = features[:, k]
    clean.to_csv(tmp_path / "blobs.csv", index=False)

    truth = antidote.poison(tmp_path / "blobs.csv", "label-flip-uniform", tmp_path / "poisoned.csv", rate=0.05, seed=1)
    assert (tmp_path / "poisoned.csv.truth.json").is_file()
    poisoned_ids = set(truth["poisoned"])
    assert len(poisoned_ids) == 20

    poisoned = pd.read_csv(tmp_path / "poisoned.csv")
    findings = antidote.scan(
        poisoned[["x0", "x1", "x2", "x3"]], labels=poisoned["label"], ids=poisoned["id"],
        detectors=["label-issues"], output="arrow",
    )
    assert isinstance(findings, pa.Table)
    found = set(findings["id"].to_pylist())
    assert len(found & poisoned_ids) >= 18, (found, poisoned_ids)
    assert len(found - poisoned_ids) <= 2, (found, poisoned_ids)
    summary = json.loads(findings.schema.metadata[b"antidote.summary"])
    assert summary["records"] == records

    # The file by its path, and the command line on it, find the same records in the same order.
    by_path = antidote.scan(tmp_path / "poisoned.csv", detectors=["label-issues"])
    result = cli(antidote_bin, "scan", "poisoned.csv", "--detectors", "label-issues", "--out", "scan", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    lines = [json.loads(line) for line in (tmp_path / "scan" / "findings.jsonl").read_text().splitlines()]
    assert list(by_path["id"]) == [line["id"] for line in lines]
    assert list(by_path["score"]) == [line["score"] for line in lines]
    assert list(by_path["tier"]) == [line["tier"] for line in lines]
    assert list(by_path["id"]) == findings["id"].to_pylist()


def test_scan_reads_features_and_images_from_numpy():
    rng = np.random.default_rng(0)
    records = 200
    labels = np.repeat([0, 1], records // 2)
    features = rng.normal(0, 1, size=(records, 8)) + labels[:, None] * 4.0
    features[7] += 60.0  # far from everything: an outlier
    images = rng.integers(0, 40, size=(records, 8, 8), dtype=np.uint8)
    images[labels == 1] += 100
    findings = antidote.scan(labels=labels, features=features, images=images, detectors=["outliers"])
    assert 7 in set(findings["position"])
    summary = findings.attrs["summary"]
    assert summary["records"] == records


def test_poison_refuses_to_overwrite_and_unknown_options(tmp_path, text_data, antidote_bin):
    (tmp_path / "exists.csv").write_text("x\n")
    with pytest.raises(antidote.PoisonError) as caught:
        antidote.poison(text_data, "rare-token", tmp_path / "exists.csv", target="food")
    result = cli(antidote_bin, "poison", str(text_data), "-a", "rare-token", "-o", str(tmp_path / "exists.csv"), "--target", "food", cwd=tmp_path)
    assert result.returncode == 2
    assert str(caught.value) == cli_error(result.stderr)
    with pytest.raises(antidote.PoisonError, match="unknown field `colour`"):
        antidote.poison(text_data, "rare-token", tmp_path / "out.csv", colour="red")


# --- MLflow --------------------------------------------------------------------------------


def test_mlflow_records_the_lock_as_the_runs_dataset(tmp_path, text_data, monkeypatch):
    import mlflow

    # MLflow 3 keeps its file store in maintenance mode behind this switch; the store is real.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    import antidote.mlflow

    lock = antidote.lock([text_data], tmp_path / "antidote.lock")
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    with mlflow.start_run() as run:
        antidote.mlflow.log_lock(lock)

    stored = mlflow.MlflowClient().get_run(run.info.run_id)
    root = lock.merkle_root
    assert stored.data.tags["antidote.merkle_root"] == root
    file_digest = lock.files[0]["sha256"]
    assert stored.data.tags[f"antidote.file.{lock.files[0]['path']}.sha256"] == file_digest
    assert file_digest.startswith("sha256:")
    (dataset_input,) = stored.inputs.dataset_inputs
    assert dataset_input.dataset.digest == root.split(":")[1][:36]
    assert dataset_input.dataset.name == "fortunes.csv"
    assert str(text_data) in dataset_input.dataset.source
    tags = {tag.key: tag.value for tag in dataset_input.tags}
    assert tags["antidote.merkle_root"] == root
    assert tags["mlflow.data.context"] == "training"
    assert tags["antidote.records"] == "120"
