"""Prints dp-accounting's epsilon for each case read from stdin, for antidote's accountant test.

Each input line: noise_multiplier sampling_rate steps delta. Each output line: epsilon, computed
by dp_accounting's RdpAccountant over antidote's default orders (1.1 to 10.9 by tenths, 11 to 63,
128, 256, 512, 1024) for a Poisson-sampled Gaussian event composed `steps` times.
"""

import sys

import dp_accounting

ORDERS = [1 + x / 10 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512, 1024]

for line in sys.stdin:
    if not line.strip():
        continue
    sigma, q, steps, delta = line.split()
    accountant = dp_accounting.rdp.RdpAccountant(orders=ORDERS)
    event = dp_accounting.PoissonSampledDpEvent(float(q), dp_accounting.GaussianDpEvent(float(sigma)))
    accountant.compose(event, int(steps))
    print(repr(float(accountant.get_epsilon(float(delta)))))
