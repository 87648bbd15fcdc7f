"""Prints dp-accounting's PLD epsilon for each case read from stdin, for antidote's PRV test.

dp-accounting 0.6.0 has no PRV accountant; its numerical-composition accountant is the privacy
loss distribution (PLD: connect-the-dots discretisation, composition by FFT), which computes the
same quantity, the tight epsilon of the composed mechanism, as an upper bound that tightens as its
discretisation interval shrinks. Each case is computed at the interval given and at twice it, so
that the test can tell whether dp-accounting has converged.

Each input line: noise_multiplier sampling_rate steps delta interval. Each output line: the
epsilon at `interval`, then at `2 * interval` (add-or-remove adjacency, pessimistic estimate).
"""

import sys

from dp_accounting.pld import privacy_loss_distribution as pld

for line in sys.stdin:
    if not line.strip():
        continue
    sigma, q, steps, delta, interval = line.split()
    epsilons = []
    for scale in (1.0, 2.0):
        distribution = pld.from_gaussian_mechanism(
            standard_deviation=float(sigma),
            sampling_prob=float(q),
            value_discretization_interval=scale * float(interval),
        ).self_compose(int(steps))
        epsilons.append(repr(float(distribution.get_epsilon_for_delta(float(delta)))))
    print(" ".join(epsilons), flush=True)
