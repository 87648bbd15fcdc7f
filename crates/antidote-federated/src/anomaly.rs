//! Per-client anomaly scores, the same whatever rule aggregates the round.
//!
//! The reference point is the clients' coordinate-wise median, which a minority cannot move far.
//! Two things are measured for each client: the Euclidean distance of its update from that
//! point (a scaled, boosted or noisy update is far) and the cosine between its update and the
//! point (a sign-flipped or inner-product-manipulation update points away). Each becomes a
//! robust z-score, the modified z-score of Iglewicz and Hoaglin (1993, "How to Detect and
//! Handle Outliers"): `0.6745 (x - median) / MAD`, with the mean absolute deviation
//! (`1.2533` times it estimates the same spread) when the MAD is zero. Only the side that
//! means "worse" counts: larger distances, smaller cosines. A client's anomaly is the larger
//! of its two scores; above 3.5, the cut-off Iglewicz and Hoaglin recommend, it is flagged.
//!
//! An attacker who stays inside the honest clients' spread (ALIE, "A Little Is Enough",
//! Baruch et al. 2019) is not flagged by any score of this kind; the robust rules are what
//! limits it.

use serde::Serialize;

use antidote_core::math::robust_z_scores;

use crate::vector::{coordinate_median, cosine, squared_distance};

/// The default cut-off on the robust z-score (Iglewicz and Hoaglin).
pub const DEFAULT_CUTOFF: f64 = 3.5;

/// One client's scores in one round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientScore {
    /// The client.
    pub client: String,
    /// Distance of its update from the coordinate-wise median.
    pub distance: f64,
    /// Cosine between its update and the coordinate-wise median.
    pub cosine: f64,
    /// The larger of the two robust z-scores (distance above, cosine below the others).
    pub anomaly: f64,
    /// Whether the anomaly is above the cut-off.
    pub flagged: bool,
    /// Its weight in the aggregate, for rules that weigh whole updates.
    pub weight: Option<f64>,
    /// Cosine between its update and the server's update (FLTrust's trust score before clipping).
    pub root_cosine: Option<f64>,
    /// Its running trust after this round, in `[0, 1]`.
    pub trust: f64,
}

/// Modified z-scores of `values` ([`robust_z_scores`]), in the direction `sign` (+1: larger is
/// worse), 0 on the other side of the median.
fn robust_z(values: &[f64], sign: f64) -> Vec<f64> {
    robust_z_scores(values)
        .into_iter()
        .map(|z| (sign * z).max(0.0))
        .collect()
}

/// Scores every update of a round (names left empty); flagged above `cutoff`.
#[must_use]
pub fn score(updates: &[&[f32]], cutoff: f64) -> Vec<ClientScore> {
    let centre = coordinate_median(updates);
    let distances: Vec<f64> = updates
        .iter()
        .map(|update| squared_distance(update, &centre).sqrt())
        .collect();
    let cosines: Vec<f64> = updates
        .iter()
        .map(|update| cosine(update, &centre))
        .collect();
    let far = robust_z(&distances, 1.0);
    let away = robust_z(&cosines, -1.0);
    distances
        .iter()
        .zip(&cosines)
        .zip(far.iter().zip(&away))
        .map(|((&distance, &cosine), (&far, &away))| {
            let anomaly = far.max(away);
            ClientScore {
                client: String::new(),
                distance,
                cosine,
                anomaly,
                flagged: anomaly > cutoff,
                weight: None,
                root_cosine: None,
                trust: 1.0,
            }
        })
        .collect()
}

/// The attacker count a rule assumes when none is given: the clients flagged this round, and at
/// least a tenth of the clients (rounded up), so that an attacker who evades the scores is still
/// trimmed; never more than the rule tolerates.
#[must_use]
pub fn estimate_attackers(clients: usize, flagged: usize, tolerated: usize) -> usize {
    flagged.max(clients.div_ceil(10)).min(tolerated)
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    #[test]
    fn robust_z_by_hand() {
        // median 3, deviations 2 1 0 1 97 -> MAD 1, scale 1 / 0.6745
        let z = robust_z(&[1.0, 2.0, 3.0, 4.0, 100.0], 1.0);
        assert_eq!(z[0], 0.0);
        assert!((z[3] - 0.6745).abs() < 1e-12);
        assert!((z[4] - 97.0 * 0.6745).abs() < 1e-9);
        // the other direction: only values below the median count
        let z = robust_z(&[1.0, 2.0, 3.0, 4.0, 100.0], -1.0);
        assert!((z[0] - 2.0 * 0.6745).abs() < 1e-12);
        assert_eq!(z[4], 0.0);
    }

    #[test]
    fn identical_clients_and_one_outlier_use_the_mean_deviation() {
        // MAD 0; mean absolute deviation 10 / 5 = 2 -> scale 2.5066; 10 / 2.5066 = 3.99
        let z = robust_z(&[0.0, 0.0, 0.0, 0.0, 10.0], 1.0);
        assert!((z[4] - 10.0 / (1.2533 * 2.0)).abs() < 1e-9);
        assert_eq!(z[0], 0.0);
    }

    #[test]
    fn scaled_and_sign_flipped_updates_are_flagged_honest_ones_are_not() {
        let honest: Vec<Vec<f32>> = (0..8)
            .map(|i| {
                let jitter = 0.05 * (i as f32 - 3.5);
                vec![1.0 + jitter, 0.5 - jitter, -0.25 + 0.5 * jitter]
            })
            .collect();
        let scaled: Vec<f32> = honest[0].iter().map(|x| 20.0 * x).collect();
        let flipped: Vec<f32> = honest[1].iter().map(|x| -x).collect();
        let mut updates: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
        updates.push(&scaled);
        updates.push(&flipped);
        let scores = score(&updates, DEFAULT_CUTOFF);
        let flagged: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].flagged).collect();
        assert_eq!(flagged, [8, 9], "{scores:#?}");
        assert!(scores[9].cosine < 0.0);
    }

    #[test]
    fn the_estimate_is_at_least_a_tenth_and_at_most_the_tolerance() {
        assert_eq!(estimate_attackers(10, 0, 3), 1);
        assert_eq!(estimate_attackers(25, 0, 11), 3);
        assert_eq!(estimate_attackers(10, 2, 3), 2);
        assert_eq!(estimate_attackers(10, 6, 3), 3);
        assert_eq!(estimate_attackers(3, 0, 0), 0);
    }
}
