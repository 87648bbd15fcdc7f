use crate::vector::{pairwise_squared_distances, weighted_mean};
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// Krum (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient
/// Descent"): each update is scored by the sum of squared distances to its `n - f - 2` nearest
/// neighbours, and the update with the lowest score is the aggregate. Holds for `n >= 2f + 3`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Krum;

/// Multi-Krum (same paper): the mean of the `m` updates with the lowest Krum scores; `m`
/// defaults to `n - f`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MultiKrum {
    /// How many updates are averaged (`n - f` when not given).
    pub selected: Option<usize>,
}

/// Krum's tolerance: `n >= 2f + 3`.
fn krum_tolerates(clients: usize) -> usize {
    clients.saturating_sub(3) / 2
}

/// The Krum score of each of `members` (indices into a distance matrix of `n` columns): the sum
/// of its squared distances to its `neighbours` nearest other members.
pub(crate) fn krum_scores(
    distances: &[f64],
    n: usize,
    members: &[usize],
    neighbours: usize,
) -> Vec<f64> {
    members
        .iter()
        .map(|&i| {
            let mut others: Vec<f64> = members
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| distances[i * n + j])
                .collect();
            others.sort_unstable_by(f64::total_cmp);
            others.iter().take(neighbours).sum()
        })
        .collect()
}

/// The members ordered by Krum score, lowest first; ties go to the lower index.
fn ranked(input: &RoundInput<'_>) -> Vec<usize> {
    let n = input.updates.len();
    let distances = pairwise_squared_distances(input.updates);
    let members: Vec<usize> = (0..n).collect();
    let neighbours = n.saturating_sub(input.attackers + 2).max(1);
    let scores = krum_scores(&distances, n, &members, neighbours);
    let mut order = members;
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    order
}

impl Aggregator for Krum {
    fn rule(&self) -> Rule {
        Rule::Krum
    }

    fn tolerates(&self, clients: usize) -> usize {
        krum_tolerates(clients)
    }

    fn needs_attackers(&self) -> bool {
        true
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        input.require(self, input.attackers)?;
        let chosen = ranked(input)[0];
        let mut weights = vec![0.0; input.updates.len()];
        weights[chosen] = 1.0;
        Ok(Combined {
            values: input.updates[chosen].to_vec(),
            weights: Some(weights),
        })
    }
}

impl Aggregator for MultiKrum {
    fn rule(&self) -> Rule {
        Rule::MultiKrum
    }

    fn tolerates(&self, clients: usize) -> usize {
        krum_tolerates(clients)
    }

    fn needs_attackers(&self) -> bool {
        true
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        input.require(self, input.attackers)?;
        let n = input.updates.len();
        let selected = self.selected.unwrap_or(n - input.attackers).clamp(1, n);
        let mut weights = vec![0.0; n];
        for &i in &ranked(input)[..selected] {
            weights[i] = 1.0 / selected as f64;
        }
        Ok(Combined {
            values: weighted_mean(input.updates, &weights),
            weights: Some(weights),
        })
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    // Five one-dimensional updates, one attacker: each is scored on its n - f - 2 = 2 nearest
    // neighbours.
    //   0.0: 1.0^2 + 2.5^2 = 7.25      1.0: 1.0^2 + 1.5^2 = 3.25     2.5: 0.5^2 + 1.5^2 = 2.5
    //   3.0: 0.5^2 + 2.0^2 = 4.25      100.0: 97^2 + 97.5^2
    const UPDATES: [&[f32]; 5] = [&[0.0], &[1.0], &[2.5], &[3.0], &[100.0]];

    #[test]
    fn krum_picks_the_update_with_the_lowest_score() {
        let input = RoundInput::new(&UPDATES).attackers(1);
        let combined = Krum.aggregate(&input).unwrap();
        assert_eq!(combined.values, [2.5]);
        assert_eq!(combined.weights.unwrap(), [0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn multi_krum_averages_the_best_m() {
        let input = RoundInput::new(&UPDATES).attackers(1);
        let combined = MultiKrum { selected: Some(3) }.aggregate(&input).unwrap();
        // 2.5, 1.0 and 3.0 have the three lowest scores
        assert!((f64::from(combined.values[0]) - 6.5 / 3.0).abs() < 1e-6);
        // by default m = n - f = 4: the outlier alone is left out
        let combined = MultiKrum::default().aggregate(&input).unwrap();
        assert!((combined.values[0] - 1.625).abs() < 1e-6);
        assert_eq!(combined.weights.unwrap()[4], 0.0);
    }

    #[test]
    fn krum_needs_two_f_plus_three_clients() {
        let input = RoundInput::new(&UPDATES).attackers(2);
        let err = Krum.aggregate(&input).unwrap_err();
        assert!(
            matches!(
                err,
                AggregateError::TooFewClients {
                    needed: 7,
                    clients: 5,
                    ..
                }
            ),
            "{err}"
        );
    }
}
