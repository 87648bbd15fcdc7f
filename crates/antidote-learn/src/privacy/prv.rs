//! The PRV accountant: the privacy of DP-SGD by numerical composition of its privacy loss
//! (Gopi, Lee and Wutschitz 2021, "Numerical Composition of Differential Privacy"; Koskela,
//! Jälkö and Honkela 2020, "Computing Tight Differential Privacy Guarantees Using FFT").
//!
//! One step of DP-SGD is the Poisson-subsampled Gaussian mechanism: with `P = (1-q) N(0, σ²) +
//! q N(1, σ²)` and `Q = N(0, σ²)`, removing a record turns `P` into `Q` and adding one turns `Q`
//! into `P`. Its privacy random variable (PRV) is the privacy loss `Y = ln P(t)/Q(t)` with `t`
//! drawn from `P` (removal), or `ln Q(t)/P(t)` with `t` drawn from `Q` (addition). The loss is
//! monotone in `t`, so both CDFs have closed forms in `Φ`. `k` steps compose by adding `k`
//! independent copies, and `δ(ε) = E[(1 - e^(ε - Y))₊]` of the sum is the tight `δ`; `ε(δ)`
//! inverts it, the larger of the two directions (add-or-remove adjacency, as `dp-accounting`
//! and Opacus count).
//!
//! The computation, in the paper's terms:
//!
//! 1. **Domain.** A window `[-s, b]` that holds the sum of the `k` losses except for mass below
//!    `δ_err / 4`: Chernoff bounds with the RDP of [`super`] (`P(ΣY ≥ b) ≤ e^((α-1)(k D_α - b))`
//!    and `P(ΣY ≤ -s) ≤ e^(k(α-1) D_α - α s)`, best order; the addition direction's divergence is
//!    at most the removal's, Mironov, Talwar and Zhang 2019, Theorem 5). Every single step falls
//!    outside it with probability below `δ_err / 4k`.
//! 2. **Discretisation.** A uniform mesh of `N` points (a power of two, `2^18` to `2^22`), fine
//!    enough that the coupling error meets `ε_err` (Hoeffding: each step moves by less than the
//!    mesh `h`, with mean zero, so the sum moves by more than `h √(k ln(4/δ_err) / 2)` with
//!    probability below `δ_err / 2`) and that a step's spread (`q √(e^(1/σ²) - 1)`, the root of
//!    its χ² divergence) spans at least 16 points. Each bin's mass is the difference of the CDF
//!    (of the survival function in the upper half, for precision) at its edges; the whole grid
//!    is then shifted so that its mean is the truncated loss's, the bin's first moment coming
//!    from Simpson's rule on the CDF (mean-preserving discretisation, the paper's section 5).
//! 3. **Composition.** The `k`-th power of the mesh's discrete Fourier transform: a circular
//!    convolution, unwrapped into the window, which holds the sum's mass.
//! 4. **`ε(δ)`.** Exact for the discrete distribution: between two mesh points `δ(ε)` is
//!    `S - e^ε T` with suffix sums `S` and `T`, solved in closed form.
//!
//! The estimate is within discretisation error of the true `ε`; the bounds are the paper's
//! `ε(δ + δ_err) - ε_err ≤ ε ≤ ε(δ - δ_err) + ε_err` with Opacus' defaults `ε_err = 0.01` and
//! `δ_err = δ / 1000` (wider when the mesh had to be capped). The test suite compares the
//! estimate with `dp-accounting`'s privacy-loss-distribution accountant.

use rayon::prelude::*;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;

use super::{PrivacyError, check_mechanism, default_orders, sampled_gaussian_rdp};

/// The error in `ε` the bounds allow (Opacus' default).
pub const EPSILON_ERROR: f64 = 0.01;
/// The error in `δ` the bounds allow, as a share of `δ` (Opacus' default).
pub const DELTA_ERROR_SHARE: f64 = 1e-3;
/// The fewest mesh points.
const MIN_POINTS: usize = 1 << 18;
/// The most mesh points (64 MiB of complex numbers per direction).
const MAX_POINTS: usize = 1 << 22;
/// Mesh points over a single step's spread, at least.
const POINTS_PER_SPREAD: f64 = 16.0;
/// Bins per parallel task.
const CHUNK: usize = 4096;

/// The `ε` of the PRV accountant: the estimate and the bounds around it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrvEpsilon {
    /// The estimate of the tight `ε`.
    pub estimate: f64,
    /// A lower bound on the tight `ε`.
    pub lower: f64,
    /// An upper bound on the tight `ε`: what a privacy claim should state.
    pub upper: f64,
}

/// The `ε` at `delta` of `steps` steps of the Poisson-subsampled Gaussian mechanism with noise
/// multiplier `sigma` and sampling rate `q`, by the PRV accountant.
///
/// ```
/// use antidote_learn::privacy::prv::prv_epsilon;
///
/// let spent = prv_epsilon(1.1, 0.01, 1_000, 1e-5)?;
/// assert!(spent.lower <= spent.estimate && spent.estimate <= spent.upper);
/// // Tighter than the RDP accountant's conversion.
/// assert!(spent.upper < antidote_learn::privacy::epsilon(1.1, 0.01, 1_000, 1e-5)?);
/// # Ok::<(), antidote_learn::privacy::PrivacyError>(())
/// ```
pub fn prv_epsilon(sigma: f64, q: f64, steps: u64, delta: f64) -> Result<PrvEpsilon, PrivacyError> {
    check_mechanism(sigma, q)?;
    if !(delta > 0.0 && delta < 1.0) {
        return Err(PrivacyError::Delta(delta));
    }
    if q <= 0.0 || steps == 0 {
        return Ok(PrvEpsilon {
            estimate: 0.0,
            lower: 0.0,
            upper: 0.0,
        });
    }
    let delta_error = DELTA_ERROR_SHARE * delta;
    let mesh = Mesh::new(sigma, q, steps, delta_error);
    let targets = [delta - delta_error, delta, delta + delta_error];
    let mut epsilons = [0.0f64; 3];
    for direction in [Direction::Remove, Direction::Add] {
        let found = mesh.epsilons(direction, &targets);
        for (epsilon, found) in epsilons.iter_mut().zip(found) {
            *epsilon = epsilon.max(found);
        }
    }
    let [upper, estimate, lower] = epsilons;
    Ok(PrvEpsilon {
        estimate,
        lower: (lower - mesh.epsilon_error).max(0.0).min(estimate),
        upper: (upper + mesh.epsilon_error).max(estimate),
    })
}

/// Which neighbour the privacy loss compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// `ln P/Q` under `P`: a record removed.
    Remove,
    /// `ln Q/P` under `Q`: a record added.
    Add,
}

/// The standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The `t` at which the removal loss `ln(1 - q + q e^((2t-1)/2σ²))` equals `u`, or `None` when
/// no `t` reaches it (`u ≤ ln(1-q)`).
fn loss_inverse(sigma: f64, q: f64, u: f64) -> Option<f64> {
    // ln(e^u - (1-q)), without overflow for large u.
    let log_excess = if u > 30.0 {
        u + ((q - 1.0) * (-u).exp()).ln_1p()
    } else {
        let excess = u.exp_m1() + q;
        if excess <= 0.0 {
            return None;
        }
        excess.ln()
    };
    Some(sigma * sigma * (log_excess - q.ln()) + 0.5)
}

/// `(P(Y ≤ y), P(Y > y))` of one step's privacy loss.
fn cdf_sf(direction: Direction, sigma: f64, q: f64, y: f64) -> (f64, f64) {
    match direction {
        Direction::Remove => match loss_inverse(sigma, q, y) {
            None => (0.0, 1.0),
            Some(t) => (
                (1.0 - q) * phi(t / sigma) + q * phi((t - 1.0) / sigma),
                (1.0 - q) * phi(-t / sigma) + q * phi((1.0 - t) / sigma),
            ),
        },
        // ln Q/P ≤ y exactly when the removal loss at the same t is at least -y.
        Direction::Add => match loss_inverse(sigma, q, -y) {
            None => (1.0, 0.0),
            Some(t) => (phi(-t / sigma), phi(t / sigma)),
        },
    }
}

/// The window, the mesh and the composition count.
#[derive(Debug, Clone, Copy)]
struct Mesh {
    sigma: f64,
    q: f64,
    steps: u64,
    /// The window's lower end.
    start: f64,
    /// The mesh width.
    width: f64,
    /// Mesh points.
    points: usize,
    /// The coupling error the mesh allows.
    epsilon_error: f64,
}

impl Mesh {
    fn new(sigma: f64, q: f64, steps: u64, delta_error: f64) -> Self {
        let k = steps as f64;
        // Tail mass beyond the window: below δ_err / 4 for the sum and δ_err / 4k for a step.
        let log_tail = (4.0 * k / (delta_error / 2.0)).ln();
        let (mut upper, mut lower) = (f64::INFINITY, f64::INFINITY);
        for order in default_orders() {
            let rdp = sampled_gaussian_rdp(q, sigma, order);
            if !rdp.is_finite() {
                continue;
            }
            upper = upper.min(k * rdp + log_tail / (order - 1.0));
            lower = lower.min((k * (order - 1.0) * rdp + log_tail) / order);
        }
        // A little room at both ends, and never an empty window.
        let spread = q * (1.0 / (sigma * sigma)).exp_m1().sqrt();
        let upper = upper.max(spread) * 1.05;
        let lower = lower.max(spread) * 1.05;
        let span = upper + lower;
        let log_coupling = (4.0 / delta_error).ln();
        let hoeffding = EPSILON_ERROR * (2.0 / (k * log_coupling)).sqrt();
        let wanted = hoeffding.min(spread / POINTS_PER_SPREAD);
        let points = ((span / wanted).ceil() as usize)
            .clamp(MIN_POINTS, MAX_POINTS)
            .next_power_of_two()
            .min(MAX_POINTS);
        let width = span / points as f64;
        Self {
            sigma,
            q,
            steps,
            start: -lower,
            width,
            points,
            epsilon_error: EPSILON_ERROR.max(width * (k * log_coupling / 2.0).sqrt()),
        }
    }

    /// One step's loss on the mesh: the masses, and the shift that preserves the mean.
    fn discretise(&self, direction: Direction) -> (Vec<f64>, f64) {
        let (sigma, q, h) = (self.sigma, self.q, self.width);
        let parts: Vec<(Vec<f64>, f64, f64)> = (0..self.points)
            .step_by(CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|first| {
                let last = (first + CHUNK).min(self.points);
                let mut masses = Vec::with_capacity(last - first);
                let (mut total, mut moment) = (0.0, 0.0);
                let centre = |index: usize| self.start + index as f64 * h;
                let mut left = cdf_sf(direction, sigma, q, centre(first) - h / 2.0);
                for index in first..last {
                    let middle = cdf_sf(direction, sigma, q, centre(index));
                    let right = cdf_sf(direction, sigma, q, centre(index) + h / 2.0);
                    // The bin's mass, and its first moment about the centre by Simpson's rule
                    // on the CDF: (h/3)(F(l) + F(r) - 2 F(c)).
                    let (mass, offset) = if left.1 < 0.5 {
                        (left.1 - right.1, -(left.1 + right.1 - 2.0 * middle.1))
                    } else {
                        (right.0 - left.0, left.0 + right.0 - 2.0 * middle.0)
                    };
                    let mass = mass.max(0.0);
                    masses.push(mass);
                    total += mass;
                    moment += offset * h / 3.0;
                    left = right;
                }
                (masses, total, moment)
            })
            .collect();
        let (mut total, mut moment) = (0.0, 0.0);
        let mut masses = Vec::with_capacity(self.points);
        for (part, part_total, part_moment) in parts {
            masses.extend(part);
            total += part_total;
            moment += part_moment;
        }
        let shift = if total > 0.0 { moment / total } else { 0.0 };
        (masses, shift.clamp(-h / 2.0, h / 2.0))
    }

    /// The `ε` of the composed loss in `direction` at each of `deltas` (0 where `δ(0)` is
    /// already below).
    fn epsilons(&self, direction: Direction, deltas: &[f64]) -> Vec<f64> {
        let (masses, shift) = self.discretise(direction);
        let n = self.points;
        let mut buffer: Vec<Complex64> = masses.iter().map(|&m| Complex64::new(m, 0.0)).collect();
        let mut planner = FftPlanner::<f64>::new();
        planner.plan_fft_forward(n).process(&mut buffer);
        let k = self.steps as f64;
        for value in &mut buffer {
            let (radius, angle) = value.to_polar();
            *value = Complex64::from_polar(radius.powf(k), angle * k);
        }
        planner.plan_fft_inverse(n).process(&mut buffer);

        // The sum of k mesh values sits at k (start + shift) + I h for an integer I; the window
        // [start, start + n h) holds it, which fixes I from its residue modulo n.
        let h = self.width;
        let offset = k * (self.start + shift);
        let first_index = ((self.start - offset) / h).ceil();
        let base = offset + first_index * h;
        let first_residue = (first_index.rem_euclid(n as f64)) as usize;
        let scale = 1.0 / n as f64;
        let mass = |j: usize| (buffer[(j + first_residue) % n].re * scale).max(0.0);
        let value = |j: usize| base + j as f64 * h;

        // Backwards over the mesh: S(j) = Σ_{i≥j} p_i and R(j) = Σ_{i≥j} p_i e^(v_j - v_i), so
        // that δ(ε) = S(j) - e^(ε - v_j) R(j) for ε in [v_(j-1), v_j].
        let decay = (-h).exp();
        let mut solved: Vec<Option<f64>> = vec![None; deltas.len()];
        let (mut suffix, mut weighted) = (0.0f64, 0.0f64);
        for j in (0..n).rev() {
            // δ at v_j, from the points above it.
            let delta_here = suffix - decay * weighted;
            for (slot, &target) in solved.iter_mut().zip(deltas) {
                if slot.is_none() && delta_here > target && j + 1 < n {
                    *slot = Some(value(j + 1) + ((suffix - target) / weighted).ln());
                }
            }
            suffix += mass(j);
            weighted = mass(j) + decay * weighted;
        }
        solved
            .into_iter()
            .zip(deltas)
            .map(|(slot, &target)| {
                slot.unwrap_or_else(|| {
                    if suffix > target && weighted > 0.0 {
                        value(0) + ((suffix - target) / weighted).ln()
                    } else {
                        0.0
                    }
                })
                .max(0.0)
            })
            .collect()
    }
}

#[cfg(test)]
#[expect(
    clippy::float_cmp,
    reason = "the exact values asserted (0 and 1 of a clamped distribution, a budget of zero) are exact in f64"
)]
mod tests {
    use super::*;

    /// The exact `δ(ε)` of the Gaussian mechanism with `μ = √k / σ` (Balle and Wang 2018,
    /// "Improving the Gaussian Mechanism for Differential Privacy", Theorem 8):
    /// `Φ(μ/2 - ε/μ) - e^ε Φ(-μ/2 - ε/μ)`.
    fn gaussian_delta(mu: f64, epsilon: f64) -> f64 {
        phi(mu / 2.0 - epsilon / mu) - epsilon.exp() * phi(-mu / 2.0 - epsilon / mu)
    }

    /// Its inverse by bisection.
    fn gaussian_epsilon(mu: f64, delta: f64) -> f64 {
        let (mut low, mut high) = (0.0, 100.0);
        for _ in 0..200 {
            let middle = f64::midpoint(low, high);
            if gaussian_delta(mu, middle) > delta {
                low = middle;
            } else {
                high = middle;
            }
        }
        high
    }

    #[test]
    fn one_unsampled_step_is_the_gaussian_mechanism() {
        for (sigma, delta) in [(1.0, 1e-5), (0.5, 1e-6), (3.0, 1e-3)] {
            let exact = gaussian_epsilon(1.0 / sigma, delta);
            let prv = prv_epsilon(sigma, 1.0, 1, delta).unwrap();
            assert!(
                (prv.estimate - exact).abs() < 1e-5 * exact,
                "sigma {sigma}: {prv:?} against {exact}"
            );
            assert!(prv.lower <= exact && exact <= prv.upper, "{prv:?} {exact}");
        }
    }

    #[test]
    fn composed_unsampled_steps_are_one_gaussian_of_root_k() {
        // k Gaussian mechanisms of noise σ compose to one of noise σ / √k.
        let (sigma, steps, delta) = (4.0, 100u64, 1e-5);
        let exact = gaussian_epsilon((steps as f64).sqrt() / sigma, delta);
        let prv = prv_epsilon(sigma, 1.0, steps, delta).unwrap();
        assert!(
            (prv.estimate - exact).abs() < 1e-4 * exact,
            "{prv:?} against {exact}"
        );
    }

    #[test]
    fn the_loss_distributions_are_distributions() {
        for direction in [Direction::Remove, Direction::Add] {
            for (sigma, q) in [(1.0, 0.01), (0.5, 0.3), (2.0, 1.0)] {
                let (cdf, sf) = cdf_sf(direction, sigma, q, 0.05);
                assert!((cdf + sf - 1.0).abs() < 1e-12);
                let (low, _) = cdf_sf(direction, sigma, q, -40.0);
                let (high, _) = cdf_sf(direction, sigma, q, 40.0);
                assert!(
                    low < 1e-12 && high > 1.0 - 1e-12,
                    "{direction:?} {sigma} {q}"
                );
            }
        }
        // Removal: the loss is never below ln(1 - q).
        assert_eq!(
            cdf_sf(Direction::Remove, 1.0, 0.1, (0.9f64).ln() - 1e-9).0,
            0.0
        );
        // Addition: it is never above -ln(1 - q).
        assert_eq!(
            cdf_sf(Direction::Add, 1.0, 0.1, -(0.9f64).ln() + 1e-9).0,
            1.0
        );
    }

    #[test]
    fn the_mean_of_the_mesh_is_the_kl_divergence() {
        // E_P[ln P/Q] is KL(P || Q); for q = 1 it is 1/2σ².
        let mesh = Mesh::new(2.0, 1.0, 1, 1e-8);
        let (masses, shift) = mesh.discretise(Direction::Remove);
        let mean: f64 = masses
            .iter()
            .enumerate()
            .map(|(i, m)| m * (mesh.start + i as f64 * mesh.width + shift))
            .sum();
        assert!((mean - 0.125).abs() < 1e-7, "{mean}");
    }

    #[test]
    fn sampling_and_noise_move_epsilon_the_right_way_and_rdp_bounds_it() {
        let base = prv_epsilon(1.1, 0.01, 1_000, 1e-5).unwrap();
        assert!(prv_epsilon(1.1, 0.02, 1_000, 1e-5).unwrap().estimate > base.estimate);
        assert!(prv_epsilon(1.5, 0.01, 1_000, 1e-5).unwrap().estimate < base.estimate);
        assert!(prv_epsilon(1.1, 0.01, 2_000, 1e-5).unwrap().estimate > base.estimate);
        let rdp = super::super::epsilon(1.1, 0.01, 1_000, 1e-5).unwrap();
        assert!(base.upper < rdp, "{base:?} rdp {rdp}");
        assert!(base.upper - base.lower < 0.05, "{base:?}");
    }

    #[test]
    fn no_sampling_and_no_steps_spend_nothing() {
        assert_eq!(prv_epsilon(1.0, 0.0, 10, 1e-5).unwrap().upper, 0.0);
        assert_eq!(prv_epsilon(1.0, 0.1, 0, 1e-5).unwrap().upper, 0.0);
        assert_eq!(prv_epsilon(1.0, 0.1, 1, 1.5), Err(PrivacyError::Delta(1.5)));
    }
}
