use crate::vector::{cosine, norm};
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// FLTrust (Cao, Fang, Liu and Gong 2021, "FLTrust: Byzantine-robust Federated Learning via
/// Trust Bootstrapping"): the server computes its own update on a small clean root dataset; each
/// client's trust score is its cosine similarity to the server's update, clipped at zero; each
/// update is rescaled to the server update's norm; the aggregate is the trust-weighted mean.
/// A client pointing away from the server's update gets no weight, however many there are.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlTrust;

impl Aggregator for FlTrust {
    fn rule(&self) -> Rule {
        Rule::FlTrust
    }

    fn tolerates(&self, clients: usize) -> usize {
        clients.saturating_sub(1)
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        let root = input.root.ok_or(AggregateError::MissingRoot)?;
        let root_norm = norm(root);
        if root_norm == 0.0 {
            return Err(AggregateError::ZeroRoot);
        }
        let trust: Vec<f64> = input
            .updates
            .iter()
            .map(|update| cosine(update, root).max(0.0))
            .collect();
        let total: f64 = trust.iter().sum();
        let dim = root.len();
        let mut values = vec![0.0f64; dim];
        if total > 0.0 {
            for (update, &score) in input.updates.iter().zip(&trust) {
                let scale = score * root_norm / norm(update) / total;
                if scale > 0.0 {
                    for (value, &x) in values.iter_mut().zip(update.iter()) {
                        *value += scale * f64::from(x);
                    }
                }
            }
        }
        let weights = trust
            .iter()
            .map(|&score| if total > 0.0 { score / total } else { 0.0 })
            .collect();
        Ok(Combined {
            values: values.into_iter().map(|value| value as f32).collect(),
            weights: Some(weights),
        })
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    #[test]
    fn fltrust_by_hand() {
        // Root update (1, 0), norm 1. Clients: (2, 0) cosine 1; (0, 3) cosine 0; (-1, 0) cosine
        // -1 -> 0; (1, 1) cosine 1/√2. Rescaled to norm 1: (1, 0) and (1/√2, 1/√2).
        // Aggregate: (1·(1, 0) + (1/√2)·(1/√2, 1/√2)) / (1 + 1/√2) = (1.5, 0.5) / 1.7071.
        let updates: [&[f32]; 4] = [&[2.0, 0.0], &[0.0, 3.0], &[-1.0, 0.0], &[1.0, 1.0]];
        let root = [1.0f32, 0.0];
        let input = RoundInput::new(&updates).root(&root);
        let combined = FlTrust.aggregate(&input).unwrap();
        let s = 1.0 + std::f64::consts::FRAC_1_SQRT_2;
        assert!((f64::from(combined.values[0]) - 1.5 / s).abs() < 1e-6);
        assert!((f64::from(combined.values[1]) - 0.5 / s).abs() < 1e-6);
        let weights = combined.weights.unwrap();
        assert_eq!(weights[1], 0.0);
        assert_eq!(weights[2], 0.0);
    }

    #[test]
    fn fltrust_needs_the_servers_update() {
        let updates: [&[f32]; 1] = [&[1.0]];
        let err = FlTrust.aggregate(&RoundInput::new(&updates)).unwrap_err();
        assert!(matches!(err, AggregateError::MissingRoot));
    }
}
