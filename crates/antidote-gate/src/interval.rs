//! The Wilson score interval of a proportion.

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
}
