//! The tests trigger search rests on, in log space so that the tiny p-values of a trigger carried
//! by hundreds of records (`0.1^600`) do not underflow to zero and still rank.

/// `ln(n!)`: exact below 16, Stirling's series above (absolute error below `1e-12`; Abramowitz
/// and Stegun, 6.1.41).
pub(super) fn ln_factorial(n: u64) -> f64 {
    if n < 16 {
        return (2..=n).map(|k| (k as f64).ln()).sum();
    }
    let x = n as f64;
    let inverse = 1.0 / x;
    let inverse_squared = inverse * inverse;
    x * x.ln() - x
        + 0.5 * (std::f64::consts::TAU * x).ln()
        + inverse
            * (1.0 / 12.0 - inverse_squared * (1.0 / 360.0 - inverse_squared * (1.0 / 1260.0)))
}

/// `ln C(n, k)`.
pub(super) fn ln_choose(n: u64, k: u64) -> f64 {
    debug_assert!(k <= n, "choose {k} of {n}");
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// `ln P(X >= successes)` for `X ~ Binomial(trials, probability)`: the one-sided p-value of seeing
/// at least `successes` of `trials` when each happens with `probability`.
///
/// The terms are summed from `successes` upward in log space and the sum stops once they no
/// longer change it, so the cost is at most `trials - successes` steps.
pub(super) fn ln_binomial_upper_tail(successes: u64, trials: u64, probability: f64) -> f64 {
    if successes == 0 {
        return 0.0;
    }
    if successes > trials || probability <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if probability >= 1.0 {
        return 0.0;
    }
    let odds = (probability / (1.0 - probability)).ln();
    let mode = (trials as f64 + 1.0) * probability;
    let mut term = ln_choose(trials, successes)
        + successes as f64 * probability.ln()
        + (trials - successes) as f64 * (-probability).ln_1p();
    let mut total = term;
    for count in successes..trials {
        term += ((trials - count) as f64 / (count + 1) as f64).ln() + odds;
        total = ln_add(total, term);
        if count as f64 > mode && term < total - 40.0 {
            break;
        }
    }
    total.min(0.0)
}

/// `ln(exp(a) + exp(b))` without overflow.
fn ln_add(a: f64, b: f64) -> f64 {
    let (high, low) = if a >= b { (a, b) } else { (b, a) };
    if low == f64::NEG_INFINITY {
        return high;
    }
    high + (low - high).exp().ln_1p()
}

/// The Benjamini-Hochberg cutoff (Benjamini and Hochberg, 1995) at false discovery rate
/// `rate`: the largest log p-value that is a discovery, or `None` when none is.
///
/// Sorting the `m` p-values, the discoveries are the `r` smallest for the largest `r` with
/// `p_(r) <= rate * r / m`; every p-value at or below the returned cutoff is one.
pub(super) fn benjamini_hochberg_cutoff(ln_p_values: &[f64], rate: f64) -> Option<f64> {
    let mut sorted = ln_p_values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let ln_rate_per_test = rate.ln() - (sorted.len() as f64).ln();
    sorted
        .iter()
        .enumerate()
        .rev()
        .find(|(rank, ln_p)| **ln_p <= ln_rate_per_test + ((rank + 1) as f64).ln())
        .map(|(_, ln_p)| *ln_p)
}

/// The exact one-sided test of paired outcomes of McNemar (1947): of the pairs whose two
/// outcomes differ, `first_only` went the first way and `second_only` the second. Returns
/// `ln P(X >= first_only)` for `X ~ Binomial(first_only + second_only, 1/2)`, the chance of so
/// lopsided a split if the two treatments had the same effect.
#[expect(clippy::doc_markdown, reason = "McNemar is a name, not code")]
pub(super) fn ln_mcnemar_p_value(first_only: u64, second_only: u64) -> f64 {
    ln_binomial_upper_tail(first_only, first_only + second_only, 0.5)
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact doubles")]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1.0)
    }

    #[test]
    fn factorials_are_exact_when_small_and_close_when_large() {
        assert_eq!(ln_factorial(0), 0.0);
        assert_eq!(ln_factorial(1), 0.0);
        assert!(close(ln_factorial(10), 3_628_800_f64.ln(), 1e-14));
        // ln(20!) = ln(2432902008176640000).
        assert!(close(
            ln_factorial(20),
            2_432_902_008_176_640_000_f64.ln(),
            1e-13
        ));
        // ln(100!) = 363.739375555563490144 (Abramowitz and Stegun, table 6.3 via ln Γ(101)).
        assert!(close(ln_factorial(100), 363.739_375_555_563_5, 1e-13));
        assert!(close(ln_choose(52, 5), 2_598_960_f64.ln(), 1e-12));
    }

    #[test]
    fn binomial_tails_match_known_answers() {
        // P(X >= 8 | 10, 0.5) = 56 / 1024.
        assert!(close(
            ln_binomial_upper_tail(8, 10, 0.5).exp(),
            56.0 / 1024.0,
            1e-12
        ));
        // P(X >= 3 | 5, 0.2) = 0.05792 (10 * 0.008 * 0.64 + 5 * 0.0016 * 0.8 + 0.00032).
        assert!(close(
            ln_binomial_upper_tail(3, 5, 0.2).exp(),
            0.05792,
            1e-12
        ));
        // Every draw a success: p^n, far below what an f64 holds, kept in log space.
        assert!(close(
            ln_binomial_upper_tail(600, 600, 0.1),
            600.0 * 0.1_f64.ln(),
            1e-12
        ));
        assert_eq!(ln_binomial_upper_tail(0, 10, 0.3), 0.0);
        assert_eq!(ln_binomial_upper_tail(11, 10, 0.3), f64::NEG_INFINITY);
        assert_eq!(ln_binomial_upper_tail(3, 10, 0.0), f64::NEG_INFINITY);
        // Below the mean the tail is close to 1.
        assert!(ln_binomial_upper_tail(1, 100, 0.5).exp() > 0.999_999);
    }

    #[test]
    fn benjamini_hochberg_finds_the_largest_passing_rank() {
        // m = 5, rate 0.05: thresholds 0.01, 0.02, 0.03, 0.04, 0.05. The third-smallest (0.025)
        // passes its 0.03, so the three smallest are discoveries although 0.025 > 0.01.
        let p_values = [0.2, 0.001, 0.025, 0.015, 0.9].map(f64::ln);
        let cutoff = benjamini_hochberg_cutoff(&p_values, 0.05).expect("discoveries");
        assert!(close(cutoff.exp(), 0.025, 1e-12));
        assert_eq!(
            benjamini_hochberg_cutoff(&[0.5_f64.ln(), 0.7_f64.ln()], 0.05),
            None
        );
        assert_eq!(benjamini_hochberg_cutoff(&[], 0.05), None);
    }

    #[test]
    fn mcnemar_weighs_only_discordant_pairs() {
        // 9 to 1: P(X >= 9 | 10, 1/2) = 11 / 1024.
        assert!(close(ln_mcnemar_p_value(9, 1).exp(), 11.0 / 1024.0, 1e-12));
        assert_eq!(ln_mcnemar_p_value(0, 0), 0.0);
    }
}
