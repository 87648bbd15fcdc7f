//! The privacy accountant of DP-SGD: Rényi differential privacy (RDP) of the Poisson-subsampled
//! Gaussian mechanism, composed over training steps and converted to an `(ε, δ)` guarantee.
//!
//! DP-SGD (Abadi et al. 2016, "Deep Learning with Differential Privacy") clips each record's
//! gradient to norm `C`, adds Gaussian noise of standard deviation `σ C` to the sum, and takes
//! each record into a batch independently with probability `q`. One step is the sampled
//! Gaussian mechanism; its RDP at order `α` is `log A_α / (α - 1)` (Mironov, Talwar and Zhang
//! 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism"):
//!
//! - for integer `α`, `A_α` is the finite sum `Σ_k C(α, k) q^k (1-q)^(α-k) exp((k² - k) / 2σ²)`;
//! - for fractional `α`, two infinite series split at `z₀ = σ² log(1/q - 1) + 1/2`, each term
//!   weighted by a Gaussian tail (`erfc`), summed until both series decrease and their terms are
//!   below `e^-30` of the total (at most 1,000 terms; an order that does not converge is left
//!   out, as it cannot be bounded).
//!
//! RDP composes by addition over steps. The conversion to `(ε, δ)` takes the best order of
//! `ε = rdp + log(1 - 1/α) - (log δ + log α) / (α - 1)` (Canonne, Kamath and Steinke 2020,
//! "The Discrete Gaussian for Differential Privacy", Proposition 12; orders above 1.01), and
//! `ε = 0` where `δ` already bounds the total variation through the KL divergence
//! (`δ² ≥ 1 - e^-rdp`). These are the computations Google's `dp-accounting` `RdpAccountant` and
//! Opacus' RDP accountant perform, and the test suite compares them number for number.

pub mod prv;

use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;
use statrs::function::gamma::ln_gamma;

/// Errors in the accountant's inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrivacyError {
    /// The sampling rate must be in `[0, 1]`.
    #[error("the sampling rate must be between 0 and 1, not {0}")]
    SamplingRate(f64),
    /// The noise multiplier must be positive.
    #[error("the noise multiplier must be a positive number, not {0}")]
    NoiseMultiplier(f64),
    /// `δ` must be in `(0, 1)`.
    #[error("delta must be above 0 and below 1, not {0}")]
    Delta(f64),
    /// `ε` must be positive.
    #[error("the target epsilon must be a positive number, not {0}")]
    Epsilon(f64),
    /// Orders must be above 1.
    #[error("Rényi orders must be above 1, not {0}")]
    Order(f64),
    /// No noise multiplier reaches the target.
    #[error(
        "no noise multiplier up to {max} reaches epsilon {epsilon} at delta {delta} in {steps} steps"
    )]
    Unreachable {
        /// The target ε.
        epsilon: f64,
        /// The δ.
        delta: f64,
        /// The steps.
        steps: u64,
        /// The largest noise multiplier tried.
        max: f64,
    },
}

/// The default orders: 1.1 to 10.9 by tenths, 11 to 63, and 128, 256, 512, 1024.
#[must_use]
pub fn default_orders() -> Vec<f64> {
    (1..100)
        .map(|tenth| 1.0 + f64::from(tenth) / 10.0)
        .chain((11..64).map(f64::from))
        .chain([128.0, 256.0, 512.0, 1024.0])
        .collect()
}

/// An RDP accountant: the RDP spent so far at each order.
#[derive(Debug, Clone, PartialEq)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    rdp: Vec<f64>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::with_orders(default_orders()).expect("the default orders are above 1")
    }
}

impl RdpAccountant {
    /// An accountant over [`default_orders`], nothing spent.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An accountant over `orders`, nothing spent.
    pub fn with_orders(orders: Vec<f64>) -> Result<Self, PrivacyError> {
        if let Some(&order) = orders.iter().find(|&&order| order.is_nan() || order <= 1.0) {
            return Err(PrivacyError::Order(order));
        }
        let rdp = vec![0.0; orders.len()];
        Ok(Self { orders, rdp })
    }

    /// Spends `steps` steps of the Poisson-subsampled Gaussian mechanism with sampling rate `q`
    /// and noise multiplier `sigma`.
    pub fn compose_poisson_gaussian(
        &mut self,
        sigma: f64,
        q: f64,
        steps: u64,
    ) -> Result<(), PrivacyError> {
        check_mechanism(sigma, q)?;
        for (rdp, &order) in self.rdp.iter_mut().zip(&self.orders) {
            *rdp += steps as f64 * sampled_gaussian_rdp(q, sigma, order);
        }
        Ok(())
    }

    /// The RDP spent at each order, in the order of [`orders`](Self::orders).
    #[must_use]
    pub fn rdp(&self) -> &[f64] {
        &self.rdp
    }

    /// The orders.
    #[must_use]
    pub fn orders(&self) -> &[f64] {
        &self.orders
    }

    /// The smallest `ε` such that the spending so far is `(ε, δ)`-DP, and the order that gives
    /// it.
    pub fn epsilon(&self, delta: f64) -> Result<(f64, f64), PrivacyError> {
        if !(delta > 0.0 && delta < 1.0) {
            return Err(PrivacyError::Delta(delta));
        }
        let mut best = (
            f64::INFINITY,
            self.orders.first().copied().unwrap_or(f64::NAN),
        );
        for (&order, &rdp) in self.orders.iter().zip(&self.rdp) {
            let epsilon = if rdp < 0.0 || delta * delta + (-rdp).exp_m1() > 0.0 {
                0.0
            } else if order > 1.01 {
                rdp + (-1.0 / order).ln_1p() - (delta * order).ln() / (order - 1.0)
            } else {
                f64::INFINITY
            };
            if epsilon < best.0 {
                best = (epsilon, order);
            }
        }
        Ok((best.0.max(0.0), best.1))
    }
}

fn check_mechanism(sigma: f64, q: f64) -> Result<(), PrivacyError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(PrivacyError::SamplingRate(q));
    }
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(PrivacyError::NoiseMultiplier(sigma));
    }
    Ok(())
}

/// The `ε` of `steps` steps of DP-SGD with noise multiplier `sigma` and sampling rate `q`, at
/// `delta`, over the default orders.
pub fn epsilon(sigma: f64, q: f64, steps: u64, delta: f64) -> Result<f64, PrivacyError> {
    let mut accountant = RdpAccountant::new();
    accountant.compose_poisson_gaussian(sigma, q, steps)?;
    Ok(accountant.epsilon(delta)?.0)
}

/// Which accountant counts the privacy spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accountant {
    /// Rényi differential privacy ([`RdpAccountant`]): fast, and an upper bound a little above
    /// the tight `ε`.
    #[default]
    Rdp,
    /// Numerical composition of the privacy random variable ([`prv::prv_epsilon`]): the tight
    /// `ε` to within its error bounds; the upper bound is reported.
    Prv,
}

impl Accountant {
    /// The accountant's name, as the command line and the training record spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Rdp => "rdp",
            Self::Prv => "prv",
        }
    }

    /// The `ε` this accountant reports for `steps` steps of DP-SGD with noise multiplier
    /// `sigma` and sampling rate `q`, at `delta` (for PRV, its upper bound).
    pub fn epsilon(self, sigma: f64, q: f64, steps: u64, delta: f64) -> Result<f64, PrivacyError> {
        match self {
            Self::Rdp => epsilon(sigma, q, steps, delta),
            Self::Prv => Ok(prv::prv_epsilon(sigma, q, steps, delta)?.upper),
        }
    }

    /// The smallest noise multiplier (to 0.1% relative) whose `steps` steps at sampling rate
    /// `q` this accountant counts within `(target, delta)`.
    pub fn noise_multiplier_for(
        self,
        target: f64,
        delta: f64,
        q: f64,
        steps: u64,
    ) -> Result<f64, PrivacyError> {
        let rdp = noise_multiplier_for(target, delta, q, steps)?;
        if self == Self::Rdp {
            return Ok(rdp);
        }
        // The PRV's ε is at most the RDP's (up to its error bound), so the RDP's σ nearly
        // brackets it from above.
        let (mut low, mut high) = (rdp / 2.0, rdp);
        while self.epsilon(high, q, steps, delta)? > target {
            low = high;
            high *= 1.25;
            if high > MAX_NOISE_MULTIPLIER {
                return Err(PrivacyError::Unreachable {
                    epsilon: target,
                    delta,
                    steps,
                    max: MAX_NOISE_MULTIPLIER,
                });
            }
        }
        while low > 1e-3 && self.epsilon(low, q, steps, delta)? <= target {
            high = low;
            low /= 2.0;
        }
        while high - low > 1e-3 * high {
            let middle = f64::midpoint(low, high);
            if self.epsilon(middle, q, steps, delta)? > target {
                low = middle;
            } else {
                high = middle;
            }
        }
        Ok(high)
    }
}

/// The largest noise multiplier [`noise_multiplier_for`] tries.
const MAX_NOISE_MULTIPLIER: f64 = 1e4;

/// The smallest noise multiplier (to 0.1% relative) whose `steps` steps at sampling rate `q`
/// stay within `(target, delta)`.
pub fn noise_multiplier_for(
    target: f64,
    delta: f64,
    q: f64,
    steps: u64,
) -> Result<f64, PrivacyError> {
    if !(target.is_finite() && target > 0.0) {
        return Err(PrivacyError::Epsilon(target));
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(PrivacyError::Delta(delta));
    }
    check_mechanism(1.0, q)?;
    if epsilon(MAX_NOISE_MULTIPLIER, q, steps, delta)? > target {
        return Err(PrivacyError::Unreachable {
            epsilon: target,
            delta,
            steps,
            max: MAX_NOISE_MULTIPLIER,
        });
    }
    let (mut low, mut high) = (0.0f64, 1.0f64);
    while epsilon(high, q, steps, delta)? > target {
        low = high;
        high *= 2.0;
    }
    while high - low > 1e-3 * high {
        let middle = f64::midpoint(low, high);
        if epsilon(middle, q, steps, delta)? > target {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok(high)
}

/// RDP of one step of the sampled Gaussian mechanism at `order`.
fn sampled_gaussian_rdp(q: f64, sigma: f64, order: f64) -> f64 {
    // q = 0 and q = 1 are exact inputs, not computed values: no sampling, or every record.
    #[expect(
        clippy::float_cmp,
        reason = "the ends of [0, 1] are given, not computed"
    )]
    let (never, always) = (q == 0.0, q == 1.0);
    if never {
        0.0
    } else if always {
        order / (2.0 * sigma * sigma)
    } else if order.fract() == 0.0 {
        log_a_integer(q, sigma, order as u64) / (order - 1.0)
    } else {
        log_a_fractional(q, sigma, order) / (order - 1.0)
    }
}

/// `log(e^a + e^b)`.
fn log_add(a: f64, b: f64) -> f64 {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    if low == f64::NEG_INFINITY {
        high
    } else {
        (low - high).exp().ln_1p() + high
    }
}

/// `log |Γ(x)|` for any real `x` that is not a non-positive integer (reflection below 1/2).
fn ln_abs_gamma(x: f64) -> f64 {
    if x >= 0.5 {
        ln_gamma(x)
    } else {
        std::f64::consts::PI.ln() - (std::f64::consts::PI * x).sin().abs().ln() - ln_gamma(1.0 - x)
    }
}

/// `log |C(n, k)|`, the generalised binomial coefficient.
fn ln_binomial(n: f64, k: f64) -> f64 {
    ln_abs_gamma(n + 1.0) - ln_abs_gamma(k + 1.0) - ln_abs_gamma(n - k + 1.0)
}

/// `log erfc(x)`, accurate where `erfc` itself underflows: beyond 20 the asymptotic series
/// `erfc(x) ≈ e^-x² / (x √π) (1 - 1/2x² + 3/4x⁴ - 15/8x⁶)` (error below `1e-9` there).
fn ln_erfc(x: f64) -> f64 {
    if x < 20.0 {
        erfc(x).ln()
    } else {
        let inverse = 1.0 / (x * x);
        let series =
            1.0 - 0.5 * inverse + 0.75 * inverse * inverse - 1.875 * inverse * inverse * inverse;
        -x * x - x.ln() - 0.5 * std::f64::consts::PI.ln() + series.ln()
    }
}

fn log_a_integer(q: f64, sigma: f64, order: u64) -> f64 {
    let (log_q, log_1mq) = (q.ln(), (-q).ln_1p());
    let order_f = order as f64;
    (0..=order).fold(f64::NEG_INFINITY, |log_a, k| {
        let k = k as f64;
        let term = ln_binomial(order_f, k)
            + k * log_q
            + (order_f - k) * log_1mq
            + (k * k - k) / (2.0 * sigma * sigma);
        log_add(log_a, term)
    })
}

fn log_a_fractional(q: f64, sigma: f64, order: f64) -> f64 {
    let (log_q, log_1mq) = (q.ln(), (-q).ln_1p());
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let scale = std::f64::consts::SQRT_2 * sigma;
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut last0, mut last1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for i in 0..1_000u32 {
        let i = f64::from(i);
        let j = order - i;
        let coefficient = ln_binomial(order, i);
        let term0 = coefficient + i * log_q + j * log_1mq;
        let term1 = coefficient + j * log_q + i * log_1mq;
        let tail0 = 0.5f64.ln() + ln_erfc((i - z0) / scale);
        let tail1 = 0.5f64.ln() + ln_erfc((z0 - j) / scale);
        let s0 = term0 + (i * i - i) / (2.0 * sigma * sigma) + tail0;
        let s1 = term1 + (j * j - j) / (2.0 * sigma * sigma) + tail1;
        log_a0 = log_add(log_a0, s0);
        log_a1 = log_add(log_a1, s1);
        let total = log_add(log_a0, log_a1);
        if s0 < last0 && s1 < last1 && s0.max(s1) < total - 30.0 {
            return total;
        }
        last0 = s0;
        last1 = s1;
    }
    f64::INFINITY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_sampling_the_rdp_is_the_gaussian_mechanisms() {
        // q = 1: the Gaussian mechanism of sensitivity 1 and noise σ has RDP α / 2σ².
        let mut accountant = RdpAccountant::with_orders(vec![2.0, 2.5, 32.0]).unwrap();
        accountant.compose_poisson_gaussian(2.0, 1.0, 3).unwrap();
        for (&order, &rdp) in accountant.orders().iter().zip(accountant.rdp()) {
            assert!((rdp - 3.0 * order / 8.0).abs() < 1e-12, "{order}: {rdp}");
        }
    }

    #[test]
    fn the_integer_sum_at_order_two_by_hand() {
        // A_2 = (1-q)^2 + 2q(1-q) + q^2 e^(1/σ²)
        let (q, sigma) = (0.1f64, 1.5f64);
        let expected =
            ((1.0 - q).powi(2) + 2.0 * q * (1.0 - q) + q * q * (1.0 / (sigma * sigma)).exp()).ln();
        assert!((log_a_integer(q, sigma, 2) - expected).abs() < 1e-12);
    }

    #[test]
    fn the_fractional_series_meets_the_integer_sum() {
        // A_α is continuous in α: just beside an integer order the series must agree with the
        // finite sum (up to the step in α).
        for (q, sigma) in [(0.01, 1.1), (0.2, 0.8), (1e-4, 4.0)] {
            for order in [2.0f64, 5.0, 16.0] {
                let integer = log_a_integer(q, sigma, order as u64);
                let fractional = log_a_fractional(q, sigma, order + 1e-7);
                assert!(
                    (integer - fractional).abs() < 1e-5 * integer.abs().max(1e-3),
                    "q {q} sigma {sigma} order {order}: {integer} vs {fractional}"
                );
            }
        }
    }

    #[test]
    fn log_erfc_is_continuous_where_the_asymptotic_series_takes_over() {
        let below = erfc(19.999_999).ln();
        let above = ln_erfc(20.000_001);
        assert!((below - above).abs() < 1e-4, "{below} {above}");
        assert!(ln_erfc(40.0).is_finite());
        assert!((ln_erfc(0.0) - 0.0).abs() < 1e-15);
    }

    #[test]
    fn epsilon_grows_with_steps_and_sampling_and_falls_with_noise() {
        let base = epsilon(1.1, 0.01, 1_000, 1e-5).unwrap();
        assert!(epsilon(1.1, 0.01, 2_000, 1e-5).unwrap() > base);
        assert!(epsilon(1.1, 0.02, 1_000, 1e-5).unwrap() > base);
        assert!(epsilon(2.0, 0.01, 1_000, 1e-5).unwrap() < base);
        assert!(base > 0.0 && base.is_finite());
    }

    #[test]
    fn the_noise_multiplier_for_a_target_spends_at_most_the_target() {
        let sigma = noise_multiplier_for(3.0, 1e-5, 256.0 / 60_000.0, 9_375).unwrap();
        let spent = epsilon(sigma, 256.0 / 60_000.0, 9_375, 1e-5).unwrap();
        assert!(spent <= 3.0 && spent > 2.95, "sigma {sigma} spends {spent}");
        assert!(epsilon(sigma * 0.99, 256.0 / 60_000.0, 9_375, 1e-5).unwrap() > 3.0);
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert_eq!(
            epsilon(1.0, 1.5, 1, 1e-5),
            Err(PrivacyError::SamplingRate(1.5))
        );
        assert_eq!(
            epsilon(0.0, 0.1, 1, 1e-5),
            Err(PrivacyError::NoiseMultiplier(0.0))
        );
        assert_eq!(epsilon(1.0, 0.1, 1, 0.0), Err(PrivacyError::Delta(0.0)));
        assert_eq!(
            RdpAccountant::with_orders(vec![1.0]),
            Err(PrivacyError::Order(1.0))
        );
    }
}
