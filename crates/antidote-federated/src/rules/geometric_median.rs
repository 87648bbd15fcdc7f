use crate::vector::{coordinate_median, norm, squared_distance, weighted_mean};
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// The geometric median (Pillutla, Kakade and Harchaoui 2022, "Robust Aggregation for Federated
/// Learning", RFA): the point that minimises the sum of Euclidean distances to the updates,
/// found by the smoothed Weiszfeld iteration. It needs no attacker count and holds while fewer
/// than half of the clients are malicious.
///
/// The iteration starts at the coordinate-wise median, weighs each update by
/// `1 / max(ν, distance)` with `ν` a millionth of the updates' median norm (so that it never
/// divides by zero at a data point), and stops when the point moves less than `1e-7` of that
/// norm, or after 1,000 steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct GeometricMedian;

impl Aggregator for GeometricMedian {
    fn rule(&self) -> Rule {
        Rule::GeometricMedian
    }

    fn tolerates(&self, clients: usize) -> usize {
        clients.saturating_sub(1) / 2
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        let updates = input.updates;
        let mut norms: Vec<f64> = updates.iter().map(|update| norm(update)).collect();
        let scale = crate::vector::median(&mut norms).max(f64::MIN_POSITIVE);
        let smoothing = scale * 1e-6;
        let mut point = coordinate_median(updates);
        let mut weights = vec![1.0 / updates.len() as f64; updates.len()];
        for _ in 0..1_000 {
            for (weight, update) in weights.iter_mut().zip(updates) {
                *weight = 1.0 / squared_distance(update, &point).sqrt().max(smoothing);
            }
            let next = weighted_mean(updates, &weights);
            let moved = squared_distance(&next, &point).sqrt();
            point = next;
            if moved <= scale * 1e-7 {
                break;
            }
        }
        let total: f64 = weights.iter().sum();
        for weight in &mut weights {
            *weight /= total;
        }
        Ok(Combined {
            values: point,
            weights: Some(weights),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_one_dimension_the_geometric_median_is_the_median() {
        let updates: [&[f32]; 5] = [&[0.0], &[1.0], &[2.0], &[3.0], &[100.0]];
        let combined = GeometricMedian
            .aggregate(&RoundInput::new(&updates))
            .unwrap();
        assert!(
            (combined.values[0] - 2.0).abs() < 1e-4,
            "{:?}",
            combined.values
        );
    }

    #[test]
    fn the_centre_of_a_square_resists_a_far_point() {
        // Four corners of a square and one far point. On the diagonal x = y = 1 + u the
        // derivative of the sum of distances vanishes where 4u / sqrt(2 + 2u^2) = sqrt(2), that
        // is u = 1 / sqrt(3): the median sits at (1.577, 1.577), nowhere near the mean (20.8, 20.8).
        let updates: [&[f32]; 5] = [
            &[0.0, 0.0],
            &[2.0, 0.0],
            &[0.0, 2.0],
            &[2.0, 2.0],
            &[100.0, 100.0],
        ];
        let combined = GeometricMedian
            .aggregate(&RoundInput::new(&updates))
            .unwrap();
        let [x, y] = [combined.values[0], combined.values[1]];
        assert!((x - y).abs() < 1e-4, "symmetric: {x} {y}");
        assert!(
            (f64::from(x) - (1.0 + 1.0 / 3f64.sqrt())).abs() < 1e-3,
            "{x}"
        );
        // At the optimum the unit vectors toward the points sum to zero.
        let unit_sum: f64 = updates
            .iter()
            .map(|p| {
                let (dx, dy) = (f64::from(p[0] - x), f64::from(p[1] - y));
                dx / dx.hypot(dy)
            })
            .sum();
        assert!(unit_sum.abs() < 1e-3, "{unit_sum}");
    }
}
