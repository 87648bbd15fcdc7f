//! Pure statistics for drift between a baseline profile and new data.
//!
//! Numeric columns are summarised by a *quantile grid*: `grid[i]` is the value at rank
//! `i / (grid.len() - 1)`, so `grid[0]` is the minimum and the last entry the maximum, and the grid
//! is non-decreasing and free of NaN. Between grid points the distribution is taken to be
//! piecewise linear (linear interpolation of the quantile function, as `numpy.quantile` does), so
//! a grid built from the sorted sample itself describes that sample exactly up to interpolation.
//!
//! Categorical columns are summarised by non-negative weights (counts or shares) per category.
//! The distances here normalise the weights themselves, treat a missing entry (one slice shorter
//! than the other) as weight 0, count negative or non-finite weights as 0, and return 0 when
//! either side has no mass at all: with nothing to compare there is no evidence of drift.
//!
//! Known answers in the tests come from scipy 1.17.1 and numpy 2.4.6.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared as ChiSquaredDistribution, ContinuousCDF};

/// Proportion given to an empty bin by [`psi`] and [`psi_from_grids`], so the logarithm stays finite.
pub const PSI_EPSILON: f64 = 1e-4;

/// The value of the quantile grid at `rank` (clamped to `[0, 1]`), interpolating linearly between
/// grid points.
///
/// This is the inverse of [`cdf_at`] and matches `numpy.quantile(sample, rank)` (the default
/// `linear` method, Hyndman and Fan 1996, definition 7) when `grid` is the sorted sample. A grid
/// with one point is a point mass; an empty grid has no quantiles and gives NaN.
#[must_use]
pub fn quantile_at(grid: &[f64], rank: f64) -> f64 {
    match grid {
        [] => f64::NAN,
        [only] => *only,
        _ => {
            let last_segment = grid.len() - 2;
            let position = rank.clamp(0.0, 1.0) * (grid.len() - 1) as f64;
            let index = (position.floor() as usize).min(last_segment);
            let fraction = position - index as f64;
            let (low, high) = (grid[index], grid[index + 1]);
            low + fraction * (high - low)
        }
    }
}

/// The cumulative distribution function of a quantile grid at `x`: the piecewise-linear inverse of
/// the grid.
///
/// Returns 0 below the minimum and 1 at or above the maximum. At a value repeated in the grid
/// (a flat run of the quantile function, that is a point mass) the distribution function jumps,
/// and like any distribution function it is right-continuous: it returns the largest rank holding
/// that value. Between distinct grid points it interpolates linearly, which is the distribution
/// function of the piecewise-linear quantile function (Hyndman and Fan 1996, definition 7). An
/// empty grid gives 0 everywhere; a NaN `x` gives NaN.
#[must_use]
pub fn cdf_at(grid: &[f64], x: f64) -> f64 {
    let (Some(&min), Some(&max)) = (grid.first(), grid.last()) else {
        return 0.0;
    };
    if x < min {
        return 0.0;
    }
    if x >= max {
        return 1.0;
    }
    // Largest index whose value is at most `x`; `min <= x < max` keeps it below the last index.
    let index = grid
        .partition_point(|&value| value <= x)
        .saturating_sub(1)
        .min(grid.len() - 2);
    interpolated_rank(grid, index, x)
}

/// The left limit of [`cdf_at`] at `x`: the smallest rank holding `x` when `x` is in the grid.
fn cdf_below(grid: &[f64], x: f64) -> f64 {
    let (Some(&min), Some(&max)) = (grid.first(), grid.last()) else {
        return 0.0;
    };
    if x <= min {
        return 0.0;
    }
    if x > max {
        return 1.0;
    }
    // First index whose value is at least `x`; `min < x <= max` keeps it at 1 or more.
    let index = grid.partition_point(|&value| value < x).max(1);
    interpolated_rank(grid, index - 1, x)
}

/// The rank of `x` on the segment from `grid[index]` to `grid[index + 1]`.
fn interpolated_rank(grid: &[f64], index: usize, x: f64) -> f64 {
    let (low, high) = (grid[index], grid[index + 1]);
    let fraction = if high > low {
        ((x - low) / (high - low)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    (index as f64 + fraction) / (grid.len() - 1) as f64
}

/// The two-sample Kolmogorov–Smirnov statistic `D = sup_x |F_a(x) − F_b(x)|` between two quantile
/// grids (Kolmogorov 1933, Smirnov 1948; Press et al., Numerical Recipes, 3rd ed., §14.3).
///
/// Both distribution functions are piecewise linear with jumps only at repeated grid values, so
/// their difference is linear between the union of the grid points and the supremum is reached at a
/// grid point or as the limit just below one; both are evaluated at every point of both grids. On
/// grids built from the sorted samples the result is within about `1 / (n − 1)` of the
/// empirical-CDF statistic of `scipy.stats.ks_2samp`. Returns 0 when either grid is empty.
#[must_use]
pub fn ks_statistic(grid_a: &[f64], grid_b: &[f64]) -> f64 {
    if grid_a.is_empty() || grid_b.is_empty() {
        return 0.0;
    }
    grid_a
        .iter()
        .chain(grid_b)
        .map(|&x| {
            let at = (cdf_at(grid_a, x) - cdf_at(grid_b, x)).abs();
            let below = (cdf_below(grid_a, x) - cdf_below(grid_b, x)).abs();
            at.max(below)
        })
        .fold(0.0, f64::max)
}

/// The asymptotic two-sided p-value of a two-sample Kolmogorov–Smirnov statistic `d` for samples
/// of `n_a` and `n_b` records, with Stephens' (1970) small-sample correction.
///
/// With `en = sqrt(n_a n_b / (n_a + n_b))` and `λ = (en + 0.12 + 0.11 / en) d`, the p-value is
/// `Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²)` (Press et al., Numerical Recipes, 3rd ed.,
/// §14.3), which equals `scipy.special.kolmogorov(λ)`. For `λ < 1.18` the alternating series
/// converges slowly, so `Q_KS = 1 − sqrt(2π)/λ Σ_{j≥1} exp(−(2j − 1)² π² / (8 λ²))` is used
/// instead (Numerical Recipes, 3rd ed., §6.14). The result is clamped to `[0, 1]`; it is 1 when
/// `d ≤ 0` or either sample is empty. scipy's `ks_2samp(method="asymp")` uses a different finite-n
/// approximation and differs by up to a few percent at moderate `n`.
#[must_use]
pub fn ks_p_value(d: f64, n_a: u64, n_b: u64) -> f64 {
    if n_a == 0 || n_b == 0 || d.is_nan() || d <= 0.0 {
        return 1.0;
    }
    let (n_a, n_b) = (n_a as f64, n_b as f64);
    let en = (n_a * n_b / (n_a + n_b)).sqrt();
    let lambda = (en + 0.12 + 0.11 / en) * d;
    kolmogorov_survival(lambda).clamp(0.0, 1.0)
}

/// `Q_KS(λ)`, the survival function of the Kolmogorov distribution (Numerical Recipes, 3rd ed.,
/// §6.14).
fn kolmogorov_survival(lambda: f64) -> f64 {
    const TERMS: i32 = 100;
    if lambda < 1.18 {
        let factor = -std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda);
        let mut sum = 0.0;
        for j in 1..=TERMS {
            let odd = f64::from(2 * j - 1);
            let term = (factor * odd * odd).exp();
            sum += term;
            if term <= f64::EPSILON * sum {
                break;
            }
        }
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * sum
    } else {
        let factor = -2.0 * lambda * lambda;
        let mut sum = 0.0;
        let mut sign = 1.0;
        for j in 1..=TERMS {
            let term = (factor * f64::from(j * j)).exp();
            sum += sign * term;
            sign = -sign;
            if term <= f64::EPSILON * sum.abs() {
                break;
            }
        }
        2.0 * sum
    }
}

/// The 1-Wasserstein (earth mover's) distance `W1 = ∫₀¹ |Q_a(p) − Q_b(p)| dp` between two quantile
/// grids (Vallender 1974; Ramdas, García Trillos and Cuturi 2017, "On Wasserstein two-sample
/// testing").
///
/// Both quantile functions are linear between the union of the two grids' ranks, so the integral
/// is computed on that union, segment by segment: the trapezoid rule where the difference keeps its
/// sign, and the exact area of the two triangles where it changes sign. The result is in the
/// column's units. On 1001-point grids of two samples it is within a fraction of a percent of
/// `scipy.stats.wasserstein_distance`. Returns 0 when either grid is empty.
#[must_use]
pub fn wasserstein_from_grids(grid_a: &[f64], grid_b: &[f64]) -> f64 {
    if grid_a.is_empty() || grid_b.is_empty() {
        return 0.0;
    }
    // A one-point grid is a point mass: a constant quantile function on one segment.
    let segments_a = (grid_a.len() - 1).max(1);
    let segments_b = (grid_b.len() - 1).max(1);
    let value_a = |index: usize| grid_a[index.min(grid_a.len() - 1)];
    let value_b = |index: usize| grid_b[index.min(grid_b.len() - 1)];

    let (mut index_a, mut index_b) = (0, 0);
    let mut previous: Option<(f64, f64)> = None;
    let mut total = 0.0;
    // Merge the ranks `index_a / segments_a` and `index_b / segments_b`, compared exactly in
    // integers; both end at rank 1 together.
    while index_a <= segments_a && index_b <= segments_b {
        let left = index_a as u128 * segments_b as u128;
        let right = index_b as u128 * segments_a as u128;
        let (rank, difference) = match left.cmp(&right) {
            std::cmp::Ordering::Less => {
                let rank = index_a as f64 / segments_a as f64;
                let difference = value_a(index_a) - quantile_at(grid_b, rank);
                index_a += 1;
                (rank, difference)
            }
            std::cmp::Ordering::Greater => {
                let rank = index_b as f64 / segments_b as f64;
                let difference = quantile_at(grid_a, rank) - value_b(index_b);
                index_b += 1;
                (rank, difference)
            }
            std::cmp::Ordering::Equal => {
                let rank = index_a as f64 / segments_a as f64;
                let difference = value_a(index_a) - value_b(index_b);
                index_a += 1;
                index_b += 1;
                (rank, difference)
            }
        };
        if let Some((previous_rank, previous_difference)) = previous {
            total += area_between(rank - previous_rank, previous_difference, difference);
        }
        previous = Some((rank, difference));
    }
    total
}

/// `∫ |d(t)| dt` over a segment of `width` on which `d` runs linearly from `start` to `end`.
fn area_between(width: f64, start: f64, end: f64) -> f64 {
    if start * end >= 0.0 {
        width * (start.abs() + end.abs()) / 2.0
    } else {
        // Two triangles meeting where `d` crosses zero.
        width * (start * start + end * end) / (2.0 * (start.abs() + end.abs()))
    }
}

/// The 1-Wasserstein distance of [`wasserstein_from_grids`] divided by the baseline's standard
/// deviation, so one threshold fits columns of any scale.
///
/// This is Evidently's "Wasserstein distance (normed)" drift method, `wasserstein_distance(reference,
/// current) / np.std(reference)` (Evidently AI, stattest `wasserstein`, default threshold 0.1). Pass the population standard deviation ([`Moments::std`]). A constant
/// baseline (`baseline_std` 0, negative or NaN) gives 0 when the distance is 0 and infinity
/// otherwise: any movement away from a constant is unbounded drift in standard-deviation units.
#[must_use]
pub fn normalized_wasserstein(grid_a: &[f64], grid_b: &[f64], baseline_std: f64) -> f64 {
    let distance = wasserstein_from_grids(grid_a, grid_b);
    if baseline_std.is_nan() || baseline_std <= 0.0 {
        if distance == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        distance / baseline_std
    }
}

/// The Population Stability Index of the current distribution against the baseline, binned at
/// the baseline's quantiles (Siddiqi 2006, "Credit Risk Scorecards"; Yurdakul 2018, "Statistical properties of population
/// stability index").
///
/// The `bins − 1` interior edges are the baseline quantiles at ranks `k / bins` (deciles for 10
/// bins), with repeated edges merged; the outer bins are open, so current values outside the
/// baseline's range still count. Bins are `(edge_{k−1}, edge_k]`, and both distributions' shares
/// come from [`cdf_at`] at the edges, so a baseline point mass lands in one bin. Shares are then
/// compared by [`psi`]. Returns 0 when either grid is empty or `bins < 2`. A common reading: below
/// 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major shift.
#[must_use]
pub fn psi_from_grids(grid_base: &[f64], grid_current: &[f64], bins: usize) -> f64 {
    if grid_base.is_empty() || grid_current.is_empty() || bins < 2 {
        return 0.0;
    }
    let mut edges: Vec<f64> = (1..bins)
        .map(|k| quantile_at(grid_base, k as f64 / bins as f64))
        .collect();
    edges.dedup();
    let shares = |grid: &[f64]| -> Vec<f64> {
        let mut cumulative: Vec<f64> = Vec::with_capacity(edges.len() + 2);
        cumulative.push(0.0);
        cumulative.extend(edges.iter().map(|&edge| cdf_at(grid, edge)));
        cumulative.push(1.0);
        cumulative
            .windows(2)
            .map(|pair| (pair[1] - pair[0]).max(0.0))
            .collect()
    };
    psi(&shares(grid_base), &shares(grid_current))
}

/// The Population Stability Index `PSI = Σ (a_i − e_i) ln(a_i / e_i)` between the expected
/// (baseline) and actual (current) shares of the same bins (Siddiqi 2006, "Credit Risk
/// Scorecards").
///
/// Both inputs are normalised to sum to 1, so counts work as well as shares. A share below
/// [`PSI_EPSILON`] (1e-4), including an empty bin, is raised to it before the sum, the usual
/// convention (Evidently replaces empty bins by 0.0001) that keeps the logarithm finite. Every term
/// is non-negative. Returns 0 when either side has no mass.
#[must_use]
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    let Some((expected, actual)) = normalized_pair(expected, actual) else {
        return 0.0;
    };
    expected
        .iter()
        .zip(&actual)
        .map(|(&expected, &actual)| {
            let (expected, actual) = (expected.max(PSI_EPSILON), actual.max(PSI_EPSILON));
            (actual - expected) * (actual / expected).ln()
        })
        .sum()
}

/// The outcome of a chi-squared test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquared {
    /// Pearson's chi-squared statistic; infinite when a category the baseline never saw appears.
    pub statistic: f64,
    /// Degrees of freedom of the reference chi-squared distribution, at least 1.
    pub degrees_of_freedom: u64,
    /// Probability of a statistic at least this large if nothing drifted.
    pub p_value: f64,
}

impl ChiSquared {
    /// No evidence either way: statistic 0, p-value 1.
    fn no_evidence(degrees_of_freedom: u64) -> Self {
        Self {
            statistic: 0.0,
            degrees_of_freedom,
            p_value: 1.0,
        }
    }

    fn from_statistic(statistic: f64, degrees_of_freedom: u64) -> Self {
        Self {
            statistic,
            degrees_of_freedom,
            p_value: chi_squared_survival(statistic, degrees_of_freedom),
        }
    }
}

/// Pearson's chi-squared goodness-of-fit test of observed category counts against the baseline's
/// category shares (Pearson 1900; as `scipy.stats.chisquare(observed, f_exp=shares * total)`).
///
/// The shares are normalised and multiplied by the total observed count to give expected counts;
/// the statistic is `Σ (o_i − e_i)² / e_i` over categories with `e_i > 0`. A category with expected
/// count 0 but observed records (a value the baseline never saw) makes the statistic infinite and
/// the p-value 0. Degrees of freedom are the number of categories with `e_i > 0` minus 1, at least
/// 1; the p-value is the chi-squared survival function. With no observations or no baseline mass
/// the result is statistic 0, p-value 1. Missing entries count as 0.
#[must_use]
pub fn chi_squared_goodness_of_fit(expected_shares: &[f64], observed_counts: &[u64]) -> ChiSquared {
    let len = expected_shares.len().max(observed_counts.len());
    let observed = |index: usize| {
        observed_counts
            .get(index)
            .map_or(0.0, |&count| count as f64)
    };
    let total: f64 = (0..len).map(observed).sum();
    let Some(shares) = normalized(expected_shares, len) else {
        return ChiSquared::no_evidence(1);
    };
    let supported = shares.iter().filter(|&&share| share > 0.0).count() as u64;
    let degrees_of_freedom = supported.saturating_sub(1).max(1);
    if total == 0.0 {
        return ChiSquared::no_evidence(degrees_of_freedom);
    }
    let mut statistic = 0.0;
    for (index, &share) in shares.iter().enumerate() {
        let expected = share * total;
        let observed = observed(index);
        if expected > 0.0 {
            statistic += (observed - expected).powi(2) / expected;
        } else if observed > 0.0 {
            statistic = f64::INFINITY;
        }
    }
    ChiSquared::from_statistic(statistic, degrees_of_freedom)
}

/// Pearson's chi-squared test of homogeneity on the 2×k contingency table of two samples'
/// category counts, matching `scipy.stats.chi2_contingency([counts_a, counts_b])` with its
/// defaults (Pearson 1900; Yates 1934).
///
/// Expected counts are `row total × column total / grand total`; degrees of freedom are `k − 1`.
/// Categories empty in both samples are dropped first (scipy raises an error on them instead).
/// When there are two categories (one degree of freedom) Yates' continuity correction is applied
/// as scipy does by default: each `|o − e|` shrinks by `min(0.5, |o − e|)`. With fewer than two
/// non-empty categories or an empty sample the result is statistic 0, p-value 1, with degrees of
/// freedom `max(k − 1, 1)`. Missing entries count as 0.
#[must_use]
pub fn chi_squared_two_sample(counts_a: &[u64], counts_b: &[u64]) -> ChiSquared {
    let len = counts_a.len().max(counts_b.len());
    let count = |counts: &[u64], index: usize| counts.get(index).map_or(0.0, |&count| count as f64);
    let columns: Vec<(f64, f64)> = (0..len)
        .map(|index| (count(counts_a, index), count(counts_b, index)))
        .filter(|&(a, b)| a + b > 0.0)
        .collect();
    let degrees_of_freedom = (columns.len() as u64).saturating_sub(1).max(1);
    let total_a: f64 = columns.iter().map(|&(a, _)| a).sum();
    let total_b: f64 = columns.iter().map(|&(_, b)| b).sum();
    if columns.len() < 2 || total_a == 0.0 || total_b == 0.0 {
        return ChiSquared::no_evidence(degrees_of_freedom);
    }
    let total = total_a + total_b;
    let yates = columns.len() == 2;
    let mut statistic = 0.0;
    for &(a, b) in &columns {
        for (observed, row_total) in [(a, total_a), (b, total_b)] {
            let expected = row_total * (a + b) / total;
            let mut deviation = (observed - expected).abs();
            if yates {
                deviation -= deviation.min(0.5);
            }
            statistic += deviation * deviation / expected;
        }
    }
    ChiSquared::from_statistic(statistic, degrees_of_freedom)
}

/// The chi-squared survival function `P(X ≥ statistic)`, the regularized upper incomplete gamma
/// function `Q(dof / 2, statistic / 2)`.
fn chi_squared_survival(statistic: f64, degrees_of_freedom: u64) -> f64 {
    if statistic.is_nan() || statistic <= 0.0 {
        return 1.0;
    }
    if statistic.is_infinite() {
        return 0.0;
    }
    let distribution = ChiSquaredDistribution::new(degrees_of_freedom.max(1) as f64)
        .expect("degrees of freedom are finite and at least 1");
    distribution.sf(statistic).clamp(0.0, 1.0)
}

/// The Jensen–Shannon distance between two category distributions, in base 2 so it lies in
/// `[0, 1]`: the square root of the Jensen–Shannon divergence (Lin 1991, "Divergence measures based
/// on the Shannon entropy"; Endres and Schindelin 2003 prove the root is a metric).
///
/// `JSD = ½ Σ p_i log₂(p_i / m_i) + ½ Σ q_i log₂(q_i / m_i)` with `m = (p + q) / 2`, after
/// normalising both weight vectors. Equals `scipy.spatial.distance.jensenshannon(p, q, base=2)`.
/// Missing entries count as 0; returns 0 when either side has no mass.
#[must_use]
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> f64 {
    let divergence: f64 = jensen_shannon_contributions(p, q).iter().sum();
    divergence.clamp(0.0, 1.0).sqrt()
}

/// Each category's share of the base-2 Jensen–Shannon divergence (Lin 1991), the terms
/// `½ p_i log₂(p_i / m_i) + ½ q_i log₂(q_i / m_i)` with `m = (p + q) / 2`.
///
/// Each term is non-negative and they sum to the divergence, the square of
/// [`jensen_shannon_distance`], so the largest terms name the categories (tokens, labels) that
/// carry most of the drift. The result has one entry per category of the longer input; missing
/// entries count as 0, and when either side has no mass every contribution is 0.
#[must_use]
pub fn jensen_shannon_contributions(p: &[f64], q: &[f64]) -> Vec<f64> {
    let Some((p, q)) = normalized_pair(p, q) else {
        return vec![0.0; p.len().max(q.len())];
    };
    p.iter()
        .zip(&q)
        .map(|(&p, &q)| {
            let mean = f64::midpoint(p, q);
            (0.5 * (relative_entropy_term(p, mean) + relative_entropy_term(q, mean))).max(0.0)
        })
        .collect()
}

/// `x log₂(x / m)`, with `0 log 0 = 0`.
fn relative_entropy_term(x: f64, m: f64) -> f64 {
    if x > 0.0 { x * (x / m).log2() } else { 0.0 }
}

/// The L-infinity distance `max_i |p_i − q_i|` between two normalised category distributions, the
/// categorical drift measure of TensorFlow Data Validation (TFDV, "Get started", drift and skew
/// detection: `infinity_norm`).
///
/// Lies in `[0, 1]`. Missing entries count as 0; returns 0 when either side has no mass.
#[must_use]
pub fn l_infinity(p: &[f64], q: &[f64]) -> f64 {
    let Some((p, q)) = normalized_pair(p, q) else {
        return 0.0;
    };
    p.iter()
        .zip(&q)
        .map(|(&p, &q)| (p - q).abs())
        .fold(0.0, f64::max)
}

/// The Shannon entropy `−Σ p_i log₂ p_i` of normalised weights, in bits (Shannon 1948), as
/// `scipy.stats.entropy(weights, base=2)`.
///
/// Lies in `[0, log₂ k]` for `k` categories; a sudden drop in a column's entropy is a sign of
/// injected duplicates. Returns 0 when the weights have no mass.
#[must_use]
pub fn entropy_bits(weights: &[f64]) -> f64 {
    let Some(shares) = normalized(weights, weights.len()) else {
        return 0.0;
    };
    let entropy: f64 = shares
        .iter()
        .map(|&share| -relative_entropy_term(share, 1.0))
        .sum();
    entropy.max(0.0)
}

/// `weights` padded with zeros to `len` and scaled to sum to 1; negative and non-finite weights
/// count as 0. `None` when nothing is left.
fn normalized(weights: &[f64], len: usize) -> Option<Vec<f64>> {
    let clean = |index: usize| {
        weights
            .get(index)
            .copied()
            .filter(|weight| weight.is_finite() && *weight > 0.0)
            .unwrap_or(0.0)
    };
    let total: f64 = (0..len).map(clean).sum();
    if !(total.is_finite() && total > 0.0) {
        return None;
    }
    Some((0..len).map(|index| clean(index) / total).collect())
}

/// Both weight vectors, normalised and padded to the longer length.
fn normalized_pair(p: &[f64], q: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let len = p.len().max(q.len());
    Some((normalized(p, len)?, normalized(q, len)?))
}

/// Count, mean and sum of squared deviations of a numeric column, updated one value at a time and
/// mergeable across partitions.
///
/// `add` is Welford's update (Welford 1962, "Note on a method for calculating corrected sums of
/// squares and products") and `merge` the pairwise combination of Chan et al. (1979,
/// "Updating formulae and a pairwise algorithm for computing sample variances"), both numerically
/// stable. Non-finite values propagate, so callers filter missing values first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values added.
    pub count: u64,
    /// Mean of the values, 0 when there are none.
    pub mean: f64,
    /// Sum of squared deviations from the mean (`M2`).
    pub m2: f64,
}

impl Moments {
    /// Adds one value (Welford 1962).
    pub fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Adds every value of `other`, as if they had been added one by one (Chan et al. 1979):
    /// `M2 = M2_a + M2_b + δ² n_a n_b / n` with `δ = mean_b − mean_a`.
    pub fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let count = self.count + other.count;
        let (count_a, count_b, total) = (self.count as f64, other.count as f64, count as f64);
        let delta = other.mean - self.mean;
        self.mean += delta * count_b / total;
        self.m2 += other.m2 + delta * delta * count_a * count_b / total;
        self.count = count;
    }

    /// The population variance `M2 / n`, as `numpy.var`; 0 when no value was added.
    #[must_use]
    pub fn variance(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.m2 / self.count as f64).max(0.0)
        }
    }

    /// The population standard deviation, as `numpy.std`; 0 when no value was added.
    #[must_use]
    pub fn std(&self) -> f64 {
        self.variance().sqrt()
    }
}

impl FromIterator<f64> for Moments {
    fn from_iter<I: IntoIterator<Item = f64>>(values: I) -> Self {
        let mut moments = Self::default();
        values.into_iter().for_each(|x| moments.add(x));
        moments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|actual − expected| <= tolerance × max(|expected|, 1e-300)`.
    fn assert_close(actual: f64, expected: f64, relative_tolerance: f64) {
        let scale = expected.abs().max(1e-300);
        assert!(
            (actual - expected).abs() <= relative_tolerance * scale,
            "{actual} differs from {expected} by more than {relative_tolerance} relative"
        );
    }

    /// `SplitMix64` (Steele, Lea and Flood 2014), reproduced in Python for the scipy references.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `[0, 1)`.
        fn next_f64(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
        }
    }

    /// Sorted sample: the sample is its own quantile grid.
    fn sorted(mut sample: Vec<f64>) -> Vec<f64> {
        sample.sort_by(f64::total_cmp);
        sample
    }

    /// A quantile grid of `points` ranks, as `numpy.quantile(sample, numpy.linspace(0, 1, points))`.
    fn quantile_grid(sorted_sample: &[f64], points: usize) -> Vec<f64> {
        (0..points)
            .map(|k| quantile_at(sorted_sample, k as f64 / (points - 1) as f64))
            .collect()
    }

    /// The two samples behind the Wasserstein and KS references:
    /// `a = 10 u` for 2000 draws of seed 1 and `b = 1 + 12 u²` for 3000 draws of seed 2.
    fn reference_samples() -> (Vec<f64>, Vec<f64>) {
        let mut rng_a = SplitMix64(1);
        let mut rng_b = SplitMix64(2);
        let a = (0..2000).map(|_| 10.0 * rng_a.next_f64()).collect();
        let b = (0..3000)
            .map(|_| 1.0 + 12.0 * rng_b.next_f64().powi(2))
            .collect();
        (sorted(a), sorted(b))
    }

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "the generator must reproduce Python's draws exactly"
    )]
    fn splitmix_matches_the_python_reference() {
        // Python: first draw of seed 1 and second draw of seed 2 (see the generator in the tests).
        assert_eq!(SplitMix64(1).next_f64(), 0.566_561_575_172_280_9);
        let mut rng = SplitMix64(2);
        rng.next_f64();
        assert_eq!(rng.next_f64(), 0.749_149_683_873_824_6);
    }

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "grid points and midpoints are exact in binary"
    )]
    fn cdf_at_interpolates_and_clamps() {
        let grid = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(cdf_at(&grid, -1.0), 0.0);
        assert_eq!(cdf_at(&grid, 0.0), 0.0);
        assert_eq!(cdf_at(&grid, 1.5), 0.375);
        assert_eq!(cdf_at(&grid, 4.0), 1.0);
        assert_eq!(cdf_at(&grid, 9.0), 1.0);
        assert_eq!(cdf_at(&[], 1.0), 0.0);
        assert!(cdf_at(&grid, f64::NAN).is_nan());
    }

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "ranks of a five-point grid are exact in binary"
    )]
    fn cdf_at_returns_the_largest_rank_of_a_repeated_value() {
        let grid = [0.0, 1.0, 1.0, 1.0, 2.0];
        assert_eq!(cdf_at(&grid, 0.5), 0.125);
        assert_eq!(cdf_at(&grid, 1.0), 0.75);
        assert_eq!(cdf_below(&grid, 1.0), 0.25);
        assert_eq!(cdf_at(&grid, 1.5), 0.875);
        // A point mass.
        assert_eq!(cdf_at(&[3.0], 2.9), 0.0);
        assert_eq!(cdf_at(&[3.0], 3.0), 1.0);
        assert_eq!(cdf_at(&[3.0, 3.0, 3.0], 3.0), 1.0);
        // A repeated minimum is a jump at the minimum.
        assert_eq!(cdf_at(&[0.0, 0.0, 0.0, 1.0, 1.0], 0.0), 0.5);
    }

    #[test]
    fn quantile_at_inverts_cdf_at() {
        let mut rng = SplitMix64(7);
        let grid = sorted((0..50).map(|_| rng.next_f64() * 100.0).collect());
        for k in 0..=100 {
            let rank = f64::from(k) / 100.0;
            assert!((cdf_at(&grid, quantile_at(&grid, rank)) - rank).abs() < 1e-9);
        }
    }

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "the statistic is a difference of exact ranks"
    )]
    fn ks_statistic_known_answers() {
        // Half the mass of `a` sits at 0, where uniform `b` has none yet.
        assert_eq!(
            ks_statistic(&[0.0, 0.0, 0.0, 1.0, 1.0], &[0.0, 0.25, 0.5, 0.75, 1.0]),
            0.5
        );
        // A point mass at 1 against uniform [0, 1]: the supremum is the limit just below 1,
        // which evaluation at the grid points alone would miss.
        assert_eq!(ks_statistic(&[0.0, 1.0], &[1.0, 1.0]), 1.0);
        assert_eq!(ks_statistic(&[0.0, 1.0], &[0.5, 0.5]), 0.5);
        // Disjoint supports.
        assert_eq!(ks_statistic(&[0.0, 1.0], &[2.0, 3.0]), 1.0);
        assert_eq!(ks_statistic(&[], &[2.0, 3.0]), 0.0);
    }

    #[test]
    fn ks_statistic_of_sorted_samples_is_close_to_scipy() {
        let (a, b) = reference_samples();
        // scipy 1.17.1: scipy.stats.ks_2samp(a, b).statistic == 0.13483333333333336, with the
        // samples of `reference_samples`. The grid CDF interpolates between order statistics, so
        // it is within 1 / (n − 1) of the empirical CDF.
        let statistic = ks_statistic(&a, &b);
        assert!((statistic - 0.134_833_333_333_333_36).abs() < 1.0 / 1999.0);
    }

    #[test]
    fn ks_p_value_matches_stephens_formula_and_scipy() {
        // (d, n_a, n_b, Stephens, scipy asymp). Stephens' value is
        // scipy 1.17.1: scipy.special.kolmogorov((en + 0.12 + 0.11 / en) * d),
        //     en = sqrt(n_a * n_b / (n_a + n_b)),
        // the formula implemented here. scipy's ks_2samp(..., method='asymp') instead computes
        // scipy.stats.kstwo.sf(d, round(n_a * n_b / (n_a + n_b))), a different approximation,
        // so it is only checked within 5%.
        let cases = [
            (
                0.1,
                500,
                400,
                0.021_762_276_676_177_163,
                0.021_946_553_413_601_29,
            ),
            (
                0.05,
                1000,
                2000,
                0.069_087_017_360_986_73,
                0.068_838_721_665_267_5,
            ),
            (
                0.3,
                30,
                40,
                0.073_171_604_903_271_97,
                0.074_759_490_185_148_6,
            ),
            (
                0.02,
                5000,
                5000,
                0.267_389_043_943_776_66,
                0.266_450_447_846_519_7,
            ),
        ];
        for (d, n_a, n_b, stephens, scipy_asymp) in cases {
            let p_value = ks_p_value(d, n_a, n_b);
            assert_close(p_value, stephens, 1e-9);
            assert_close(p_value, scipy_asymp, 0.05);
        }
    }

    #[test]
    #[expect(clippy::float_cmp, reason = "the boundary cases are exact")]
    fn ks_p_value_boundaries() {
        assert_eq!(ks_p_value(0.0, 100, 100), 1.0);
        assert_eq!(ks_p_value(0.5, 0, 100), 1.0);
        assert_eq!(ks_p_value(1e-6, 100, 100), 1.0);
        assert!(ks_p_value(1.0, 10_000, 10_000) < 1e-300);
        // Continuous across the switch between the two series at λ = 1.18.
        let en = (50.0_f64 * 50.0 / 100.0).sqrt();
        let d_at_switch = 1.18 / (en + 0.12 + 0.11 / en);
        assert_close(
            ks_p_value(d_at_switch - 1e-12, 50, 50),
            ks_p_value(d_at_switch + 1e-12, 50, 50),
            1e-9,
        );
        let mut previous = 1.0;
        for step in 1..=100 {
            let p_value = ks_p_value(f64::from(step) / 100.0, 50, 50);
            assert!((0.0..=previous).contains(&p_value));
            previous = p_value;
        }
    }

    #[test]
    fn wasserstein_known_answers() {
        // A shift moves every quantile by the shift.
        let grid: Vec<f64> = (0..=100).map(|k| f64::from(k) / 100.0).collect();
        let shifted: Vec<f64> = grid.iter().map(|x| x + 0.5).collect();
        assert_close(wasserstein_from_grids(&grid, &shifted), 0.5, 1e-12);
        // Uniform [0, 1] against a point mass at 0.5: ∫ |p − 0.5| dp = 0.25, which needs the
        // sign change inside the single segment handled exactly.
        assert_close(wasserstein_from_grids(&[0.0, 1.0], &[0.5]), 0.25, 1e-12);
        // Grids of different lengths describing the same uniform distribution.
        assert!(wasserstein_from_grids(&[0.0, 1.0], &[0.0, 0.25, 0.5, 0.75, 1.0]) < 1e-15);
        // Uniform [0, 1] against uniform [0, 2]: ∫ p dp = 0.5, on grids of 3 and 4 points.
        assert_close(
            wasserstein_from_grids(&[0.0, 0.5, 1.0], &[0.0, 2.0 / 3.0, 4.0 / 3.0, 2.0]),
            0.5,
            1e-12,
        );
        assert!(wasserstein_from_grids(&[], &[1.0]).abs() < f64::EPSILON);
    }

    #[test]
    fn wasserstein_of_sample_grids_is_close_to_scipy() {
        let (a, b) = reference_samples();
        // scipy 1.17.1: scipy.stats.wasserstein_distance(a, b) == 0.8177117898267543, with the
        // samples of `reference_samples`; grids as numpy.quantile(a, numpy.linspace(0, 1, 1001)).
        let expected = 0.817_711_789_826_754_3;
        let from_grids = wasserstein_from_grids(&quantile_grid(&a, 1001), &quantile_grid(&b, 1001));
        assert_close(from_grids, expected, 0.01);
        // Grids of unequal length (the sorted samples themselves) are integrated exactly.
        assert_close(wasserstein_from_grids(&a, &b), expected, 0.01);
    }

    #[test]
    #[expect(clippy::float_cmp, reason = "the constant-baseline cases are exact")]
    fn normalized_wasserstein_divides_by_the_baseline_std() {
        let grid = [0.0, 1.0, 2.0];
        let shifted = [2.0, 3.0, 4.0];
        assert_close(normalized_wasserstein(&grid, &shifted, 4.0), 0.5, 1e-12);
        assert_eq!(normalized_wasserstein(&[1.0], &[1.0], 0.0), 0.0);
        assert_eq!(normalized_wasserstein(&[1.0], &[2.0], 0.0), f64::INFINITY);
    }

    #[test]
    fn psi_known_answers() {
        // Python: sum((a - e) * log(a / e)) with e, a = maximum(e, 1e-4), maximum(a, 1e-4).
        assert_close(
            psi(&[0.25, 0.25, 0.25, 0.25], &[0.1, 0.2, 0.3, 0.4]),
            0.228_217_409_573_391_82,
            1e-12,
        );
        // An empty expected bin is raised to 1e-4.
        assert_close(
            psi(&[0.5, 0.5, 0.0], &[0.4, 0.4, 0.2]),
            1.564_049_111_925_304_4,
            1e-12,
        );
        // Counts are normalised like shares.
        assert_close(
            psi(&[25.0, 25.0, 25.0, 25.0], &[10.0, 20.0, 30.0, 40.0]),
            0.228_217_409_573_391_82,
            1e-12,
        );
        assert!(psi(&[0.5, 0.5], &[0.5, 0.5]).abs() < f64::EPSILON);
        assert!(psi(&[], &[]).abs() < f64::EPSILON);
    }

    #[test]
    fn psi_from_grids_known_answers() {
        // Baseline uniform [0, 1], current uniform [0.5, 1.5]: baseline deciles give expected
        // shares 0.1 each, and current shares [0, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.6].
        // Python: sum((a - e) * log(a / e)) with the 1e-4 floor == 4.346303496465605.
        let base: Vec<f64> = (0..=100).map(|k| f64::from(k) / 100.0).collect();
        let current: Vec<f64> = base.iter().map(|x| x + 0.5).collect();
        assert_close(
            psi_from_grids(&base, &current, 10),
            4.346_303_496_465_605,
            1e-9,
        );
        assert!(psi_from_grids(&base, &base, 10).abs() < 1e-12);
        assert!(psi_from_grids(&base, &current, 1).abs() < f64::EPSILON);
    }

    #[test]
    fn psi_from_grids_merges_repeated_edges() {
        // Half the baseline is 0: the deciles at ranks 0.1 to 0.5 are all 0 and become one edge,
        // whose bin holds the whole point mass.
        let base = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(psi_from_grids(&base, &base, 10).abs() < 1e-12);
        // The same shape without the point mass: the 50% at 0 is now spread over [0, 1].
        let spread = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(psi_from_grids(&base, &spread, 10) > 1.0);
    }

    #[test]
    fn chi_squared_goodness_of_fit_matches_scipy() {
        // scipy 1.17.1: scipy.stats.chisquare([18, 22, 20, 40], f_exp=[25, 25, 25, 25])
        let result = chi_squared_goodness_of_fit(&[0.25, 0.25, 0.25, 0.25], &[18, 22, 20, 40]);
        assert_close(result.statistic, 12.32, 1e-12);
        assert_eq!(result.degrees_of_freedom, 3);
        assert_close(result.p_value, 0.006_363_629_995_195_269, 1e-9);
        // scipy 1.17.1: scipy.stats.chisquare([8, 25, 30, 37], f_exp=[10, 20, 30, 40])
        let result = chi_squared_goodness_of_fit(&[0.1, 0.2, 0.3, 0.4], &[8, 25, 30, 37]);
        assert_close(result.statistic, 1.875, 1e-12);
        assert_close(result.p_value, 0.598_751_633_067_561_7, 1e-9);
    }

    #[test]
    #[expect(clippy::float_cmp, reason = "the degenerate cases are exact")]
    fn chi_squared_goodness_of_fit_edge_cases() {
        // A category the baseline never saw.
        let unseen = chi_squared_goodness_of_fit(&[0.5, 0.5], &[10, 10, 1]);
        assert_eq!(unseen.statistic, f64::INFINITY);
        assert_eq!(unseen.p_value, 0.0);
        assert_eq!(unseen.degrees_of_freedom, 1);
        // Unseen categories with no observations do not count towards the degrees of freedom.
        let unused = chi_squared_goodness_of_fit(&[0.5, 0.5, 0.0], &[10, 10, 0]);
        assert_eq!(unused.statistic, 0.0);
        assert_eq!(unused.p_value, 1.0);
        assert_eq!(unused.degrees_of_freedom, 1);
        let no_observations = chi_squared_goodness_of_fit(&[0.2, 0.3, 0.5], &[]);
        assert_eq!(no_observations.p_value, 1.0);
        assert_eq!(no_observations.degrees_of_freedom, 2);
        assert_eq!(chi_squared_goodness_of_fit(&[], &[1, 2]).p_value, 1.0);
    }

    #[test]
    fn chi_squared_two_sample_matches_scipy() {
        // scipy 1.17.1: scipy.stats.chi2_contingency([[10, 20, 30], [15, 25, 20]])
        let result = chi_squared_two_sample(&[10, 20, 30], &[15, 25, 20]);
        assert_close(result.statistic, 3.555_555_555_555_555_4, 1e-12);
        assert_eq!(result.degrees_of_freedom, 2);
        assert_close(result.p_value, 0.169_013_315_406_066_07, 1e-9);
        // scipy 1.17.1: scipy.stats.chi2_contingency([[12, 5], [7, 9]]), Yates-corrected
        let result = chi_squared_two_sample(&[12, 5], &[7, 9]);
        assert_close(result.statistic, 1.455_996_378_814_684, 1e-12);
        assert_eq!(result.degrees_of_freedom, 1);
        assert_close(result.p_value, 0.227_568_214_576_806_42, 1e-9);
        // A category empty in both samples is dropped, leaving the 2×2 table above.
        let padded = chi_squared_two_sample(&[12, 0, 5], &[7, 0, 9]);
        assert_eq!(padded, result);
    }

    #[test]
    #[expect(clippy::float_cmp, reason = "the degenerate cases are exact")]
    fn chi_squared_two_sample_edge_cases() {
        assert_eq!(chi_squared_two_sample(&[10, 20], &[0, 0]).p_value, 1.0);
        assert_eq!(chi_squared_two_sample(&[10], &[20]).p_value, 1.0);
        // Identical proportions.
        let same = chi_squared_two_sample(&[10, 20, 30], &[20, 40, 60]);
        assert!(same.statistic.abs() < 1e-12);
        assert_close(same.p_value, 1.0, 1e-12);
    }

    #[test]
    fn jensen_shannon_distance_matches_scipy() {
        // scipy 1.17.1: scipy.spatial.distance.jensenshannon([0.1, 0.4, 0.5], [0.8, 0.15, 0.05], base=2)
        assert_close(
            jensen_shannon_distance(&[0.1, 0.4, 0.5], &[0.8, 0.15, 0.05]),
            0.648_228_794_775_712_8,
            1e-12,
        );
        // scipy 1.17.1: scipy.spatial.distance.jensenshannon([2, 3, 5], [1, 1, 1], base=2)
        assert_close(
            jensen_shannon_distance(&[2.0, 3.0, 5.0], &[1.0, 1.0, 1.0]),
            0.157_759_009_159_548_88,
            1e-12,
        );
        // scipy 1.17.1: scipy.spatial.distance.jensenshannon([1, 0, 0], [0, 1, 0], base=2)
        assert_close(
            jensen_shannon_distance(&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]),
            1.0,
            1e-12,
        );
        // scipy 1.17.1: scipy.spatial.distance.jensenshannon([1, 2, 3], [1, 2, 0], base=2);
        // the missing third entry counts as 0.
        assert_close(
            jensen_shannon_distance(&[1.0, 2.0, 3.0], &[1.0, 2.0]),
            0.557_923_045_284_143_8,
            1e-12,
        );
        assert!(jensen_shannon_distance(&[0.0, 0.0], &[1.0, 2.0]).abs() < f64::EPSILON);
        assert!(jensen_shannon_distance(&[], &[]).abs() < f64::EPSILON);
    }

    #[test]
    fn jensen_shannon_contributions_sum_to_the_divergence() {
        // Python: p, q = array([0.1, 0.4, 0.5]), array([0.8, 0.15, 0.05]); m = (p + q) / 2;
        // 0.5 * p * log2(p / m) + 0.5 * q * log2(q / m)
        let contributions = jensen_shannon_contributions(&[0.1, 0.4, 0.5], &[0.8, 0.15, 0.05]);
        let expected = [
            0.223_533_749_350_959_5,
            0.042_528_492_428_829_97,
            0.154_138_328_596_583_83,
        ];
        assert_eq!(contributions.len(), 3);
        for (contribution, expected) in contributions.iter().zip(expected) {
            assert_close(*contribution, expected, 1e-12);
        }
        let divergence: f64 = contributions.iter().sum();
        assert_close(divergence, 0.648_228_794_775_712_8_f64.powi(2), 1e-12);
        assert_eq!(jensen_shannon_contributions(&[], &[1.0, 2.0]), vec![0.0; 2]);
    }

    #[test]
    fn jensen_shannon_distance_is_a_symmetric_bounded_distance() {
        let mut rng = SplitMix64(42);
        for round in 0..500 {
            let len = 1 + round % 12;
            let mut draw = || -> Vec<f64> {
                (0..len)
                    .map(|_| {
                        // About one weight in four is 0, to exercise the 0 log 0 terms.
                        let u = rng.next_f64();
                        if u < 0.25 { 0.0 } else { u * 100.0 }
                    })
                    .collect()
            };
            let (p, q) = (draw(), draw());
            let forward = jensen_shannon_distance(&p, &q);
            let backward = jensen_shannon_distance(&q, &p);
            assert!((0.0..=1.0).contains(&forward), "{forward} for {p:?}, {q:?}");
            assert!((forward - backward).abs() < 1e-12);
            assert!(jensen_shannon_distance(&p, &p) < 1e-7);
            let contributions = jensen_shannon_contributions(&p, &q);
            assert!(contributions.iter().all(|&term| term >= 0.0));
            let divergence: f64 = contributions.iter().sum();
            assert!((divergence.min(1.0).sqrt() - forward).abs() < 1e-12);
        }
    }

    #[test]
    fn l_infinity_known_answers() {
        assert_close(l_infinity(&[0.1, 0.4, 0.5], &[0.8, 0.15, 0.05]), 0.7, 1e-12);
        // Counts [1, 1] and [3, 1] are shares [0.5, 0.5] and [0.75, 0.25].
        assert_close(l_infinity(&[1.0, 1.0], &[3.0, 1.0]), 0.25, 1e-12);
        assert_close(l_infinity(&[1.0], &[1.0, 1.0]), 0.5, 1e-12);
        assert!(l_infinity(&[], &[1.0]).abs() < f64::EPSILON);
    }

    #[test]
    fn entropy_bits_matches_scipy() {
        // scipy 1.17.1: scipy.stats.entropy([1, 2, 3, 4], base=2)
        assert_close(
            entropy_bits(&[1.0, 2.0, 3.0, 4.0]),
            1.846_439_344_671_015_7,
            1e-12,
        );
        // scipy 1.17.1: scipy.stats.entropy([0.2, 0.3, 0.5], base=2)
        assert_close(
            entropy_bits(&[0.2, 0.3, 0.5]),
            1.485_475_297_227_334_6,
            1e-12,
        );
        assert_close(entropy_bits(&[0.5, 0.5]), 1.0, 1e-15);
        assert!(entropy_bits(&[1.0, 0.0, 0.0]).abs() < f64::EPSILON);
        assert!(entropy_bits(&[]).abs() < f64::EPSILON);
        // Negative and non-finite weights count as 0.
        assert_close(entropy_bits(&[1.0, -1.0, f64::NAN, 1.0]), 1.0, 1e-15);
    }

    #[test]
    fn ks_statistic_of_a_grid_with_itself_is_zero() {
        let mut rng = SplitMix64(3);
        for round in 0..200 {
            let len = 1 + round % 30;
            // Rounding to tenths makes repeated values, and so point masses, common.
            let grid = sorted(
                (0..len)
                    .map(|_| (rng.next_f64() * 10.0).round() / 10.0)
                    .collect(),
            );
            assert!(ks_statistic(&grid, &grid).abs() < f64::EPSILON);
            assert!(wasserstein_from_grids(&grid, &grid).abs() < f64::EPSILON);
            let other = sorted((0..len).map(|_| rng.next_f64() * 10.0).collect());
            let statistic = ks_statistic(&grid, &other);
            assert!((0.0..=1.0).contains(&statistic));
            assert!((statistic - ks_statistic(&other, &grid)).abs() < 1e-15);
        }
    }

    #[test]
    fn moments_known_answer() {
        // numpy.mean and numpy.var of [2, 4, 4, 4, 5, 5, 7, 9] are 5 and 4.
        let moments: Moments = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
            .into_iter()
            .collect();
        assert_eq!(moments.count, 8);
        assert_close(moments.mean, 5.0, 1e-15);
        assert_close(moments.variance(), 4.0, 1e-15);
        assert_close(moments.std(), 2.0, 1e-15);
        assert!(Moments::default().variance().abs() < f64::EPSILON);
    }

    #[test]
    fn moments_merge_equals_sequential_adds() {
        let mut rng = SplitMix64(11);
        for round in 0..200 {
            // A large offset makes the naive sum-of-squares formula lose every digit.
            let values: Vec<f64> = (0..(round % 40))
                .map(|_| 1e6 + rng.next_f64() * 10.0)
                .collect();
            let split = if values.is_empty() {
                0
            } else {
                (rng.next_u64() as usize) % (values.len() + 1)
            };
            let sequential: Moments = values.iter().copied().collect();
            let mut merged: Moments = values[..split].iter().copied().collect();
            merged.merge(&values[split..].iter().copied().collect());
            assert_eq!(merged.count, sequential.count);
            assert!((merged.mean - sequential.mean).abs() <= 1e-9 * sequential.mean.abs());
            assert!((merged.variance() - sequential.variance()).abs() < 1e-9);
        }
    }

    #[test]
    fn moments_round_trip_through_json() {
        let moments: Moments = [1.0, 2.0, 4.0].into_iter().collect();
        let json = serde_json::to_string(&moments).unwrap();
        assert_eq!(serde_json::from_str::<Moments>(&json).unwrap(), moments);
    }
}
