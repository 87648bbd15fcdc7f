//! The attacks of malicious federated clients, and how each builds its update.
//!
//! Two kinds: data attacks (label flip, backdoor) change what the malicious client trains on and
//! send the honest update of that training; model attacks (sign flip, scaling, ALIE, IPM) craft
//! the update itself. ALIE and IPM are omniscient, as in their papers: the attackers know the
//! benign clients' updates of the round.

use std::fmt;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF as _, Normal};

/// What the malicious clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FederatedAttack {
    /// No attack: every client is honest (the control).
    None,
    /// Label flipping: the malicious clients train on their data with every label `l` of `K`
    /// classes replaced by `K - 1 - l`, and send the honest update of that training.
    ///
    /// Tolpegin, Truex, Gursoy and Liu (2020), "Data Poisoning Attacks Against Federated
    /// Learning Systems"; Fang, Cao, Jia and Gong (2020), "Local Model Poisoning Attacks to
    /// Byzantine-Robust Federated Learning".
    LabelFlip,
    /// Sign flipping: each malicious client trains honestly and sends its update negated and
    /// multiplied by [`SIGN_FLIP_MAGNITUDE`] ([`sign_flip`]). A plain negation only shortens
    /// the mean's step (16 honest minus 4 flipped of 20 keep 60% of it); a negative multiple
    /// reverses it, as in the sign-flipping attack of Li, Xu, Chen, Giannakis and Ling (2019),
    /// "RSA: Byzantine-Robust Stochastic Aggregation Methods for Distributed Learning from
    /// Heterogeneous Datasets".
    SignFlip,
    /// Scaling (model replacement): each malicious client trains on label-flipped data and
    /// boosts its update by `γ = n / m` (`n` clients, `m` of them malicious), so that under the
    /// plain mean their model replaces the global one ([`scale`]).
    ///
    /// Bagdasaryan, Veit, Hua, Estrin and Shmatikov (2020), "How To Backdoor Federated
    /// Learning" (model replacement, `γ = n / η` with the server's learning rate `η = 1`).
    Scaling,
    /// ALIE, "A Little Is Enough": every malicious client sends `μ - z·σ`, per coordinate, the
    /// mean and standard deviation of the benign updates, with `z` the largest shift that keeps
    /// the attackers inside the honest spread for a majority rule ([`alie_z`], [`alie`]).
    ///
    /// Baruch, Baruch and Goldberg (2019), "A Little Is Enough: Circumventing Defenses For
    /// Distributed Learning".
    Alie,
    /// IPM, inner product manipulation: every malicious client sends `-ε` times the mean of the
    /// benign updates ([`ipm`]), so that the aggregate's inner product with the true direction
    /// turns negative while the malicious updates stay small (default `ε` [`IPM_EPSILON`], the
    /// paper's choice against median and Krum).
    ///
    /// Xie, Koyejo and Gupta (2019), "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner
    /// Product Manipulation".
    Ipm,
    /// Backdoor: the malicious clients stamp a pixel patch (a token, on text) on half of their
    /// records and relabel those to a target class, then train honestly on the mix, so that
    /// the global model keeps its accuracy and learns the trigger.
    ///
    /// Gu, Dolan-Gavitt and Garg (2017), "`BadNets`"; Bagdasaryan et al. (2020), "How To Backdoor
    /// Federated Learning".
    Backdoor,
}

/// The multiple of a sign-flipped update.
pub const SIGN_FLIP_MAGNITUDE: f32 = 4.0;

/// IPM's `ε`.
pub const IPM_EPSILON: f64 = 0.1;

/// The share of a backdoor client's records that carry the trigger.
pub const BACKDOOR_SHARE: f64 = 0.5;

impl FederatedAttack {
    /// Every attack, the control first.
    pub const ALL: [FederatedAttack; 7] = [
        Self::None,
        Self::LabelFlip,
        Self::SignFlip,
        Self::Scaling,
        Self::Alie,
        Self::Ipm,
        Self::Backdoor,
    ];

    /// The attack's name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::LabelFlip => "label-flip",
            Self::SignFlip => "sign-flip",
            Self::Scaling => "scaling",
            Self::Alie => "alie",
            Self::Ipm => "ipm",
            Self::Backdoor => "backdoor",
        }
    }

    /// Whether the attack is measured by a trigger's success rather than by lost accuracy.
    #[must_use]
    pub fn targeted(self) -> bool {
        self == Self::Backdoor
    }
}

impl fmt::Display for FederatedAttack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`FederatedAttack::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a federated attack; the attacks are none, label-flip, sign-flip, scaling, alie, ipm, backdoor"
)]
pub struct UnknownFederatedAttack(pub String);

impl std::str::FromStr for FederatedAttack {
    type Err = UnknownFederatedAttack;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|attack| attack.name() == name)
            .ok_or_else(|| UnknownFederatedAttack(name.to_owned()))
    }
}

/// The sign-flipped update: `-magnitude · update`.
#[must_use]
pub fn sign_flip(update: &[f32], magnitude: f32) -> Vec<f32> {
    update.iter().map(|&value| -magnitude * value).collect()
}

/// The boosted update: `factor · update`.
#[must_use]
pub fn scale(update: &[f32], factor: f32) -> Vec<f32> {
    update.iter().map(|&value| factor * value).collect()
}

/// ALIE's `z` for `clients` clients of which `malicious` are: with
/// `s = ⌊n/2 + 1⌋ - f` benign clients the attackers need on their side, `z` is the normal
/// quantile of `(n - s) / n` (Baruch et al. 2019, algorithm 3). Zero when the attackers alone
/// are a majority (`s <= 0`: no shift is needed to win a vote, and the paper does not define one).
#[must_use]
pub fn alie_z(clients: usize, malicious: usize) -> f64 {
    let supporters = (clients / 2 + 1) as f64 - malicious as f64;
    if supporters <= 0.0 || clients == 0 {
        return 0.0;
    }
    let share = (clients as f64 - supporters) / clients as f64;
    Normal::standard().inverse_cdf(share)
}

/// ALIE's update: per coordinate, the benign updates' mean minus `z` times their standard
/// deviation (the sample deviation, `n - 1`, as `ByzFL` computes it).
///
/// # Panics
///
/// When `benign` is empty.
#[must_use]
pub fn alie(benign: &[&[f32]], z: f64) -> Vec<f32> {
    assert!(!benign.is_empty(), "ALIE needs benign updates");
    let n = benign.len() as f64;
    (0..benign[0].len())
        .map(|j| {
            let mean = benign.iter().map(|u| f64::from(u[j])).sum::<f64>() / n;
            let variance = if benign.len() > 1 {
                benign
                    .iter()
                    .map(|u| (f64::from(u[j]) - mean).powi(2))
                    .sum::<f64>()
                    / (n - 1.0)
            } else {
                0.0
            };
            (mean - z * variance.sqrt()) as f32
        })
        .collect()
}

/// IPM's update: `-ε` times the benign updates' mean.
///
/// # Panics
///
/// When `benign` is empty.
#[must_use]
pub fn ipm(benign: &[&[f32]], epsilon: f64) -> Vec<f32> {
    assert!(!benign.is_empty(), "IPM needs benign updates");
    let n = benign.len() as f64;
    (0..benign[0].len())
        .map(|j| (-epsilon * benign.iter().map(|u| f64::from(u[j])).sum::<f64>() / n) as f32)
        .collect()
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    #[test]
    fn sign_flip_negates_and_scales() {
        assert_eq!(sign_flip(&[1.0, -2.0, 0.5], 1.0), [-1.0, 2.0, -0.5]);
        assert_eq!(sign_flip(&[1.0, -2.0, 0.5], 4.0), [-4.0, 8.0, -2.0]);
    }

    #[test]
    fn scaling_multiplies() {
        assert_eq!(scale(&[1.0, -2.0, 0.25], 5.0), [5.0, -10.0, 1.25]);
    }

    #[test]
    fn alie_is_the_mean_minus_z_deviations() {
        // Coordinate 0: 1, 2, 3 -> mean 2, sample deviation 1 -> 2 - 1.5 = 0.5.
        // Coordinate 1: 4, 4, 4 -> mean 4, deviation 0 -> 4.
        // Coordinate 2: -2, 0, 2 -> mean 0, sample deviation 2 -> -3.
        let benign: [&[f32]; 3] = [&[1.0, 4.0, -2.0], &[2.0, 4.0, 0.0], &[3.0, 4.0, 2.0]];
        assert_eq!(alie(&benign, 1.5), [0.5, 4.0, -3.0]);
    }

    #[test]
    fn alie_z_follows_the_paper() {
        // n = 20, f = 4: s = 11 - 4 = 7, Φ⁻¹(13 / 20) = Φ⁻¹(0.65) = 0.38532 (normal table).
        assert!((alie_z(20, 4) - 0.385_32).abs() < 1e-4);
        // n = 50, f = 12 (Baruch et al.'s CIFAR setting): s = 26 - 12 = 14, Φ⁻¹(0.72) = 0.58284.
        assert!((alie_z(50, 12) - 0.582_84).abs() < 1e-4);
        // attackers alone a majority: no shift
        assert_eq!(alie_z(10, 6), 0.0);
    }

    #[test]
    fn ipm_is_minus_epsilon_times_the_mean() {
        let benign: [&[f32]; 2] = [&[1.0, 4.0], &[3.0, -2.0]];
        assert_eq!(ipm(&benign, 0.5), [-1.0, -0.5]);
    }

    #[test]
    fn attack_names_round_trip() {
        for attack in FederatedAttack::ALL {
            assert_eq!(attack.name().parse::<FederatedAttack>(), Ok(attack));
        }
        assert!("flip".parse::<FederatedAttack>().is_err());
    }
}
