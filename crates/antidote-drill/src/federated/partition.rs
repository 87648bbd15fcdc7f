//! Splitting the training records among the clients: IID, or non-IID by a Dirichlet draw per
//! class.

use std::fmt;

use antidote_core::SplitMix64;
use serde::{Serialize, Serializer};

/// How the training records are dealt to the clients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Partition {
    /// A seeded shuffle dealt in turn: every client gets the same mix of classes.
    Iid,
    /// Each class is split among the clients in proportions drawn from a symmetric Dirichlet
    /// distribution of concentration `alpha` (Hsu, Qi and Brown 2019, "Measuring the Effects of
    /// Non-Identical Data Distribution for Federated Visual Classification"): small `alpha`
    /// gives each client a few dominant classes, large `alpha` approaches IID.
    Dirichlet {
        /// The concentration.
        alpha: f64,
    },
}

impl Partition {
    /// The partition's name on the command line (`iid`, `dirichlet`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Iid => "iid",
            Self::Dirichlet { .. } => "dirichlet",
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Iid => f.write_str("iid"),
            Self::Dirichlet { alpha } => write!(f, "dirichlet({alpha})"),
        }
    }
}

impl Serialize for Partition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The fewest records a client may hold; Dirichlet draws are repeated until every client has
/// at least this many (or as many as an even split gives, when that is fewer).
const MIN_RECORDS: usize = 10;

/// How many Dirichlet draws are tried before the partition is given up.
const DRAWS: usize = 100;

/// Deals `pool` (indices of records, with their class in `labels`) to `clients` clients.
/// `None` when no Dirichlet draw of `DRAWS` leaves every client enough records.
#[must_use]
pub fn deal(
    pool: &[usize],
    labels: &[usize],
    classes: usize,
    clients: usize,
    partition: Partition,
    random: &mut SplitMix64,
) -> Option<Vec<Vec<usize>>> {
    match partition {
        Partition::Iid => {
            let mut order = pool.to_vec();
            random.shuffle(&mut order);
            let mut dealt = vec![Vec::new(); clients];
            for (position, index) in order.into_iter().enumerate() {
                dealt[position % clients].push(index);
            }
            Some(dealt)
        }
        Partition::Dirichlet { alpha } => {
            let mut by_class = vec![Vec::new(); classes];
            for &index in pool {
                by_class[labels[index]].push(index);
            }
            let least = MIN_RECORDS.min(pool.len() / clients.max(1));
            for _ in 0..DRAWS {
                let mut dealt = vec![Vec::new(); clients];
                for members in &by_class {
                    let mut members = members.clone();
                    random.shuffle(&mut members);
                    let shares = dirichlet(alpha, clients, random);
                    let mut start = 0;
                    let mut cumulative = 0.0;
                    for (client, share) in shares.iter().enumerate() {
                        cumulative += share;
                        let end = if client + 1 == clients {
                            members.len()
                        } else {
                            ((cumulative * members.len() as f64).round() as usize)
                                .clamp(start, members.len())
                        };
                        dealt[client].extend_from_slice(&members[start..end]);
                        start = end;
                    }
                }
                if dealt.iter().all(|records| records.len() >= least) {
                    for records in &mut dealt {
                        records.sort_unstable();
                    }
                    return Some(dealt);
                }
            }
            None
        }
    }
}

/// A draw from the symmetric Dirichlet distribution of concentration `alpha` in `dimensions`
/// dimensions: independent `Gamma(alpha, 1)` draws, normalised.
#[must_use]
pub fn dirichlet(alpha: f64, dimensions: usize, random: &mut SplitMix64) -> Vec<f64> {
    let draws: Vec<f64> = (0..dimensions).map(|_| gamma(alpha, random)).collect();
    let total: f64 = draws.iter().sum();
    if total > 0.0 {
        draws.into_iter().map(|draw| draw / total).collect()
    } else {
        // Every draw underflowed (a tiny alpha): the mass goes to one coordinate, the limit of
        // the distribution as alpha goes to zero.
        let mut shares = vec![0.0; dimensions];
        shares[random.below(dimensions)] = 1.0;
        shares
    }
}

/// A draw from `Gamma(shape, 1)` by Marsaglia and Tsang (2000), "A Simple Method for Generating
/// Gamma Variables", with their boost `Gamma(a) = Gamma(a + 1) · U^(1/a)` for `shape < 1`.
/// Drawn from antidote's one generator so that a seed gives the same partition whatever the
/// dependencies' versions.
#[must_use]
#[expect(
    clippy::many_single_char_names,
    reason = "the symbols of Marsaglia and Tsang"
)]
pub fn gamma(shape: f64, random: &mut SplitMix64) -> f64 {
    if shape < 1.0 {
        let boost = (1.0 - random.unit()).powf(1.0 / shape);
        return gamma(shape + 1.0, random) * boost;
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = random.normal();
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - random.unit();
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_draws_have_the_right_mean_and_variance() {
        // Gamma(k, 1) has mean k and variance k.
        for shape in [0.3, 0.5, 1.0, 2.5, 7.0] {
            let mut random = SplitMix64::new(5);
            let draws: Vec<f64> = (0..40_000).map(|_| gamma(shape, &mut random)).collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            let variance =
                draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
            assert!(
                (mean - shape).abs() < 0.03 * shape.max(1.0),
                "{shape}: {mean}"
            );
            assert!(
                (variance - shape).abs() < 0.08 * shape.max(1.0),
                "{shape}: {variance}"
            );
        }
    }

    #[test]
    fn dirichlet_shares_sum_to_one_and_concentrate_for_small_alpha() {
        let mut random = SplitMix64::new(9);
        let largest = |alpha: f64, random: &mut SplitMix64| {
            (0..200)
                .map(|_| {
                    let shares = dirichlet(alpha, 10, random);
                    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                    shares.into_iter().fold(0.0, f64::max)
                })
                .sum::<f64>()
                / 200.0
        };
        // The expected largest share of 10 is about 0.29 at alpha 100 and above 0.6 at 0.1.
        assert!(largest(0.1, &mut random) > 0.6);
        assert!(largest(100.0, &mut random) < 0.2);
    }

    #[test]
    fn every_record_is_dealt_once() {
        let labels: Vec<usize> = (0..500).map(|i| i % 5).collect();
        let pool: Vec<usize> = (0..500).collect();
        for partition in [Partition::Iid, Partition::Dirichlet { alpha: 0.5 }] {
            let dealt = deal(&pool, &labels, 5, 10, partition, &mut SplitMix64::new(1))
                .expect("500 records fit 10 clients");
            let mut all: Vec<usize> = dealt.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, pool, "{partition}");
            assert!(dealt.iter().all(|records| records.len() >= 10));
        }
    }
}
