use crate::vector::coordinate_median;
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// The coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards
/// Optimal Statistical Rates"): each coordinate is the median of the clients' values for it, so
/// fewer than half of the clients cannot move it outside the range of the honest values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Median;

impl Aggregator for Median {
    fn rule(&self) -> Rule {
        Rule::Median
    }

    fn tolerates(&self, clients: usize) -> usize {
        clients.saturating_sub(1) / 2
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        Ok(Combined {
            values: coordinate_median(input.updates),
            weights: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_extreme_client_does_not_move_the_median() {
        let updates: [&[f32]; 4] = [&[1.0, -1.0], &[2.0, -2.0], &[100.0, -100.0], &[3.0, -3.0]];
        let combined = Median.aggregate(&RoundInput::new(&updates)).unwrap();
        assert_eq!(combined.values, [2.5, -2.5]);
    }
}
