use crate::vector::weighted_mean;
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// Federated averaging (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks
/// from Decentralized Data"): the plain mean. One client can move it anywhere; it is the
/// baseline the robust rules are compared with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mean;

impl Aggregator for Mean {
    fn rule(&self) -> Rule {
        Rule::Mean
    }

    fn tolerates(&self, _clients: usize) -> usize {
        0
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        let weights = vec![1.0 / input.updates.len() as f64; input.updates.len()];
        Ok(Combined {
            values: weighted_mean(input.updates, &weights),
            weights: Some(weights),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_three_updates() {
        let updates: [&[f32]; 3] = [&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]];
        let combined = Mean.aggregate(&RoundInput::new(&updates)).unwrap();
        assert_eq!(combined.values, [3.0, 4.0]);
    }
}
