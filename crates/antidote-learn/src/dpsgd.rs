//! DP-SGD: training the built-in models with differential privacy, which bounds how much any one
//! record, poisoned or not, can move the model.
//!
//! Abadi et al. (2016), "Deep Learning with Differential Privacy", algorithm 1, with Poisson
//! sampling as the accountant assumes:
//!
//! 1. each step takes every training record into its batch independently with probability `q`
//!    (the expected batch size over the records);
//! 2. each record's gradient is clipped to L2 norm at most `C`, exactly, over all layers
//!    together;
//! 3. Gaussian noise `N(0, σ² C²)` is added to every coordinate of the sum of the clipped
//!    gradients, and the sum is divided by the *expected* batch size `q n` (as Opacus does: the
//!    actual size would leak whether a record was sampled);
//! 4. the model takes a step of SGD with momentum (post-processing, free of privacy cost).
//!
//! The privacy spent is counted by [`privacy::RdpAccountant`](crate::privacy::RdpAccountant) (or,
//! with [`Accountant::Prv`], by the PRV accountant of [`privacy::prv`](crate::privacy::prv)) for
//! `(σ, q, steps)`; a target `ε` is met by the smallest `σ` that stays within it
//! ([`privacy::noise_multiplier_for`](crate::privacy::noise_multiplier_for)).
//!
//! Per-sample norms come without materialising per-sample gradients ("ghost clipping",
//! Goodfellow 2015, "Efficient Per-Example Gradient Computations"; Li et al. 2022, "Large
//! Language Models Can Be Strong Differentially Private Learners"): a dense layer's gradient for
//! record `i` is the outer product `a_i g_iᵀ` of its input `a_i` and the gradient `g_i` of the
//! loss with respect to its output, whose Frobenius norm is `|a_i| |g_i|`; its bias's gradient is
//! `g_i`. A record's squared norm over the network is `Σ_layers (|a_i|² + 1) |g_i|²`. Back
//! propagation is linear in the output gradient, so scaling each record's output gradient by its
//! clipping factor `min(1, C / norm_i)` scales its whole gradient: the clipped sum is one product
//! `Aᵀ diag(c) G` per layer, the cost of ordinary back propagation. Logistic regression is the
//! network with no hidden layer.
//!
//! The non-private path ([`Privacy::NonPrivate`]) runs the same code with no clipping and no
//! noise, averaging over the actual batch: plain minibatch SGD, for comparison.
//!
//! Limits: the noise comes from a seeded `SplitMix64` stream, reproducible but not a
//! cryptographically secure generator, and floating-point noise has the known weaknesses of
//! Mironov (2012), "On Significance of the Least Significant Bits for Differential Privacy"; the
//! guarantee is that of the mathematics, as with Opacus outside its `secure_mode`.

use std::time::Instant;

use antidote_core::math::argmax;
use antidote_core::{Progress, ProgressUnit, SplitMix64};
use faer::{MatMut, MatRef};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::Features;
use crate::logistic::FitError;
use crate::mlp::{
    Network, check_input, parameter_count, product, softmax_in_place, split_layers,
    split_layers_mut,
};
use crate::privacy::{Accountant, PrivacyError};

/// DP-SGD for the built-in models; start with [`DpSgd::params`].
///
/// ```
/// use antidote_core::NoProgress;
/// use antidote_learn::{DpSgd, Features, Privacy};
///
/// // Two features; the class is 1 when the first is larger.
/// let data: Vec<f32> = (0..400).flat_map(|i| {
///     let (a, b) = ((i % 7) as f32 / 7.0, (i % 11) as f32 / 11.0);
///     [a, b]
/// }).collect();
/// let labels: Vec<usize> = data.chunks(2).map(|row| usize::from(row[0] > row[1])).collect();
/// let features = Features::from_row_major(400, 2, data, "xy")?;
/// let model = DpSgd::params()
///     .privacy(Privacy::TargetEpsilon(8.0))
///     .epochs(20)
///     .batch_size(40)
///     .check()?
///     .fit(&features, &labels, 2, &NoProgress)?;
/// let record = model.record();
/// assert!(record.epsilon.unwrap() <= 8.0);
/// assert_eq!(record.steps, 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DpSgd;

impl DpSgd {
    /// The defaults: logistic regression (no hidden layer), 20 epochs, expected batches of 64,
    /// a learning rate for the model and the privacy
    /// ([`DpSgdParams::DEFAULT_LEARNING_RATES`]) with momentum 0.9, clipping at `C = 1`, a target `ε = 8` at the default
    /// `δ` ([`default_delta`]), seed 0.
    #[must_use]
    pub fn params() -> DpSgdParams {
        DpSgdParams::default()
    }
}

/// How much privacy training must keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Privacy {
    /// No clipping, no noise: plain minibatch SGD through the same code, for comparison.
    NonPrivate,
    /// Noise of this multiplier `σ`; the `ε` spent is reported.
    NoiseMultiplier(f64),
    /// The smallest noise multiplier whose steps spend at most this `ε`.
    TargetEpsilon(f64),
}

/// Hyperparameters of [`DpSgd`]; [`DpSgdParams::check`] validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct DpSgdParams {
    hidden_layers: Vec<usize>,
    epochs: usize,
    batch_size: usize,
    /// `None` for one of [`DpSgdParams::DEFAULT_LEARNING_RATES`].
    learning_rate: Option<f64>,
    momentum: f64,
    max_grad_norm: f64,
    privacy: Privacy,
    accountant: Accountant,
    delta: Option<f64>,
    seed: u64,
}

impl Default for DpSgdParams {
    fn default() -> Self {
        Self {
            hidden_layers: Vec::new(),
            epochs: 20,
            batch_size: 64,
            learning_rate: None,
            momentum: 0.9,
            max_grad_norm: 1.0,
            privacy: Privacy::TargetEpsilon(8.0),
            accountant: Accountant::Rdp,
            delta: None,
            seed: 0,
        }
    }
}

/// Checked [`DpSgdParams`], ready to [`fit`](Self::fit).
#[derive(Debug, Clone, PartialEq)]
pub struct DpSgdValidParams(DpSgdParams);

/// Errors from checking [`DpSgdParams`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DpSgdParamsError {
    /// A hidden layer has no unit.
    #[error("hidden layer {layer} has no units")]
    EmptyHiddenLayer {
        /// The layer, from 0 nearest the input.
        layer: usize,
    },
    /// No epoch.
    #[error("`epochs` must be at least 1")]
    Epochs,
    /// Empty batches.
    #[error("`batch_size` must be at least 1")]
    BatchSize,
    /// The learning rate is not positive and finite.
    #[error("`learning_rate` must be a finite number greater than 0, found `{0}`")]
    LearningRate(f64),
    /// The momentum is not in `[0, 1)`.
    #[error("`momentum` must be at least 0 and below 1, found `{0}`")]
    Momentum(f64),
    /// The clipping norm is not positive and finite.
    #[error("`max_grad_norm` must be a finite number greater than 0, found `{0}`")]
    MaxGradNorm(f64),
    /// The noise multiplier is not positive and finite.
    #[error("the noise multiplier must be a finite number greater than 0, found `{0}`")]
    NoiseMultiplier(f64),
    /// The target ε is not positive and finite.
    #[error("the target epsilon must be a finite number greater than 0, found `{0}`")]
    Epsilon(f64),
    /// δ is not in `(0, 1)`.
    #[error("delta must be above 0 and below 1, found `{0}`")]
    Delta(f64),
}

/// Errors from training with DP-SGD.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DpSgdError {
    /// The features or labels cannot be trained on.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// The expected batch is larger than the data.
    #[error("the expected batch size {batch_size} is larger than the {records} training records")]
    BatchLargerThanData {
        /// The expected batch size.
        batch_size: usize,
        /// Training records.
        records: usize,
    },
    /// δ is not below `1 / records`: publishing one whole record at random would meet it.
    #[error(
        "delta {delta} is not below 1/{records}: a release of one whole record chosen at random would meet it"
    )]
    DeltaTooLarge {
        /// The δ asked for.
        delta: f64,
        /// Training records.
        records: usize,
    },
    /// The privacy budget cannot be met, or the accountant refused its inputs.
    #[error("the privacy budget cannot be met")]
    Budget(#[source] PrivacyError),
}

impl DpSgdParams {
    /// Hidden layers of a multilayer perceptron with `ReLU` (default: none, which is multinomial
    /// logistic regression).
    #[must_use]
    pub fn hidden_layers(mut self, widths: &[usize]) -> Self {
        self.hidden_layers = widths.to_vec();
        self
    }

    /// Passes over the data: each is `round(1 / q)` steps (default: 20).
    #[must_use]
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The expected batch size `q n`: each record joins a batch with probability
    /// `batch_size / records` (default: 64).
    #[must_use]
    pub fn batch_size(mut self, records: usize) -> Self {
        self.batch_size = records;
        self
    }

    /// The default step size: logistic regression private and not, then a network with hidden
    /// layers private and not. Clipped gradients (norm at most `C`) take larger steps than
    /// unclipped ones, and a network diverges at logistic regression's step; chosen on the
    /// Fashion-MNIST fixture (`tests/dpsgd.rs`).
    pub const DEFAULT_LEARNING_RATES: [f64; 4] = [0.5, 0.05, 0.05, 0.02];

    /// The SGD step size (default: one of
    /// [`DEFAULT_LEARNING_RATES`](Self::DEFAULT_LEARNING_RATES)).
    #[must_use]
    pub fn learning_rate(mut self, rate: f64) -> Self {
        self.learning_rate = Some(rate);
        self
    }

    /// Heavy-ball momentum (default: 0.9).
    #[must_use]
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// The clipping norm `C` of every record's gradient (default: 1).
    #[must_use]
    pub fn max_grad_norm(mut self, norm: f64) -> Self {
        self.max_grad_norm = norm;
        self
    }

    /// The accountant that counts the privacy spent (default: RDP).
    #[must_use]
    pub fn accountant(mut self, accountant: Accountant) -> Self {
        self.accountant = accountant;
        self
    }

    /// The privacy to keep (default: a target `ε = 8`).
    #[must_use]
    pub fn privacy(mut self, privacy: Privacy) -> Self {
        self.privacy = privacy;
        self
    }

    /// The δ of the `(ε, δ)` guarantee (default: [`default_delta`] of the training records).
    #[must_use]
    pub fn delta(mut self, delta: f64) -> Self {
        self.delta = Some(delta);
        self
    }

    /// The seed of the initial weights, the batches and the noise (default: 0).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the hyperparameters.
    pub fn check(self) -> Result<DpSgdValidParams, DpSgdParamsError> {
        let positive = |value: f64| value.is_finite() && value > 0.0;
        if let Some(layer) = self.hidden_layers.iter().position(|&width| width == 0) {
            return Err(DpSgdParamsError::EmptyHiddenLayer { layer });
        }
        if self.epochs == 0 {
            return Err(DpSgdParamsError::Epochs);
        }
        if self.batch_size == 0 {
            return Err(DpSgdParamsError::BatchSize);
        }
        if let Some(rate) = self.learning_rate
            && !positive(rate)
        {
            return Err(DpSgdParamsError::LearningRate(rate));
        }
        if !(self.momentum >= 0.0 && self.momentum < 1.0) {
            return Err(DpSgdParamsError::Momentum(self.momentum));
        }
        if !positive(self.max_grad_norm) {
            return Err(DpSgdParamsError::MaxGradNorm(self.max_grad_norm));
        }
        match self.privacy {
            Privacy::NoiseMultiplier(sigma) if !positive(sigma) => {
                return Err(DpSgdParamsError::NoiseMultiplier(sigma));
            }
            Privacy::TargetEpsilon(epsilon) if !positive(epsilon) => {
                return Err(DpSgdParamsError::Epsilon(epsilon));
            }
            _ => {}
        }
        if let Some(delta) = self.delta
            && !(delta > 0.0 && delta < 1.0)
        {
            return Err(DpSgdParamsError::Delta(delta));
        }
        Ok(DpSgdValidParams(self))
    }
}

/// The default δ for `records` training records: `1/records` rounded down to a power of ten,
/// and at most `1e-5`.
///
/// δ is the probability that the guarantee fails outright, so it must be far below the chance
/// of one record: a mechanism that publishes one whole record chosen at random is
/// `(0, 1/n)`-DP. Rounding `1/n` down to a power of ten keeps δ below it for every `n`; `1e-5`
/// is the customary bound (Abadi et al. 2016, Opacus' examples), which small datasets keep
/// rather than `1e-3` or `1e-4`, so that their ε compares with published numbers.
///
/// ```
/// use antidote_learn::default_delta;
/// assert_eq!(default_delta(300), 1e-5);
/// assert_eq!(default_delta(60_000), 1e-5);
/// assert_eq!(default_delta(1_500_000), 1e-7);
/// ```
#[must_use]
pub fn default_delta(records: usize) -> f64 {
    let exponent = (records.max(1) as f64).log10().ceil();
    let rounded = 10f64.powf(-exponent);
    // `10^-ceil(log10 n)` is at most 1/n, equal when n is a power of ten; step down once more
    // then, so that δ stays strictly below 1/n.
    let rounded = if (rounded * records as f64 - 1.0).abs() < 1e-9 {
        rounded / 10.0
    } else {
        rounded
    };
    rounded.min(1e-5)
}

/// What one epoch of training looked like; the training watch reads these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Records sampled into the epoch's batches.
    pub records: usize,
    /// Their mean cross-entropy, each just before the step on its batch.
    pub loss: f64,
    /// Their mean gradient norm before clipping.
    pub mean_gradient_norm: f64,
    /// Their mean gradient norm after clipping (the same as before when not private).
    pub mean_clipped_norm: f64,
    /// The share of them whose gradient was clipped (0 when not private).
    pub clipped_share: f64,
    /// The mean cross-entropy of each class's records (`NaN`-free: `None` when none sampled).
    pub class_losses: Vec<Option<f64>>,
    /// The mean gradient norm before clipping of each class's records (`None` when none
    /// sampled; empty in records written before it was kept).
    #[serde(default)]
    pub class_gradient_norms: Vec<Option<f64>>,
}

/// What training did, and the privacy it spent: the training record kept with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The privacy asked for.
    pub privacy: Privacy,
    /// The `ε` spent over `steps` at `delta`, by [`accountant`](Self::accountant) (`None` when
    /// not private).
    pub epsilon: Option<f64>,
    /// The `δ` of the guarantee (`None` when not private).
    pub delta: Option<f64>,
    /// The noise multiplier `σ` (`None` when not private).
    pub noise_multiplier: Option<f64>,
    /// The clipping norm `C` (`None` when not private).
    pub max_grad_norm: Option<f64>,
    /// The accountant: `rdp` or `prv` (whose upper bound is `epsilon`).
    pub accountant: String,
    /// The sampling rate `q`: the expected batch size over the training records.
    pub sampling_rate: f64,
    /// Steps taken.
    pub steps: u64,
    /// Epochs.
    pub epochs: usize,
    /// The expected batch size.
    pub batch_size: usize,
    /// The SGD step size.
    pub learning_rate: f64,
    /// The momentum.
    pub momentum: f64,
    /// The seed.
    pub seed: u64,
    /// Training records.
    pub records: usize,
    /// The curves, one entry per epoch.
    pub epochs_watched: Vec<EpochStats>,
    /// Wall-clock seconds of training.
    pub seconds: f64,
}

/// A model trained by [`DpSgd`]: the network's layers and the training record.
#[derive(Debug, Clone, PartialEq)]
pub struct DpSgdModel {
    pub(crate) network: Network,
    pub(crate) record: TrainingRecord,
}

impl DpSgdModel {
    /// A model from its layer widths (the input's, the hidden layers', the classes') and its
    /// parameters laid out layer by layer, the weights (`inputs x outputs`, row-major) then the
    /// biases; `None` if they do not fit.
    #[must_use]
    pub fn from_parameters(
        widths: Vec<usize>,
        parameters: Vec<f32>,
        record: TrainingRecord,
    ) -> Option<Self> {
        (widths.len() >= 2 && parameter_count(&widths) == parameters.len()).then_some(Self {
            network: Network { widths, parameters },
            record,
        })
    }

    /// The training record.
    #[must_use]
    pub fn record(&self) -> &TrainingRecord {
        &self.record
    }

    /// The widths: the input's, the hidden layers', then the number of classes.
    #[must_use]
    pub fn widths(&self) -> &[usize] {
        &self.network.widths
    }

    /// The number of classes.
    #[must_use]
    pub fn classes(&self) -> usize {
        self.network.widths[self.network.widths.len() - 1]
    }

    /// The number of features it reads.
    #[must_use]
    pub fn features(&self) -> usize {
        self.network.widths[0]
    }

    /// The weights (`inputs x outputs`, row-major) and biases of every layer, from the input
    /// on.
    #[must_use]
    pub fn layers(&self) -> Vec<(&[f32], &[f32])> {
        split_layers(&self.network.parameters, &self.network.widths)
    }

    /// All parameters, laid out as [`from_parameters`](Self::from_parameters) takes them.
    #[must_use]
    pub fn parameters(&self) -> &[f32] {
        &self.network.parameters
    }

    /// The probability of every class for every record: `rows x classes`, row-major.
    ///
    /// # Panics
    ///
    /// If `features` does not have the number of columns the model was trained on.
    #[must_use]
    pub fn predict_proba(&self, features: &Features) -> Vec<f32> {
        self.network.forward(features, self.network.layers())
    }

    /// The most probable class of every record.
    ///
    /// # Panics
    ///
    /// If `features` does not have the number of columns the model was trained on.
    #[must_use]
    pub fn predict(&self, features: &Features) -> Vec<usize> {
        self.predict_proba(features)
            .chunks_exact(self.classes())
            .map(argmax)
            .collect()
    }
}

/// The privacy plan of a run, resolved from the parameters and the data.
#[derive(Debug, Clone, Copy)]
struct Plan {
    q: f64,
    steps_per_epoch: usize,
    steps: u64,
    /// `(σ, δ)` when private.
    noise: Option<(f64, f64)>,
}

impl DpSgdValidParams {
    /// The sampling rate, steps, noise multiplier and δ a run on `records` records would use,
    /// without training: `(q, steps, σ, δ)` (`σ` and `δ` `None` when not private).
    pub fn plan(&self, records: usize) -> Result<(f64, u64, Option<f64>, Option<f64>), DpSgdError> {
        let plan = self.resolve(records)?;
        Ok((
            plan.q,
            plan.steps,
            plan.noise.map(|(sigma, _)| sigma),
            plan.noise.map(|(_, delta)| delta),
        ))
    }

    fn resolve(&self, records: usize) -> Result<Plan, DpSgdError> {
        let params = &self.0;
        if records == 0 {
            return Err(FitError::NoRecords.into());
        }
        if params.batch_size > records {
            return Err(DpSgdError::BatchLargerThanData {
                batch_size: params.batch_size,
                records,
            });
        }
        let q = params.batch_size as f64 / records as f64;
        let steps_per_epoch = ((1.0 / q).round() as usize).max(1);
        let steps = (params.epochs * steps_per_epoch) as u64;
        let delta = params.delta.unwrap_or_else(|| default_delta(records));
        let sigma = match params.privacy {
            Privacy::NonPrivate => None,
            Privacy::NoiseMultiplier(sigma) => Some(sigma),
            Privacy::TargetEpsilon(epsilon) => Some(
                params
                    .accountant
                    .noise_multiplier_for(epsilon, delta, q, steps)
                    .map_err(DpSgdError::Budget)?,
            ),
        };
        if sigma.is_some() && delta * records as f64 >= 1.0 {
            return Err(DpSgdError::DeltaTooLarge { delta, records });
        }
        Ok(Plan {
            q,
            steps_per_epoch,
            steps,
            noise: sigma.map(|sigma| (sigma, delta)),
        })
    }

    /// Trains on `features` and their class indices `labels` (each below `classes`), reporting
    /// one progress stage, `train`, that advances by the records once per epoch.
    pub fn fit(
        &self,
        features: &Features,
        labels: &[usize],
        classes: usize,
        progress: &dyn Progress,
    ) -> Result<DpSgdModel, DpSgdError> {
        check_input(features, labels, classes)?;
        let started = Instant::now();
        let params = &self.0;
        let records = features.rows();
        let plan = self.resolve(records)?;
        let mut widths = Vec::with_capacity(params.hidden_layers.len() + 2);
        widths.push(features.columns());
        widths.extend_from_slice(&params.hidden_layers);
        widths.push(classes);
        let mut network = if params.hidden_layers.is_empty() {
            Network {
                parameters: vec![0.0; parameter_count(&widths)],
                widths,
            }
        } else {
            Network::initialised(widths, params.seed)
        };
        let clip = plan.noise.map(|_| params.max_grad_norm);
        let learning_rate = params.learning_rate.unwrap_or(
            DpSgdParams::DEFAULT_LEARNING_RATES
                [2 * usize::from(!params.hidden_layers.is_empty()) + usize::from(clip.is_none())],
        );
        let mut velocity = vec![0.0f32; network.parameters.len()];
        let mut sampler = SplitMix64::derived(params.seed, "dpsgd-sampling");
        let mut noise_seeds = SplitMix64::derived(params.seed, "dpsgd-noise");
        let mut epochs_watched = Vec::with_capacity(params.epochs);

        progress.start(
            "train",
            Some((params.epochs * records) as u64),
            ProgressUnit::Records,
        );
        let mut batch = Vec::with_capacity(2 * params.batch_size);
        for epoch in 0..params.epochs {
            let mut watch = EpochWatch::new(classes);
            for _ in 0..plan.steps_per_epoch {
                batch.clear();
                batch.extend(
                    (0..records)
                        .filter(|_| sampler.unit() < plan.q)
                        .map(|record| (record, labels[record])),
                );
                let (mut gradient, stats) = clipped_sum(&network, features, &batch, clip);
                watch.add(&stats, &batch);
                let divisor = if let Some((sigma, _)) = plan.noise {
                    add_noise(
                        &mut gradient,
                        sigma * params.max_grad_norm,
                        noise_seeds.next_u64(),
                    );
                    plan.q * records as f64
                } else {
                    batch.len() as f64
                };
                if divisor > 0.0 {
                    step(
                        &mut network.parameters,
                        &mut velocity,
                        &gradient,
                        (learning_rate / divisor) as f32,
                        params.momentum as f32,
                    );
                }
            }
            let stats = watch.finish(epoch, clip.is_some());
            tracing::debug!(?stats, "trained an epoch");
            epochs_watched.push(stats);
            progress.advance(records as u64);
        }
        progress.finish();

        let (epsilon, delta) = match plan.noise {
            Some((sigma, delta)) => (
                Some(
                    params
                        .accountant
                        .epsilon(sigma, plan.q, plan.steps, delta)
                        .map_err(DpSgdError::Budget)?,
                ),
                Some(delta),
            ),
            None => (None, None),
        };
        let record = TrainingRecord {
            privacy: params.privacy,
            epsilon,
            delta,
            noise_multiplier: plan.noise.map(|(sigma, _)| sigma),
            max_grad_norm: clip,
            accountant: params.accountant.name().to_owned(),
            sampling_rate: plan.q,
            steps: plan.steps,
            epochs: params.epochs,
            batch_size: params.batch_size,
            learning_rate,
            momentum: params.momentum,
            seed: params.seed,
            records,
            epochs_watched,
            seconds: started.elapsed().as_secs_f64(),
        };
        Ok(DpSgdModel { network, record })
    }
}

/// Rows per parallel task: each runs the forward and backward passes of its rows on one thread;
/// the parts' gradients are added in order, so the sums do not depend on threads.
const PART_ROWS: usize = 64;

/// Parameters per parallel task of the noise and the step.
const CHUNK: usize = 4096;

/// Per-record results of one batch, in batch order.
#[derive(Debug, Default)]
pub(crate) struct BatchStats {
    losses: Vec<f64>,
    norms: Vec<f64>,
    factors: Vec<f64>,
}

/// The sum over `batch` (each a row of `features` and the class to learn for it) of every
/// record's gradient of its cross-entropy, each clipped to norm `clip` when given, laid out as
/// the network's parameters; and the records' losses, norms before clipping and clipping
/// factors.
pub(crate) fn clipped_sum(
    network: &Network,
    features: &Features,
    batch: &[(usize, usize)],
    clip: Option<f64>,
) -> (Vec<f32>, BatchStats) {
    let parts: Vec<(Vec<f32>, BatchStats)> = batch
        .par_chunks(PART_ROWS)
        .map(|rows| part_gradient(network, features, rows, clip))
        .collect();
    let mut total = vec![0.0f32; network.parameters.len()];
    let mut stats = BatchStats::default();
    for (gradient, part) in parts {
        total.iter_mut().zip(&gradient).for_each(|(t, g)| *t += g);
        stats.losses.extend(part.losses);
        stats.norms.extend(part.norms);
        stats.factors.extend(part.factors);
    }
    (total, stats)
}

/// The forward pass of a part: the input of every layer (the records' features, then each
/// hidden layer's rectified activations), and the output scores, `rows x width`.
fn forward(
    widths: &[usize],
    parameters: &[(&[f32], &[f32])],
    features: &Features,
    records: &[(usize, usize)],
) -> (Vec<Vec<f32>>, Vec<f32>) {
    let layers = widths.len() - 1;
    let rows = records.len();
    let mut inputs: Vec<Vec<f32>> = Vec::with_capacity(layers);
    inputs.push(
        records
            .iter()
            .flat_map(|&(record, _)| features.row(record).iter().copied())
            .collect(),
    );
    let mut scores = Vec::new();
    for (layer, (weights, bias)) in parameters.iter().enumerate() {
        let (width_in, width_out) = (widths[layer], widths[layer + 1]);
        let mut out = vec![0.0f32; rows * width_out];
        product(
            MatMut::from_row_major_slice_mut(&mut out, rows, width_out),
            MatRef::from_row_major_slice(&inputs[layer], rows, width_in),
            MatRef::from_row_major_slice(weights, width_in, width_out),
        );
        let hidden = layer + 1 < layers;
        for row in out.chunks_exact_mut(width_out) {
            row.iter_mut().zip(*bias).for_each(|(value, b)| *value += b);
            if hidden {
                for value in row.iter_mut() {
                    *value = value.max(0.0);
                }
            }
        }
        if hidden {
            inputs.push(out);
        } else {
            scores = out;
        }
    }

    (inputs, scores)
}

/// Every record's gradient norm over all layers, without materialising the gradients:
/// `Σ_layers (|a|² + 1) |g|²`, the weights' outer product `a gᵀ` and the bias `g`.
fn record_norms(widths: &[usize], inputs: &[Vec<f32>], deltas: &[Vec<f32>]) -> Vec<f64> {
    let layers = widths.len() - 1;
    let rows = deltas[0].len() / widths[1].max(1);
    let squared = |values: &[f32]| values.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
    (0..rows)
        .map(|row| {
            (0..layers)
                .map(|layer| {
                    let (width_in, width_out) = (widths[layer], widths[layer + 1]);
                    let input = &inputs[layer][row * width_in..(row + 1) * width_in];
                    let delta = &deltas[layer][row * width_out..(row + 1) * width_out];
                    (squared(input) + 1.0) * squared(delta)
                })
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// [`clipped_sum`] of one part of a batch, on one thread.
fn part_gradient(
    network: &Network,
    features: &Features,
    records: &[(usize, usize)],
    clip: Option<f64>,
) -> (Vec<f32>, BatchStats) {
    let widths = &network.widths;
    let layers = widths.len() - 1;
    let rows = records.len();
    let parameters = split_layers(&network.parameters, widths);

    let (inputs, mut scores) = forward(widths, &parameters, features, records);

    // The loss and its gradient with respect to the scores: softmax - one hot.
    let classes = widths[layers];
    let mut losses = Vec::with_capacity(rows);
    for (row, &(_, label)) in scores.chunks_exact_mut(classes).zip(records) {
        softmax_in_place(row);
        losses.push(-f64::from(row[label].max(f32::MIN_POSITIVE).ln()));
        row[label] -= 1.0;
    }

    // Backward: the gradient with respect to every layer's output, per record.
    let mut deltas: Vec<Vec<f32>> = vec![Vec::new(); layers];
    deltas[layers - 1] = scores;
    for layer in (1..layers).rev() {
        let (width_in, width_out) = (widths[layer], widths[layer + 1]);
        let mut previous = vec![0.0f32; rows * width_in];
        product(
            MatMut::from_row_major_slice_mut(&mut previous, rows, width_in),
            MatRef::from_row_major_slice(&deltas[layer], rows, width_out),
            MatRef::from_row_major_slice(parameters[layer].0, width_in, width_out).transpose(),
        );
        previous
            .iter_mut()
            .zip(&inputs[layer])
            .for_each(|(value, activation)| {
                *value = if *activation > 0.0 { *value } else { 0.0 };
            });
        deltas[layer - 1] = previous;
    }

    let norms = record_norms(widths, &inputs, &deltas);
    let factors: Vec<f64> = norms
        .iter()
        .map(|&norm| match clip {
            Some(bound) if norm > bound => bound / norm,
            _ => 1.0,
        })
        .collect();

    // The clipped sum: each record's output gradients scaled by its factor, then Aᵀ G.
    let mut gradient = vec![0.0f32; network.parameters.len()];
    let mut out_layers = split_layers_mut(&mut gradient, widths);
    for layer in 0..layers {
        let (width_in, width_out) = (widths[layer], widths[layer + 1]);
        let delta = &mut deltas[layer];
        if clip.is_some() {
            for (row, factor) in delta.chunks_exact_mut(width_out).zip(&factors) {
                let factor = *factor as f32;
                for value in row.iter_mut() {
                    *value *= factor;
                }
            }
        }
        let (weight_gradient, bias_gradient) = &mut out_layers[layer];
        product(
            MatMut::from_row_major_slice_mut(weight_gradient, width_in, width_out),
            MatRef::from_row_major_slice(&inputs[layer], rows, width_in).transpose(),
            MatRef::from_row_major_slice(delta, rows, width_out),
        );
        for row in delta.chunks_exact(width_out) {
            bias_gradient
                .iter_mut()
                .zip(row)
                .for_each(|(total, value)| *total += value);
        }
    }
    (
        gradient,
        BatchStats {
            losses,
            norms,
            factors,
        },
    )
}

/// Adds `N(0, deviation²)` to every coordinate, from a stream seeded with `seed`: each chunk of
/// parameters has its own generator derived from the seed and the chunk, so the noise is the
/// same whatever the threads. The normals come from the ziggurat sampler of `rand_distr`
/// (exact, and almost never a logarithm or a cosine): Box-Muller's `ln`, `sin` and `cos` per
/// pair of coordinates were most of DP-SGD's time on an MLP.
fn add_noise(gradient: &mut [f32], deviation: f64, seed: u64) {
    gradient
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            // The chunk's generator starts at a hash of the seed and the chunk: starting at
            // `seed + chunk` would make the chunks' streams shifted copies of one another.
            let start = SplitMix64::new(seed ^ (chunk as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
                .next_u64();
            let mut random = Stream(SplitMix64::new(start));
            for value in values.iter_mut() {
                let normal: f64 = StandardNormal.sample(&mut random);
                *value += (normal * deviation) as f32;
            }
        });
}

/// A [`SplitMix64`] stream as `rand_core`'s generator, for `rand_distr`'s samplers.
struct Stream(SplitMix64);

impl rand_core::RngCore for Stream {
    fn next_u32(&mut self) -> u32 {
        (self.0.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// SGD with heavy-ball momentum: `v = μ v + g`, `θ -= rate v`; `rate` includes the division of
/// the summed gradient.
pub(crate) fn step(
    parameters: &mut [f32],
    velocity: &mut [f32],
    gradient: &[f32],
    rate: f32,
    momentum: f32,
) {
    parameters
        .par_chunks_mut(CHUNK)
        .zip(velocity.par_chunks_mut(CHUNK))
        .zip(gradient.par_chunks(CHUNK))
        .for_each(|((parameters, velocity), gradient)| {
            for ((parameter, velocity), gradient) in
                parameters.iter_mut().zip(velocity.iter_mut()).zip(gradient)
            {
                *velocity = momentum * *velocity + gradient;
                *parameter -= rate * *velocity;
            }
        });
}

/// Sums over an epoch's batches.
struct EpochWatch {
    records: usize,
    loss: f64,
    norm: f64,
    clipped_norm: f64,
    clipped: usize,
    class_loss: Vec<f64>,
    class_norm: Vec<f64>,
    class_count: Vec<usize>,
}

impl EpochWatch {
    fn new(classes: usize) -> Self {
        Self {
            records: 0,
            loss: 0.0,
            norm: 0.0,
            clipped_norm: 0.0,
            clipped: 0,
            class_loss: vec![0.0; classes],
            class_norm: vec![0.0; classes],
            class_count: vec![0; classes],
        }
    }

    fn add(&mut self, stats: &BatchStats, batch: &[(usize, usize)]) {
        for (index, &(_, label)) in batch.iter().enumerate() {
            let (loss, norm, factor) = (
                stats.losses[index],
                stats.norms[index],
                stats.factors[index],
            );
            self.records += 1;
            self.loss += loss;
            self.norm += norm;
            self.clipped_norm += norm * factor;
            self.clipped += usize::from(factor < 1.0);
            self.class_loss[label] += loss;
            self.class_norm[label] += norm;
            self.class_count[label] += 1;
        }
    }

    fn finish(self, epoch: usize, private: bool) -> EpochStats {
        let records = self.records.max(1) as f64;
        EpochStats {
            epoch,
            records: self.records,
            loss: self.loss / records,
            mean_gradient_norm: self.norm / records,
            mean_clipped_norm: self.clipped_norm / records,
            clipped_share: if private {
                self.clipped as f64 / records
            } else {
                0.0
            },
            class_losses: self
                .class_loss
                .iter()
                .zip(&self.class_count)
                .map(|(&loss, &count)| (count > 0).then(|| loss / count as f64))
                .collect(),
            class_gradient_norms: self
                .class_norm
                .iter()
                .zip(&self.class_count)
                .map(|(&norm, &count)| (count > 0).then(|| norm / count as f64))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use antidote_core::NoProgress;

    use super::*;

    /// A network of `widths` with weights drawn from `N(0, 1)` and small biases.
    fn network(widths: &[usize], seed: u64) -> Network {
        let mut random = SplitMix64::new(seed);
        let parameters = (0..parameter_count(widths))
            .map(|_| random.normal() as f32)
            .collect();
        Network {
            widths: widths.to_vec(),
            parameters,
        }
    }

    fn data(rows: usize, columns: usize, classes: usize, seed: u64) -> (Features, Vec<usize>) {
        let mut random = SplitMix64::new(seed);
        let values = (0..rows * columns)
            .map(|_| (2.0 * random.normal()) as f32)
            .collect();
        let labels = (0..rows).map(|_| random.below(classes)).collect();
        (
            Features::from_row_major(rows, columns, values, "x").unwrap(),
            labels,
        )
    }

    /// One record's gradient of its cross-entropy, computed naively in `f64`: layer by layer,
    /// every weight's derivative written out, laid out as the parameters.
    fn naive_gradient(network: &Network, x: &[f32], label: usize) -> Vec<f64> {
        let widths = &network.widths;
        let layers = widths.len() - 1;
        let parameters = split_layers(&network.parameters, widths);
        let mut activations: Vec<Vec<f64>> = vec![x.iter().map(|v| f64::from(*v)).collect()];
        for (layer, (weights, bias)) in parameters.iter().enumerate() {
            let (inputs, outputs) = (widths[layer], widths[layer + 1]);
            let input = &activations[layer];
            let out: Vec<f64> = (0..outputs)
                .map(|o| {
                    let z = f64::from(bias[o])
                        + (0..inputs)
                            .map(|i| input[i] * f64::from(weights[i * outputs + o]))
                            .sum::<f64>();
                    if layer + 1 < layers { z.max(0.0) } else { z }
                })
                .collect();
            activations.push(out);
        }
        let scores = &activations[layers];
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        let mut delta: Vec<f64> = scores.iter().map(|s| (s - max).exp() / sum).collect();
        delta[label] -= 1.0;
        let mut gradient = vec![0.0f64; network.parameters.len()];
        let mut offsets = Vec::new();
        let mut start = 0;
        for pair in widths.windows(2) {
            offsets.push(start);
            start += (pair[0] + 1) * pair[1];
        }
        for layer in (0..layers).rev() {
            let (inputs, outputs) = (widths[layer], widths[layer + 1]);
            let input = &activations[layer];
            for i in 0..inputs {
                for o in 0..outputs {
                    gradient[offsets[layer] + i * outputs + o] = input[i] * delta[o];
                }
            }
            for o in 0..outputs {
                gradient[offsets[layer] + inputs * outputs + o] = delta[o];
            }
            let weights = parameters[layer].0;
            delta = (0..inputs)
                .map(|i| {
                    let back: f64 = (0..outputs)
                        .map(|o| f64::from(weights[i * outputs + o]) * delta[o])
                        .sum();
                    if input[i] > 0.0 { back } else { 0.0 }
                })
                .collect();
        }
        gradient
    }

    #[test]
    fn every_record_is_clipped_to_the_bound_as_materialised_gradients_say() {
        for widths in [vec![5, 3], vec![5, 7, 4, 3]] {
            let (features, labels) = data(150, 5, 3, 1);
            let network = network(&widths, 2);
            let batch: Vec<usize> = (0..150).filter(|row| row % 3 != 1).collect();
            let bound = 1.5;
            let pairs: Vec<(usize, usize)> = batch.iter().map(|&r| (r, labels[r])).collect();
            let (sum, stats) = clipped_sum(&network, &features, &pairs, Some(bound));
            let mut expected = vec![0.0f64; sum.len()];
            let mut clipped = 0;
            for (index, &record) in batch.iter().enumerate() {
                let gradient = naive_gradient(&network, features.row(record), labels[record]);
                let norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
                assert!(
                    (stats.norms[index] - norm).abs() <= 1e-4 * norm.max(1.0),
                    "{widths:?} record {record}: ghost norm {} against {norm}",
                    stats.norms[index]
                );
                let factor = (bound / norm).min(1.0);
                clipped += usize::from(factor < 1.0);
                // The bound holds for every record's contribution (to the rounding of `f32`).
                let contribution = norm * stats.factors[index];
                assert!(contribution <= bound * (1.0 + 1e-6), "{contribution}");
                for (total, g) in expected.iter_mut().zip(&gradient) {
                    *total += factor * g;
                }
            }
            assert!(
                clipped > 10 && clipped < batch.len(),
                "{widths:?}: {clipped} clipped"
            );
            for (got, want) in sum.iter().zip(&expected) {
                assert!(
                    (f64::from(*got) - want).abs() <= 1e-3 * want.abs().max(1.0),
                    "{widths:?}: clipped sum {got} against {want}"
                );
            }
            // Without a bound, the plain sum of the gradients.
            let (plain, _) = clipped_sum(&network, &features, &pairs, None);
            let direct: Vec<f64> = batch.iter().fold(vec![0.0; sum.len()], |mut total, &r| {
                for (t, g) in
                    total
                        .iter_mut()
                        .zip(naive_gradient(&network, features.row(r), labels[r]))
                {
                    *t += g;
                }
                total
            });
            for (got, want) in plain.iter().zip(&direct) {
                assert!((f64::from(*got) - want).abs() <= 1e-3 * want.abs().max(1.0));
            }
        }
    }

    #[test]
    fn the_noise_has_the_asked_deviation_and_no_bias() {
        let mut values = vec![0.0f32; 200_001];
        add_noise(&mut values, 2.5, 17);
        let n = values.len() as f64;
        let mean = values.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
        let variance = values
            .iter()
            .map(|v| (f64::from(*v) - mean).powi(2))
            .sum::<f64>()
            / n;
        // The standard error of the deviation is about 2.5 / sqrt(2n) = 0.004.
        assert!((variance.sqrt() - 2.5).abs() < 0.03, "{}", variance.sqrt());
        assert!(mean.abs() < 0.03, "{mean}");
        let beyond = values.iter().filter(|v| v.abs() > 2.5 * 1.96).count() as f64 / n;
        assert!((beyond - 0.05).abs() < 0.005, "{beyond}");
        // Another seed, other noise; the same seed, the same noise.
        let mut again = vec![0.0f32; 200_001];
        add_noise(&mut again, 2.5, 17);
        assert_eq!(values, again);
        let mut other = vec![0.0f32; 200_001];
        add_noise(&mut other, 2.5, 18);
        assert_ne!(values, other);
    }

    #[test]
    fn a_private_step_adds_noise_of_sigma_times_the_bound_to_the_sum() {
        // Zero features and a zero network: every clipped gradient is known, so what the
        // step adds beyond them is the noise, divided by the expected batch size.
        let (features, labels) = (
            Features::from_row_major(1000, 200, vec![0.0; 200_000], "x").unwrap(),
            vec![0usize; 1000],
        );
        let model = DpSgd::params()
            .privacy(Privacy::NoiseMultiplier(3.0))
            .max_grad_norm(0.5)
            .batch_size(1000)
            .epochs(1)
            .momentum(0.0)
            .learning_rate(1.0)
            .delta(1e-5)
            .check()
            .unwrap()
            .fit(&features, &labels, 2, &NoProgress)
            .unwrap();
        // One step from zero: θ = -(Σ clipped + noise) / 1000. With x = 0 the weights get only
        // noise: deviation 3 * 0.5 / 1000.
        let weights = model.layers()[0].0;
        let n = weights.len() as f64;
        let deviation = (weights.iter().map(|w| f64::from(*w).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            (deviation - 1.5e-3).abs() < 0.2e-3,
            "{deviation} from {n} weights"
        );
        assert_eq!(model.record().steps, 1);
    }

    #[test]
    fn the_epsilon_reported_is_the_accountants() {
        let (features, labels) = data(500, 3, 2, 4);
        for privacy in [Privacy::NoiseMultiplier(1.3), Privacy::TargetEpsilon(2.0)] {
            let model = DpSgd::params()
                .privacy(privacy)
                .batch_size(25)
                .epochs(3)
                .check()
                .unwrap()
                .fit(&features, &labels, 2, &NoProgress)
                .unwrap();
            let record = model.record();
            assert_eq!(record.steps, 60);
            assert!((record.sampling_rate - 0.05).abs() < 1e-12);
            assert_eq!(record.delta, Some(1e-5));
            let sigma = record.noise_multiplier.unwrap();
            let expected = crate::privacy::epsilon(sigma, 0.05, 60, 1e-5).unwrap();
            assert_eq!(record.epsilon, Some(expected));
            if let Privacy::TargetEpsilon(target) = privacy {
                assert!(expected <= target && expected > 0.98 * target, "{expected}");
            }
        }
    }

    #[test]
    fn impossible_budgets_and_bad_parameters_are_refused() {
        let (features, labels) = data(100, 3, 2, 4);
        let fit = |params: DpSgdParams| {
            params
                .check()
                .unwrap()
                .fit(&features, &labels, 2, &NoProgress)
        };
        assert!(matches!(
            fit(DpSgd::params()
                .privacy(Privacy::TargetEpsilon(1e-6))
                .batch_size(100)
                .epochs(1000)),
            Err(DpSgdError::Budget(PrivacyError::Unreachable { .. }))
        ));
        assert_eq!(
            fit(DpSgd::params().batch_size(200)).unwrap_err(),
            DpSgdError::BatchLargerThanData {
                batch_size: 200,
                records: 100
            }
        );
        assert!(matches!(
            fit(DpSgd::params().delta(0.05)),
            Err(DpSgdError::DeltaTooLarge { .. })
        ));
        assert_eq!(
            DpSgd::params().momentum(1.0).check().unwrap_err(),
            DpSgdParamsError::Momentum(1.0)
        );
        assert_eq!(
            DpSgd::params()
                .privacy(Privacy::NoiseMultiplier(0.0))
                .check()
                .unwrap_err(),
            DpSgdParamsError::NoiseMultiplier(0.0)
        );
        assert_eq!(
            DpSgd::params().hidden_layers(&[4, 0]).check().unwrap_err(),
            DpSgdParamsError::EmptyHiddenLayer { layer: 1 }
        );
    }

    #[test]
    fn the_default_delta_is_below_one_over_the_records() {
        for records in [1, 9, 10, 11, 300, 100_000, 100_001, 1_500_000] {
            let delta = default_delta(records);
            assert!(delta * (records as f64) < 1.0, "{records}: {delta}");
            assert!(delta <= 1e-5);
        }
        assert!((default_delta(1_000_000) - 1e-7).abs() < 1e-20);
    }

    #[test]
    fn training_is_deterministic_and_learns_a_separable_problem() {
        let (features, _) = data(400, 4, 2, 9);
        let labels: Vec<usize> = (0..400)
            .map(|row| usize::from(features.row(row)[0] > 0.0))
            .collect();
        let train = |privacy, hidden: &[usize]| {
            DpSgd::params()
                .privacy(privacy)
                .hidden_layers(hidden)
                .learning_rate(0.1)
                .batch_size(40)
                .epochs(10)
                .check()
                .unwrap()
                .fit(&features, &labels, 2, &NoProgress)
                .unwrap()
        };
        for hidden in [&[][..], &[8]] {
            let model = train(Privacy::TargetEpsilon(4.0), hidden);
            let right = model
                .predict(&features)
                .iter()
                .zip(&labels)
                .filter(|(p, l)| p == l)
                .count();
            assert!(right > 340, "{hidden:?}: {right} of 400");
            let again = train(Privacy::TargetEpsilon(4.0), hidden);
            assert_eq!(model.parameters(), again.parameters());
            assert_eq!(model.record().epochs_watched, again.record().epochs_watched);
            let watched = &model.record().epochs_watched;
            assert_eq!(watched.len(), 10);
            assert!(watched[9].loss < watched[0].loss);
            assert!(
                watched
                    .iter()
                    .all(|epoch| epoch.mean_clipped_norm <= 1.0 + 1e-9)
            );
            let plain = train(Privacy::NonPrivate, hidden);
            assert_eq!(plain.record().epsilon, None);
            assert!(
                plain
                    .record()
                    .epochs_watched
                    .iter()
                    .all(|e| e.clipped_share == 0.0)
            );
        }
    }
}
