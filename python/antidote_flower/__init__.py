"""Robust aggregation for Flower, by antidote.

``AntidoteStrategy`` is a Flower ``FedAvg`` whose ``aggregate_fit`` hands the clients' parameters
to ``antidote aggregate``: a Byzantine-robust rule (geometric median by default; median,
trimmed mean, Krum, multi-Krum, Bulyan, FLTrust, norm clipping), an anomaly score per client
and a running trust, reported in the round's metrics. Everything else (client sampling,
evaluation, configuration) is Flower's own.

    from antidote_flower import AntidoteStrategy
    strategy = AntidoteStrategy(rule="multi-krum", min_fit_clients=10)

``aggregate`` is the same call without Flower: a list of clients' arrays in, the aggregate and
antidote's report out.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["AntidoteError", "aggregate", "read_safetensors", "write_safetensors"]

log = logging.getLogger("antidote_flower")


class AntidoteError(RuntimeError):
    """``antidote aggregate`` could not aggregate the round (exit code 2)."""


def _name(index: int) -> str:
    # Zero-padded, so that antidote's name order is the arrays' order.
    return f"t{index:05d}"


def write_safetensors(path: Path, arrays: Sequence[np.ndarray]) -> None:
    """Writes ``arrays`` as float32 tensors ``t00000``, ``t00001``, ... in the safetensors format."""
    header: dict[str, Any] = {}
    chunks = []
    offset = 0
    for index, array in enumerate(arrays):
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[_name(index)] = {
            "dtype": "F32",
            "shape": list(np.shape(array)),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for chunk in chunks:
            file.write(chunk)


def read_safetensors(path: Path) -> list[np.ndarray]:
    """Reads the float32 tensors antidote wrote, in name order."""
    raw = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    header.pop("__metadata__", None)
    data = raw[8 + length :]
    arrays = []
    for name in sorted(header):
        info = header[name]
        start, end = info["data_offsets"]
        if info["dtype"] != "F32":
            raise AntidoteError(f"tensor {name} is {info['dtype']}, expected F32")
        arrays.append(np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"]).copy())
    return arrays


def aggregate(
    clients: Sequence[tuple[str, Sequence[np.ndarray]]],
    *,
    rule: str = "geometric-median",
    attackers: Optional[int] = None,
    root: Optional[Sequence[np.ndarray]] = None,
    trust: Optional[os.PathLike] = None,
    antidote: Optional[str] = None,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Aggregates one round with ``antidote aggregate``.

    ``clients`` pairs each client's name with its arrays (every client the same shapes).
    ``root`` is the server's own update for ``rule="fltrust"``. ``trust`` is a file that carries
    each client's running trust from round to round. Returns the aggregate (arrays of the
    clients' shapes and dtypes) and the round's report from antidote's ``summary.json``
    (``flagged``, ``anomaly_rate``, per-client ``clients``, ``overwhelmed``).
    """
    if not clients:
        raise ValueError("no client updates to aggregate")
    binary = antidote or os.environ.get("ANTIDOTE_BIN") or shutil.which("antidote")
    if not binary:
        raise AntidoteError("the antidote binary was not found; put it on PATH or set ANTIDOTE_BIN")
    names = [str(name) for name, _ in clients]
    if len(set(names)) != len(names):
        raise ValueError("client names must be unique")
    dtypes = [np.asarray(array).dtype for array in clients[0][1]]
    with tempfile.TemporaryDirectory(prefix="antidote-round-") as folder:
        updates = Path(folder) / "updates"
        updates.mkdir()
        for name, arrays in clients:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            write_safetensors(updates / f"{safe}.safetensors", arrays)
        out = Path(folder) / "out"
        command = [binary, "aggregate", str(updates), "--rule", rule, "--out", str(out), "--json", "--no-ledger"]
        if attackers is not None:
            command += ["--attackers", str(attackers)]
        if trust is not None:
            command += ["--trust", str(trust)]
        if root is not None:
            root_path = Path(folder) / "root.safetensors"
            write_safetensors(root_path, root)
            command += ["--root-update", str(root_path)]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode not in (0, 1):
            raise AntidoteError(run.stderr.strip() or f"antidote exited with {run.returncode}")
        summary = json.loads(run.stdout)
        report = summary["rounds"][0]
        arrays = read_safetensors(out / "aggregate.safetensors")
    if report["overwhelmed"]:
        log.warning(
            "antidote: %d clients flagged, more than %s tolerates; the aggregate cannot be trusted",
            len(report["flagged"]),
            rule,
        )
    return [array.astype(dtype, copy=False) for array, dtype in zip(arrays, dtypes)], report


try:
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg
except ImportError:  # Flower is optional: `aggregate` works without it.
    FedAvg = None

if FedAvg is not None:
    __all__.append("AntidoteStrategy")

    class AntidoteStrategy(FedAvg):
        """Flower's ``FedAvg`` with antidote's robust aggregation and client scores.

        ``rule``, ``attackers`` and ``antidote`` are passed to :func:`aggregate`; the other
        keyword arguments are ``FedAvg``'s. Each client's running trust is kept in
        ``trust_file`` (a temporary file by default) across rounds. The round's metrics carry
        ``antidote_flagged`` (how many clients), ``antidote_anomaly_rate`` and
        ``antidote_overwhelmed``; ``last_report`` holds antidote's full report of the round.
        """

        def __init__(
            self,
            *,
            rule: str = "geometric-median",
            attackers: Optional[int] = None,
            antidote: Optional[str] = None,
            trust_file: Optional[os.PathLike] = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.rule = rule
            self.attackers = attackers
            self.antidote = antidote
            if trust_file is None:
                self._trust_dir = tempfile.TemporaryDirectory(prefix="antidote-trust-")
                trust_file = Path(self._trust_dir.name) / "trust.json"
            self.trust_file = Path(trust_file)
            self.last_report: Optional[dict[str, Any]] = None

        def __repr__(self) -> str:
            return f"AntidoteStrategy(rule={self.rule!r})"

        def aggregate_fit(self, server_round, results, failures):
            if not results:
                return None, {}
            if not self.accept_failures and failures:
                return None, {}
            clients = [
                (str(proxy.cid), parameters_to_ndarrays(fit_res.parameters))
                for proxy, fit_res in results
            ]
            arrays, report = aggregate(
                clients,
                rule=self.rule,
                attackers=self.attackers,
                trust=self.trust_file,
                antidote=self.antidote,
            )
            self.last_report = report
            metrics = {
                "antidote_flagged": len(report["flagged"]),
                "antidote_anomaly_rate": float(report["anomaly_rate"]),
                "antidote_overwhelmed": bool(report["overwhelmed"]),
            }
            return ndarrays_to_parameters(arrays), metrics
