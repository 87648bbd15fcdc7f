use crate::vector::coordinate_wise;
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// The coordinate-wise trimmed mean (Yin et al. 2018, "Byzantine-Robust Distributed Learning:
/// Towards Optimal Statistical Rates"): for each coordinate the `f` largest and `f` smallest
/// values are dropped and the rest averaged, `f` being the number of attackers assumed.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrimmedMean;

impl Aggregator for TrimmedMean {
    fn rule(&self) -> Rule {
        Rule::TrimmedMean
    }

    fn tolerates(&self, clients: usize) -> usize {
        clients.saturating_sub(1) / 2
    }

    fn needs_attackers(&self) -> bool {
        true
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        let trim = input.attackers;
        input.require(self, trim)?;
        let values = coordinate_wise(input.updates, |column| {
            column.sort_unstable_by(f64::total_cmp);
            let kept = &column[trim..column.len() - trim];
            kept.iter().sum::<f64>() / kept.len() as f64
        });
        Ok(Combined {
            values,
            weights: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_is_trimmed_from_each_end_of_each_coordinate() {
        let updates: [&[f32]; 4] = [&[1.0, 10.0], &[2.0, -50.0], &[3.0, 20.0], &[100.0, 30.0]];
        let input = RoundInput::new(&updates).attackers(1);
        let combined = TrimmedMean.aggregate(&input).unwrap();
        // first coordinate: 1 2 3 100 -> 2 3; second: -50 10 20 30 -> 10 20
        assert_eq!(combined.values, [2.5, 15.0]);
    }

    #[test]
    fn trimming_everything_is_refused() {
        let updates: [&[f32]; 2] = [&[1.0], &[2.0]];
        let input = RoundInput::new(&updates).attackers(1);
        let err = TrimmedMean.aggregate(&input).unwrap_err();
        assert!(
            matches!(err, AggregateError::TooFewClients { needed: 3, .. }),
            "{err}"
        );
    }
}
