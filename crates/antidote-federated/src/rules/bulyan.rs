use crate::rules::krum::krum_scores;
use crate::vector::{coordinate_wise, median, pairwise_squared_distances};
use crate::{AggregateError, Aggregator, Combined, RoundInput, Rule};

/// Bulyan (El Mhamdi, Guerraoui and Rouault 2018, "The Hidden Vulnerability of Distributed
/// Learning in Byzantium"): Krum is applied repeatedly to choose `θ = n - 2f` updates (each
/// time the chosen update leaves the candidates); then each coordinate is the mean of the
/// `β = θ - 2f` chosen values closest to the chosen values' median. Holds for `n >= 4f + 3`.
///
/// When fewer than `f + 3` candidates remain, Krum's neighbour count `|R| - f - 2` would be
/// below one; it is kept at one. Ties go to the lower client index.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bulyan;

impl Aggregator for Bulyan {
    fn rule(&self) -> Rule {
        Rule::Bulyan
    }

    fn tolerates(&self, clients: usize) -> usize {
        clients.saturating_sub(3) / 4
    }

    fn needs_attackers(&self) -> bool {
        true
    }

    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError> {
        let f = input.attackers;
        input.require(self, f)?;
        let n = input.updates.len();
        let distances = pairwise_squared_distances(input.updates);
        let mut candidates: Vec<usize> = (0..n).collect();
        let mut chosen = Vec::with_capacity(n - 2 * f);
        while chosen.len() < n - 2 * f {
            let neighbours = candidates.len().saturating_sub(f + 2).max(1);
            let scores = krum_scores(&distances, n, &candidates, neighbours);
            let best = (0..candidates.len())
                .min_by(|&a, &b| {
                    scores[a]
                        .total_cmp(&scores[b])
                        .then(candidates[a].cmp(&candidates[b]))
                })
                .expect("candidates remain while fewer than n - 2f are chosen");
            chosen.push(candidates.remove(best));
        }
        let beta = chosen.len() - 2 * f;
        let selected: Vec<&[f32]> = chosen.iter().map(|&i| input.updates[i]).collect();
        let values = coordinate_wise(&selected, |column| {
            let centre = median(&mut column.to_vec());
            column.sort_unstable_by(|a, b| (a - centre).abs().total_cmp(&(b - centre).abs()));
            column[..beta].iter().sum::<f64>() / beta as f64
        });
        let mut weights = vec![0.0; n];
        for &i in &chosen {
            weights[i] = 1.0 / chosen.len() as f64;
        }
        Ok(Combined {
            values,
            weights: Some(weights),
        })
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    #[test]
    fn bulyan_by_hand_on_seven_clients_with_one_attacker() {
        // θ = 5, β = 3. Iterated Krum on the 2-D points below, |R| - 3 neighbours (at least 1):
        //   R = all, 4 neighbours: scores 39 22 15 18 339 54 37335 -> client 2
        //   R = 0 1 3 4 5 6, 3 neighbours: 35 21 17 254 45 27731 -> client 3
        //   R = 0 1 4 5 6, 2 neighbours: 26 17 172 41 18322 -> client 1
        //   R = 0 4 5 6, 1 neighbour: 25 82 25 9025 -> client 0 (tie with 5, lower index)
        //   R = 4 5 6, 1 neighbour: 82 82 9025 -> client 4 (tie with 5, lower index)
        // Chosen: 2 3 1 0 4. First coordinate 2 3 1 0 4: median 2, the 3 closest 2 1 3 -> 2.
        // Second coordinate 0 0 0 0 9: median 0, the 3 closest are 0 -> 0 (client 4's 9 is cut).
        let updates: [&[f32]; 7] = [
            &[0.0, 0.0],
            &[1.0, 0.0],
            &[2.0, 0.0],
            &[3.0, 0.0],
            &[4.0, 9.0],
            &[5.0, 0.0],
            &[100.0, 0.0],
        ];
        let input = RoundInput::new(&updates).attackers(1);
        let combined = Bulyan.aggregate(&input).unwrap();
        assert_eq!(combined.values, [2.0, 0.0]);
        let weights = combined.weights.unwrap();
        assert_eq!(weights[5], 0.0);
        assert_eq!(weights[6], 0.0);
        assert!((weights[2] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn bulyan_needs_four_f_plus_three_clients() {
        let updates: [&[f32]; 6] = [&[0.0], &[1.0], &[2.0], &[3.0], &[4.0], &[5.0]];
        let err = Bulyan
            .aggregate(&RoundInput::new(&updates).attackers(1))
            .unwrap_err();
        assert!(
            matches!(err, AggregateError::TooFewClients { needed: 7, .. }),
            "{err}"
        );
    }
}
