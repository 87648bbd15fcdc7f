//! The vector arithmetic every rule shares, accumulated in `f64` over `f32` updates.

use rayon::prelude::*;

/// Squared Euclidean distance.
#[must_use]
pub fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// Euclidean norm.
#[must_use]
pub fn norm(a: &[f32]) -> f64 {
    a.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Dot product.
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// Cosine similarity; 0 when either vector is zero.
#[must_use]
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let denominator = norm(a) * norm(b);
    if denominator > 0.0 {
        dot(a, b) / denominator
    } else {
        0.0
    }
}

/// The weighted sum `sum_i weights[i] * updates[i]` divided by the weights' sum.
#[must_use]
pub fn weighted_mean(updates: &[&[f32]], weights: &[f64]) -> Vec<f32> {
    let total: f64 = weights.iter().sum();
    let dim = updates.first().map_or(0, |update| update.len());
    (0..dim)
        .into_par_iter()
        .map(|j| {
            let sum: f64 = updates
                .iter()
                .zip(weights)
                .map(|(update, &weight)| weight * f64::from(update[j]))
                .sum();
            if total > 0.0 {
                (sum / total) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Every pair's squared distance, as a full symmetric matrix (row-major, `n * n`).
#[must_use]
pub fn pairwise_squared_distances(updates: &[&[f32]]) -> Vec<f64> {
    let n = updates.len();
    let upper: Vec<(usize, usize, f64)> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            (i + 1..n).map(move |j| (i, j, squared_distance(updates[i], updates[j])))
        })
        .collect();
    let mut matrix = vec![0.0; n * n];
    for (i, j, d) in upper {
        matrix[i * n + j] = d;
        matrix[j * n + i] = d;
    }
    matrix
}

/// Applies `reduce` to each coordinate's values across the updates (in a reused buffer).
pub fn coordinate_wise(updates: &[&[f32]], reduce: impl Fn(&mut [f64]) -> f64 + Sync) -> Vec<f32> {
    let dim = updates.first().map_or(0, |update| update.len());
    (0..dim)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(updates.len()),
            |column: &mut Vec<f64>, j| {
                column.clear();
                column.extend(updates.iter().map(|update| f64::from(update[j])));
                reduce(column) as f32
            },
        )
        .collect()
}

/// The median of `values` (the mean of the two middle values when their count is even), which it
/// reorders.
///
/// # Panics
///
/// When `values` is empty.
#[must_use]
pub fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    assert!(n > 0, "the median of no values is undefined");
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = values[..n / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        f64::midpoint(lower, upper)
    }
}

/// The coordinate-wise median of the updates.
#[must_use]
pub fn coordinate_median(updates: &[&[f32]]) -> Vec<f32> {
    coordinate_wise(updates, median)
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
    }

    #[test]
    fn pairwise_distances_are_symmetric_with_a_zero_diagonal() {
        let a = [0.0f32, 0.0];
        let b = [3.0f32, 4.0];
        let c = [0.0f32, 1.0];
        let m = pairwise_squared_distances(&[&a, &b, &c]);
        assert_eq!(m, vec![0.0, 25.0, 1.0, 25.0, 0.0, 18.0, 1.0, 18.0, 0.0]);
    }

    #[test]
    fn cosine_of_orthogonal_opposite_and_zero_vectors() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 2.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[-2.0, -2.0]) + 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
