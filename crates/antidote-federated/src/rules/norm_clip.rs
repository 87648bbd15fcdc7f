use crate::vector::{median, norm, weighted_mean};
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// Norm clipping (Sun, Kairouz, Suresh and McMahan 2019, "Can You Really Backdoor Federated
/// Learning?"): each update longer than the bound is scaled down to it, then the updates are
/// averaged. It does not exclude anyone; it bounds how far one client can pull the mean, which
/// defeats scaled (model-replacement) updates. The bound defaults to the median update norm.
#[derive(Debug, Clone, Copy, Default)]
pub struct NormClip {
    /// The largest norm an update keeps (the median norm when not given).
    pub bound: Option<f64>,
}

impl Aggregator for NormClip {
    fn rule(&self) -> Rule {
        Rule::NormClip
    }

    fn tolerates(&self, _clients: usize) -> usize {
        0
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        let norms: Vec<f64> = input.updates.iter().map(|update| norm(update)).collect();
        let bound = self.bound.unwrap_or_else(|| median(&mut norms.clone()));
        let n = input.updates.len() as f64;
        let weights: Vec<f64> = norms
            .iter()
            .map(|&length| {
                if length > bound {
                    bound / length / n
                } else {
                    1.0 / n
                }
            })
            .collect();
        // weighted_mean divides by the weights' sum; the clipped mean divides by n.
        let total: f64 = weights.iter().sum();
        let values = weighted_mean(input.updates, &weights)
            .into_iter()
            .map(|value| (f64::from(value) * total) as f32)
            .collect();
        Ok(Combined {
            values,
            weights: Some(weights),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_updates_are_scaled_to_the_bound_then_averaged() {
        // (3, 4) has norm 5 -> (0.6, 0.8); (0.3, 0.4) is within the bound.
        let updates: [&[f32]; 2] = [&[3.0, 4.0], &[0.3, 0.4]];
        let combined = NormClip { bound: Some(1.0) }
            .aggregate(&RoundInput::new(&updates))
            .unwrap();
        assert!((combined.values[0] - 0.45).abs() < 1e-6);
        assert!((combined.values[1] - 0.6).abs() < 1e-6);
    }

    #[test]
    fn the_default_bound_is_the_median_norm() {
        // norms 1, 2, 100: bound 2; the last becomes (2, 0): mean (1 + 2 + 2) / 3.
        let updates: [&[f32]; 3] = [&[1.0, 0.0], &[2.0, 0.0], &[100.0, 0.0]];
        let combined = NormClip::default()
            .aggregate(&RoundInput::new(&updates))
            .unwrap();
        assert!((combined.values[0] - 5.0 / 3.0).abs() < 1e-6);
    }
}
