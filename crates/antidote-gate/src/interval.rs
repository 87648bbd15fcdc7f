//! The Wilson score interval of a proportion, and Newcombe's interval of the difference of two
//! paired proportions.

use serde::{Deserialize, Serialize};

/// A two-sided confidence interval of a share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The lower bound.
    pub low: f64,
    /// The upper bound.
    pub high: f64,
    /// The confidence level (`0.95`).
    pub confidence: f64,
}

/// The Wilson score interval of `successes` out of `trials` at `confidence` (Wilson 1927,
/// "Probable inference, the law of succession, and statistical inference", JASA 22:209).
/// Unlike the normal approximation it stays inside `[0, 1]` and is not empty at 0 or `trials`
/// successes, which is where a gate's attack success rates live.
///
/// ```
/// use antidote_gate::wilson;
///
/// // 0 of 20: the rate may still be up to about 16% at 95% confidence.
/// let interval = wilson(0, 20, 0.95);
/// assert_eq!(interval.low, 0.0);
/// assert!((interval.high - 0.1611).abs() < 1e-4);
/// ```
#[must_use]
pub fn wilson(successes: usize, trials: usize, confidence: f64) -> Interval {
    if trials == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
            confidence,
        };
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z = normal_quantile(0.5 + confidence / 2.0);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
        confidence,
    }
}

/// The interval of the difference of two accuracies measured on the same records: `both`
/// records right under both models, `gained` right only under the first, `lost` right only under
/// the second, `neither` wrong under both. The difference is `(gained - lost) / n`.
///
/// Newcombe's square-and-add interval for paired proportions (Newcombe 1998, "Improved
/// confidence intervals for the difference between binomial proportions based on paired data",
/// Statistics in Medicine 17:2635, method 10): the Wilson intervals of the two accuracies,
/// combined with the correlation of the pairs (continuity-corrected when positive). Pairing is
/// what makes it narrow: two models that agree on most records differ by little, however
/// noisy each accuracy is on its own.
///
/// ```
/// use antidote_gate::paired_difference;
///
/// // 161 records: 59 right under both, 6 only under the first, 16 only under the second.
/// let interval = paired_difference(59, 6, 16, 80, 0.95);
/// assert!((interval.low - -0.1186).abs() < 1e-4);
/// assert!((interval.high - -0.0046).abs() < 1e-4);
/// ```
#[must_use]
pub fn paired_difference(
    both: usize,
    gained: usize,
    lost: usize,
    neither: usize,
    confidence: f64,
) -> Interval {
    let n = both + gained + lost + neither;
    if n == 0 {
        return Interval {
            low: -1.0,
            high: 1.0,
            confidence,
        };
    }
    let total = n as f64;
    let first = (both + gained) as f64 / total;
    let second = (both + lost) as f64 / total;
    let first_interval = wilson(both + gained, n, confidence);
    let second_interval = wilson(both + lost, n, confidence);
    // The phi coefficient of the 2x2 table, continuity-corrected towards zero when positive.
    let margins = [both + gained, lost + neither, both + lost, gained + neither];
    let phi = if margins.contains(&0) {
        0.0
    } else {
        let product: f64 = margins.iter().map(|&margin| margin as f64).product();
        let cross = both as f64 * neither as f64 - gained as f64 * lost as f64;
        let corrected = if cross > total / 2.0 {
            cross - total / 2.0
        } else if cross >= 0.0 {
            0.0
        } else {
            cross
        };
        corrected / product.sqrt()
    };
    let spread = |below: f64, above: f64| {
        (below * below + above * above - 2.0 * phi * below * above)
            .max(0.0)
            .sqrt()
    };
    let difference = first - second;
    Interval {
        low: (difference - spread(first - first_interval.low, second_interval.high - second))
            .max(-1.0),
        high: (difference + spread(first_interval.high - first, second - second_interval.low))
            .min(1.0),
        confidence,
    }
}

/// The standard normal quantile, by Acklam's rational approximation (relative error below
/// 1.2e-9), for `0 < p < 1`.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_the_normal_table() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-6);
        assert!((normal_quantile(0.995) - 2.575_829).abs() < 1e-6);
        assert!(normal_quantile(0.5).abs() < 1e-12);
    }

    #[test]
    fn wilson_matches_a_worked_example() {
        // Newcombe (1998), "Two-sided confidence intervals for the single proportion", table I:
        // 81 of 263 gives 0.2553 to 0.3662 at 95%.
        let interval = wilson(81, 263, 0.95);
        assert!((interval.low - 0.2553).abs() < 1e-4, "{interval:?}");
        assert!((interval.high - 0.3662).abs() < 1e-4, "{interval:?}");
        let all = wilson(20, 20, 0.95);
        assert!((all.high - 1.0).abs() < 1e-12, "{all:?}");
        assert!((all.low - 0.8389).abs() < 1e-4, "{all:?}");
    }

    #[test]
    fn paired_difference_matches_a_worked_example() {
        // Fagerland, Lydersen and Laake, "Statistical Analysis of Contingency Tables" (2017),
        // chapter 8: complete response before and after consolidation therapy (Cavo et al.
        // 2012), 59 6 / 16 80: estimate -0.0621, Newcombe square-and-add -0.1186 to -0.0046.
        let interval = paired_difference(59, 6, 16, 80, 0.95);
        assert!((interval.low - -0.1186).abs() < 1e-4, "{interval:?}");
        assert!((interval.high - -0.0046).abs() < 1e-4, "{interval:?}");
        // Swapping the models mirrors the interval.
        let mirrored = paired_difference(59, 16, 6, 80, 0.95);
        assert!((mirrored.low + interval.high).abs() < 1e-12, "{mirrored:?}");
        assert!((mirrored.high + interval.low).abs() < 1e-12, "{mirrored:?}");
    }

    #[test]
    fn paired_difference_narrows_with_agreement_and_matches_wald_when_large() {
        // Two models that agree on every record: the interval is tight around 0.
        let same = paired_difference(9_000, 0, 0, 1_000, 0.95);
        assert!(same.low > -0.001 && same.high < 0.001, "{same:?}");
        // Many records: close to the Wald interval of the paired difference.
        let (both, gained, lost, neither) = (7_000, 400, 600, 2_000);
        let n: f64 = 10_000.0;
        let difference = (400.0 - 600.0) / n;
        let variance = (1_000.0 / n - difference * difference) / n;
        let half = 1.959_964 * variance.sqrt();
        let interval = paired_difference(both, gained, lost, neither, 0.95);
        assert!(
            (interval.low - (difference - half)).abs() < 1e-3,
            "{interval:?}"
        );
        assert!(
            (interval.high - (difference + half)).abs() < 1e-3,
            "{interval:?}"
        );
    }

    #[test]
    fn paired_difference_covers_the_true_difference() {
        // 2,000 golden sets of 300 paired records drawn with a known difference of -0.05
        // (gained 0.05, lost 0.10): the 95% interval holds it in about 95% of them.
        let mut random = antidote_core::SplitMix64::new(7);
        let mut covered = 0;
        for _ in 0..2_000 {
            let mut cells = [0_usize; 4];
            for _ in 0..300 {
                let u = random.unit();
                let cell = if u < 0.70 {
                    0
                } else if u < 0.75 {
                    1
                } else if u < 0.85 {
                    2
                } else {
                    3
                };
                cells[cell] += 1;
            }
            let interval = paired_difference(cells[0], cells[1], cells[2], cells[3], 0.95);
            covered += usize::from(interval.low <= -0.05 && -0.05 <= interval.high);
        }
        assert!(
            (1_860..=1_940).contains(&covered),
            "covered {covered} of 2000"
        );
    }
}
