"""The Flower strategy and ``aggregate`` against the real antidote binary (``ANTIDOTE_BIN``)."""

import os
import tempfile
import unittest
from pathlib import Path

import numpy as np

import antidote_flower
from antidote_flower import aggregate, read_safetensors, write_safetensors

HONEST = [np.array([[0.5, -1.0], [0.25, 2.0]], dtype=np.float32), np.array([-0.75, 1.5], dtype=np.float64)]


def round_of(clients=10, attacker=True, seed=0):
    rng = np.random.default_rng(seed)
    updates = []
    for i in range(clients):
        arrays = [a + rng.normal(0, 0.02, a.shape).astype(a.dtype) for a in HONEST]
        if attacker and i == clients - 1:
            arrays = [(-20 * a).astype(a.dtype) for a in HONEST]
        updates.append((f"client-{i}", arrays))
    return updates


class Aggregate(unittest.TestCase):
    def test_safetensors_round_trip(self):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "x.safetensors"
            write_safetensors(path, HONEST)
            back = read_safetensors(path)
            self.assertEqual([a.shape for a in back], [(2, 2), (2,)])
            np.testing.assert_allclose(back[1], HONEST[1].astype(np.float32))

    def test_multi_krum_flags_the_attacker_and_keeps_shapes_and_dtypes(self):
        arrays, report = aggregate(round_of(), rule="multi-krum")
        self.assertEqual(report["flagged"], ["client-9"])
        self.assertFalse(report["overwhelmed"])
        self.assertEqual([a.dtype for a in arrays], [np.float32, np.float64])
        for got, want in zip(arrays, HONEST):
            np.testing.assert_allclose(got, want, atol=0.05)

    def test_the_mean_is_overwhelmed_by_one_flagged_client(self):
        arrays, report = aggregate(round_of(), rule="mean")
        self.assertTrue(report["overwhelmed"])
        self.assertLess(arrays[0][1, 1], 0.0)

    def test_a_rule_that_cannot_run_raises(self):
        with self.assertRaises(antidote_flower.AntidoteError) as caught:
            aggregate(round_of(clients=4), rule="bulyan", attackers=1)
        self.assertIn("needs at least 7 clients", str(caught.exception))


class Strategy(unittest.TestCase):
    def test_aggregate_fit_returns_the_robust_aggregate_and_metrics(self):
        self.assertIsNotNone(antidote_flower.FedAvg, "Flower (flwr) must be installed for this test")
        from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays

        class Proxy:
            def __init__(self, cid):
                self.cid = cid

        with tempfile.TemporaryDirectory() as folder:
            strategy = antidote_flower.AntidoteStrategy(rule="multi-krum", trust_file=Path(folder) / "trust.json")
            for server_round in (1, 2):
                results = [
                    (Proxy(name), FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), 100, {}))
                    for name, arrays in round_of(seed=server_round)
                ]
                parameters, metrics = strategy.aggregate_fit(server_round, results, [])
                self.assertEqual(metrics["antidote_flagged"], 1)
                self.assertAlmostEqual(metrics["antidote_anomaly_rate"], 0.1)
                arrays = parameters_to_ndarrays(parameters)
                np.testing.assert_allclose(arrays[0], HONEST[0], atol=0.05)
            trust = strategy.last_report["clients"][9]["trust"]
            self.assertAlmostEqual(trust, 0.64)


if __name__ == "__main__":
    unittest.main()
