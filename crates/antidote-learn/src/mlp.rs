//! A small neural network (multilayer perceptron) trained on all the data; its last hidden layer
//! is the representation that backdoor detectors read.
//!
//! A backdoor is learned as a feature of the data: records stamped with the trigger and given the
//! attacker's label share a direction in the network's late activations that clean records of
//! that label lack. Spectral signatures (Tran, Li & Madry, 2018, "Spectral Signatures in Backdoor
//! Attacks") and activation clustering (Chen et al., 2018, "Detecting Backdoor Attacks on Deep
//! Neural Networks by Activation Clustering") look for it in the penultimate layer of a network
//! trained on the possibly poisoned data, which is what [`MlpModel::activations`] returns, and
//! trigger search asks the same network what it predicts for records stamped with a candidate.
//!
//! The network is `input -> hidden layers with ReLU -> softmax`. Weights start from He
//! initialisation (He et al., 2015, "Delving Deep into Rectifiers"), `N(0, 2 / fan_in)`, biases
//! from 0. Training minimises the mean cross-entropy plus `l2 / 2 * |W|^2` (biases are not
//! penalised) over shuffled minibatches with Adam (Kingma & Ba, 2015, "Adam: A Method for
//! Stochastic Optimization", algorithm 1 with the bias correction folded into the step size, as
//! in their section 2), whose step size follows a half cosine from the learning rate down to 0
//! over the run (Loshchilov & Hutter, 2017, "SGDR", without restarts), so that training ends with
//! small steps.
//!
//! The defaults were chosen on Fashion-MNIST (`examples/mlp.rs`, 60,000 training images, 10,000
//! test images, one core): hidden layers of 256 and 64 units reach 0.883 test accuracy in 5
//! epochs and about 2 seconds. 128 and 64 units reach 0.881 in 60% of the time, 256 and 128
//! reach 0.883, 512 and 64 reach 0.888 in twice the time, one layer of 128 reaches 0.874. A
//! learning rate of `1e-3` reaches 0.879, and a constant step at best 0.877 (`5e-4`). The same
//! defaults reach 0.67 held-out accuracy on eight categories of fortunes as hashed TF-IDF text
//! (`examples/mlp_text.rs`), where logistic regression reaches 0.58.
//!
//! The products of the forward and backward passes run on [faer](https://docs.rs/faer) in `f32`,
//! except the first layer's when the features are mostly zeros (hashed TF-IDF text): it then adds
//! the weight rows of each record's non-zero features, about 50 times less work. A minibatch is
//! cut into parts of a fixed number of rows, whose passes run in parallel on the current rayon
//! pool, each on one thread; their gradients are added in the order of the parts. The parts
//! depend on positions only, never on threads, so the same input and seed give the same bits
//! whatever the number of threads (tested below).

use std::time::{Duration, Instant};

use antidote_core::math::argmax;
use antidote_core::{Progress, ProgressUnit, SplitMix64};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::features::{Encoding, FeatureBlock, Features};
use crate::logistic::FitError;

/// A multilayer perceptron classifier; start with [`Mlp::params`].
///
/// ```
/// use antidote_core::NoProgress;
/// use antidote_learn::{Features, Mlp};
///
/// // The class is 1 when exactly one of the two features is positive: XOR, which no linear
/// // model separates.
/// let points = [(-1.0, -1.0, 0), (-1.0, 1.0, 1), (1.0, -1.0, 1), (1.0, 1.0, 0)];
/// let data = points.iter().flat_map(|&(x, y, _)| [x, y]).collect::<Vec<f32>>().repeat(16);
/// let labels = points.iter().map(|&(_, _, class)| class).collect::<Vec<usize>>().repeat(16);
/// let features = Features::from_row_major(64, 2, data, "xy")?;
/// let model = Mlp::params()
///     .hidden_layers(&[16, 8])
///     .epochs(200)
///     .batch_size(16)
///     .learning_rate(0.01)
///     .check()?
///     .fit(&features, &labels, 2, &NoProgress)?;
/// assert_eq!(model.predict(&features), labels);
/// // The representation: the 8 activations of the last hidden layer for every record.
/// assert_eq!(model.activations(&features).columns(), 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Mlp;

impl Mlp {
    /// The default hyperparameters: hidden layers of 256 and 64 units, minibatches of 128,
    /// learning rate `2e-3`, `l2 = 1e-4`, seed 0, and enough epochs for about
    /// [`MlpParams::DEFAULT_UPDATES`] updates.
    #[must_use]
    pub fn params() -> MlpParams {
        MlpParams::default()
    }
}

/// Hyperparameters of [`Mlp`]; [`MlpParams::check`] validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    hidden_layers: Vec<usize>,
    /// `None` for enough epochs to make about `DEFAULT_UPDATES` updates.
    epochs: Option<usize>,
    batch_size: usize,
    learning_rate: f64,
    l2: f64,
    seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        Self {
            hidden_layers: vec![256, 64],
            epochs: None,
            batch_size: 128,
            learning_rate: 2e-3,
            l2: 1e-4,
            seed: 0,
        }
    }
}

/// Checked [`MlpParams`], ready to [`fit`](Self::fit).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MlpValidParams(MlpParams);

/// Errors from checking [`MlpParams`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MlpParamsError {
    /// No hidden layer: there would be no representation.
    #[error("there must be at least one hidden layer")]
    NoHiddenLayer,
    /// A hidden layer has no unit.
    #[error("hidden layer {layer} has no units")]
    EmptyHiddenLayer {
        /// The layer, from 0 nearest the input.
        layer: usize,
    },
    /// No epoch allowed.
    #[error("`epochs` must be at least 1")]
    Epochs,
    /// Empty minibatches.
    #[error("`batch_size` must be at least 1")]
    BatchSize,
    /// The learning rate is not positive and finite.
    #[error("`learning_rate` must be a finite number greater than 0, found `{0}`")]
    LearningRate(f64),
    /// The L2 penalty is negative or not finite.
    #[error("`l2` must be a finite number of at least 0, found `{0}`")]
    L2(f64),
}

impl MlpParams {
    /// The updates the default number of epochs aims at: `ceil(DEFAULT_UPDATES / minibatches
    /// per epoch)` epochs, at least [`Self::MIN_EPOCHS`] and at most [`Self::MAX_EPOCHS`], and no
    /// more than [`Self::DEFAULT_WORK`] allows. A large dataset gets a few passes (5 on
    /// Fashion-MNIST's 60,000 images, which reach 0.88 test accuracy), a small one as many as it
    /// takes to fit it (42 on 3,000 images, where test accuracy stops rising after about 30).
    pub const DEFAULT_UPDATES: usize = 1_000;
    /// The fewest epochs by default, unless [`Self::DEFAULT_WORK`] allows fewer.
    pub const MIN_EPOCHS: usize = 5;
    /// The most epochs by default.
    pub const MAX_EPOCHS: usize = 200;
    /// The most work the default epochs do, in parameters times updates (each costs a few
    /// multiply-adds per record of the minibatch, and one step of Adam), but at least one epoch.
    /// It is what 5 epochs of Fashion-MNIST's 60,000 images cost with the default layers, a few
    /// seconds, and it keeps wide inputs affordable: hashed TF-IDF text, with 16,384 features, has
    /// a first layer 20 times larger than images', and gets 10 epochs rather than 77 on 1,600
    /// records (held-out accuracy is the same), and 1 on 30,000.
    pub const DEFAULT_WORK: usize = 500_000_000;

    /// The widths of the hidden layers, from the input on (default: `[256, 64]`). The last is
    /// the representation.
    #[must_use]
    pub fn hidden_layers(mut self, widths: &[usize]) -> Self {
        self.hidden_layers = widths.to_vec();
        self
    }

    /// Passes over the training data (default: enough for about
    /// [`DEFAULT_UPDATES`](Self::DEFAULT_UPDATES) updates).
    #[must_use]
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = Some(epochs);
        self
    }

    /// Records per minibatch, hence per update (default: 128).
    #[must_use]
    pub fn batch_size(mut self, records: usize) -> Self {
        self.batch_size = records;
        self
    }

    /// Adam's step size at the start; it decays to 0 along a half cosine (default: `2e-3`).
    #[must_use]
    pub fn learning_rate(mut self, rate: f64) -> Self {
        self.learning_rate = rate;
        self
    }

    /// The L2 penalty on the weights, added to the mean cross-entropy as `l2 / 2 * |W|^2`
    /// (default: `1e-4`).
    #[must_use]
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// The seed of the initial weights and of the order of the minibatches (default: 0).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the hyperparameters.
    pub fn check(self) -> Result<MlpValidParams, MlpParamsError> {
        if self.hidden_layers.is_empty() {
            return Err(MlpParamsError::NoHiddenLayer);
        }
        if let Some(layer) = self.hidden_layers.iter().position(|&width| width == 0) {
            return Err(MlpParamsError::EmptyHiddenLayer { layer });
        }
        if self.epochs == Some(0) {
            return Err(MlpParamsError::Epochs);
        }
        if self.batch_size == 0 {
            return Err(MlpParamsError::BatchSize);
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(MlpParamsError::LearningRate(self.learning_rate));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(MlpParamsError::L2(self.l2));
        }
        Ok(MlpValidParams(self))
    }
}

/// How a training run went.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpReport {
    /// Passes over the training data.
    pub epochs: usize,
    /// Adam updates (minibatches trained on).
    pub updates: usize,
    /// The mean cross-entropy of each epoch's minibatches, each measured just before its update.
    pub epoch_losses: Vec<f64>,
    /// The mean cross-entropy over the last epoch (the last of `epoch_losses`).
    pub loss: f64,
    /// The share of training records the network classified right during the last epoch, each
    /// just before the update on its minibatch.
    pub training_accuracy: f64,
    /// Wall-clock time of training.
    pub duration: Duration,
}

/// A trained [`Mlp`].
#[derive(Debug, Clone)]
pub struct MlpModel {
    network: Network,
    report: MlpReport,
}

impl MlpModel {
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

    /// The widths of the hidden layers, from the input on.
    #[must_use]
    pub fn hidden_layers(&self) -> &[usize] {
        &self.network.widths[1..self.network.widths.len() - 1]
    }

    /// The width of the representation: the last hidden layer's.
    #[must_use]
    pub fn representation_width(&self) -> usize {
        self.network.widths[self.network.widths.len() - 2]
    }

    /// How training went.
    #[must_use]
    pub fn report(&self) -> &MlpReport {
        &self.report
    }

    /// The weights (`inputs x outputs`, row-major) and biases of every layer, from the input on,
    /// the output layer last.
    #[must_use]
    pub fn layers(&self) -> Vec<(&[f32], &[f32])> {
        split_layers(&self.network.parameters, &self.network.widths)
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

    /// [`predict_proba`](Self::predict_proba) of the records `rows` of `features` only, in
    /// their order, with the same bits, without copying them.
    ///
    /// # Panics
    ///
    /// If `features` does not have the number of columns the model was trained on, or a row of
    /// `rows` is not one of its records.
    #[must_use]
    pub fn predict_proba_rows(&self, features: &Features, rows: &[usize]) -> Vec<f32> {
        self.network
            .forward_rows(features, Some(rows), self.network.layers())
    }

    /// The most probable class of every record (the lowest index among ties).
    ///
    /// # Panics
    ///
    /// If `features` does not have the number of columns the model was trained on.
    #[must_use]
    pub fn predict(&self, features: &Features) -> Vec<usize> {
        let classes = self.classes();
        self.predict_proba(features)
            .chunks_exact(classes)
            .map(argmax)
            .collect()
    }

    /// The representation: the activations (after the rectifier) of the last hidden layer for every
    /// record, `rows x representation_width`, as one [`Encoding::Embedding`] block named
    /// `network`.
    ///
    /// # Panics
    ///
    /// If `features` does not have the number of columns the model was trained on.
    #[must_use]
    pub fn activations(&self, features: &Features) -> Features {
        let width = self.representation_width();
        let data = self.network.forward(features, self.network.layers() - 1);
        let blocks = vec![FeatureBlock {
            column: "network".to_owned(),
            encoding: Encoding::Embedding,
            start: 0,
            width,
        }];
        Features::from_parts(features.rows(), width, data, blocks)
    }
}

impl MlpValidParams {
    /// Trains a network on `features` and their class indices `labels` (each below `classes`),
    /// reporting one progress stage, `train network`, that counts records trained on over all
    /// epochs.
    pub fn fit(
        &self,
        features: &Features,
        labels: &[usize],
        classes: usize,
        progress: &dyn Progress,
    ) -> Result<MlpModel, FitError> {
        check_input(features, labels, classes)?;
        let all: Vec<usize> = (0..features.rows()).collect();
        Ok(self.fit_checked(features, labels, &all, classes, progress))
    }

    /// Trains a network on the records `rows` of `features` only (`labels` holds a class for
    /// every record of `features`), as [`fit`](Self::fit) would on
    /// [`features.select_rows(rows)`](Features::select_rows) and their labels, with the same
    /// bits, but without copying the features: cross-validation trains a network per fold on
    /// one feature matrix.
    ///
    /// # Errors
    ///
    /// As [`fit`](Self::fit), and [`FitError::NoRecords`] when `rows` is empty.
    ///
    /// # Panics
    ///
    /// If a row of `rows` is not a record of `features`.
    pub fn fit_rows(
        &self,
        features: &Features,
        labels: &[usize],
        rows: &[usize],
        classes: usize,
        progress: &dyn Progress,
    ) -> Result<MlpModel, FitError> {
        check_input(features, labels, classes)?;
        if rows.is_empty() {
            return Err(FitError::NoRecords);
        }
        assert!(
            rows.iter().all(|&row| row < features.rows()),
            "every row trained on is a record of the features"
        );
        Ok(self.fit_checked(features, labels, rows, classes, progress))
    }

    /// [`fit_rows`](Self::fit_rows) on checked input.
    fn fit_checked(
        &self,
        features: &Features,
        labels: &[usize],
        subset: &[usize],
        classes: usize,
        progress: &dyn Progress,
    ) -> MlpModel {
        let started = Instant::now();
        let params = &self.0;
        let rows = subset.len();
        let mut widths = Vec::with_capacity(params.hidden_layers.len() + 2);
        widths.push(features.columns());
        widths.extend_from_slice(&params.hidden_layers);
        widths.push(classes);
        let mut network = Network::initialised(widths, params.seed);

        let batch_size = params.batch_size.min(rows);
        let batches = rows.div_ceil(batch_size);
        let epochs = params
            .epochs
            .unwrap_or_else(|| default_epochs(batches, network.parameters.len()));
        let updates = epochs * batches;
        let input = Input::new(features);
        let mut trainer = Trainer::new(
            &network.widths,
            batch_size,
            matches!(input, Input::Dense(_)),
        );
        let mut shuffler = SplitMix64::derived(params.seed, "mlp-shuffle");
        // The positions of the subset are shuffled, then read through it: the order of the
        // minibatches is the one `fit` gives a copy of these rows.
        let mut positions: Vec<usize> = (0..rows).collect();
        let mut order: Vec<usize> = subset.to_vec();

        progress.start(
            "train network",
            Some((epochs * rows) as u64),
            ProgressUnit::Records,
        );
        let mut epoch_losses = Vec::with_capacity(epochs);
        let mut training_accuracy = 0.0;
        let mut update = 0usize;
        for epoch in 0..epochs {
            shuffler.shuffle(&mut positions);
            for (record, &position) in order.iter_mut().zip(&positions) {
                *record = subset[position];
            }
            let mut loss = 0.0f64;
            let mut correct = 0usize;
            for batch in order.chunks(batch_size) {
                let (batch_loss, batch_correct) = trainer.gradient(&network, &input, labels, batch);
                loss += batch_loss;
                correct += batch_correct;
                // Half a cosine from the learning rate at the first update to 0 after the last.
                let progress_made = update as f64 / updates as f64;
                let rate = params.learning_rate
                    * 0.5
                    * (1.0 + (std::f64::consts::PI * progress_made).cos());
                trainer.adam(&mut network, rate, params.l2);
                update += 1;
                progress.advance(batch.len() as u64);
            }
            let loss = loss / rows as f64;
            training_accuracy = correct as f64 / rows as f64;
            tracing::debug!(epoch, loss, training_accuracy, "trained the network");
            epoch_losses.push(loss);
        }
        progress.finish();
        let report = MlpReport {
            epochs,
            updates,
            loss: epoch_losses.last().copied().unwrap_or(f64::NAN),
            epoch_losses,
            training_accuracy,
            duration: started.elapsed(),
        };
        tracing::debug!(?report, "trained the network");
        MlpModel { network, report }
    }
}

/// The default number of epochs for `batches` minibatches per epoch and a network of
/// `parameters` parameters; see [`MlpParams::DEFAULT_UPDATES`].
fn default_epochs(batches: usize, parameters: usize) -> usize {
    let epochs = MlpParams::DEFAULT_UPDATES
        .div_ceil(batches)
        .clamp(MlpParams::MIN_EPOCHS, MlpParams::MAX_EPOCHS);
    let affordable = MlpParams::DEFAULT_WORK
        .div_ceil(parameters.max(1) * batches)
        .max(1);
    epochs.min(affordable)
}

/// Checks the labels against the features, and the features for NaN and infinities (which would
/// make every activation NaN).
pub(crate) fn check_input(
    features: &Features,
    labels: &[usize],
    classes: usize,
) -> Result<(), FitError> {
    let rows = features.rows();
    if let Some(at) = features.data().iter().position(|value| !value.is_finite()) {
        let columns = features.columns().max(1);
        return Err(FitError::NotFinite {
            row: at / columns,
            column: at % columns,
        });
    }
    if labels.len() != rows {
        return Err(FitError::LabelCount {
            rows,
            labels: labels.len(),
        });
    }
    if rows == 0 {
        return Err(FitError::NoRecords);
    }
    if let Some((row, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, label)| **label >= classes)
    {
        return Err(FitError::LabelOutOfRange {
            row,
            label,
            classes,
        });
    }
    Ok(())
}

/// Rows per parallel task when predicting: each task runs every layer on its rows.
const PART_ROWS: usize = 1024;

/// The layers' widths and parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Network {
    /// The input's width, the hidden layers', then the number of classes.
    pub(crate) widths: Vec<usize>,
    /// Per layer, the weights (`inputs x outputs`, row-major), then the biases.
    pub(crate) parameters: Vec<f32>,
}

/// The `(weights, biases)` of every layer in a buffer laid out as [`Network::parameters`].
pub(crate) fn split_layers<'a>(
    mut buffer: &'a [f32],
    widths: &[usize],
) -> Vec<(&'a [f32], &'a [f32])> {
    let mut layers = Vec::with_capacity(widths.len() - 1);
    for pair in widths.windows(2) {
        let (weights, rest) = buffer.split_at(pair[0] * pair[1]);
        let (bias, rest) = rest.split_at(pair[1]);
        layers.push((weights, bias));
        buffer = rest;
    }
    layers
}

/// [`split_layers`] for writing.
pub(crate) fn split_layers_mut<'a>(
    mut buffer: &'a mut [f32],
    widths: &[usize],
) -> Vec<(&'a mut [f32], &'a mut [f32])> {
    let mut layers = Vec::with_capacity(widths.len() - 1);
    for pair in widths.windows(2) {
        let (weights, rest) = buffer.split_at_mut(pair[0] * pair[1]);
        let (bias, rest) = rest.split_at_mut(pair[1]);
        layers.push((weights, bias));
        buffer = rest;
    }
    layers
}

/// `out = lhs * rhs` on one thread: the callers run products of parts in parallel.
pub(crate) fn product(out: MatMut<'_, f32>, lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>) {
    matmul(out, Accum::Replace, lhs, rhs, 1.0, Par::Seq);
}

impl Network {
    /// He initialisation: every weight from `N(0, 2 / inputs)`, every bias 0.
    pub(crate) fn initialised(widths: Vec<usize>, seed: u64) -> Self {
        let mut parameters = vec![0.0f32; parameter_count(&widths)];
        let mut random = SplitMix64::derived(seed, "mlp-init");
        for (pair, (weights, _)) in widths
            .windows(2)
            .zip(split_layers_mut(&mut parameters, &widths))
        {
            let deviation = (2.0 / pair[0].max(1) as f64).sqrt();
            for weight in weights {
                *weight = (random.normal() * deviation) as f32;
            }
        }
        Self { widths, parameters }
    }

    /// Layers with weights, the output layer included.
    pub(crate) fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// The output of layer `through - 1` for every record, `rows x widths[through]`, row-major:
    /// rectified activations for a hidden layer, class probabilities for the output layer.
    pub(crate) fn forward(&self, features: &Features, through: usize) -> Vec<f32> {
        self.forward_rows(features, None, through)
    }

    /// [`forward`](Self::forward) of the records `rows` of `features` only (in their order)
    /// when given.
    pub(crate) fn forward_rows(
        &self,
        features: &Features,
        rows: Option<&[usize]>,
        through: usize,
    ) -> Vec<f32> {
        let columns = self.widths[0];
        assert_eq!(
            features.columns(),
            columns,
            "the network was trained on {columns} features"
        );
        let width = self.widths[through];
        let count = rows.map_or(features.rows(), <[usize]>::len);
        let mut out = vec![0.0f32; count * width];
        if out.is_empty() {
            return out;
        }
        let layers = split_layers(&self.parameters, &self.widths);
        let output_layer = self.layers();
        let data = features.data();
        let rows_wanted = rows;
        out.par_chunks_mut(PART_ROWS * width)
            .enumerate()
            .for_each(|(part, out)| {
                let rows = out.len() / width;
                let start = part * PART_ROWS;
                let mut input = match rows_wanted {
                    None => data[start * columns..(start + rows) * columns].to_vec(),
                    Some(wanted) => {
                        let mut input = Vec::with_capacity(rows * columns);
                        for &row in &wanted[start..start + rows] {
                            input.extend_from_slice(features.row(row));
                        }
                        input
                    }
                };
                for (layer, (weights, bias)) in layers.iter().enumerate().take(through) {
                    let (inputs, outputs) = (self.widths[layer], self.widths[layer + 1]);
                    let mut next = vec![0.0f32; rows * outputs];
                    product(
                        MatMut::from_row_major_slice_mut(&mut next, rows, outputs),
                        MatRef::from_row_major_slice(&input, rows, inputs),
                        MatRef::from_row_major_slice(weights, inputs, outputs),
                    );
                    for row in next.chunks_exact_mut(outputs) {
                        row.iter_mut().zip(*bias).for_each(|(value, b)| *value += b);
                        if layer + 1 == output_layer {
                            softmax_in_place(row);
                        } else {
                            for value in row.iter_mut() {
                                *value = value.max(0.0);
                            }
                        }
                    }
                    input = next;
                }
                out.copy_from_slice(&input);
            });
        out
    }
}

/// Replaces scores by their softmax.
pub(crate) fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for score in row.iter_mut() {
        *score = (*score - max).exp();
        sum += *score;
    }
    let inverse = 1.0 / sum;
    for score in row.iter_mut() {
        *score *= inverse;
    }
}

/// Adam's decay rates and the constant that keeps its division away from 0 (the paper's
/// defaults).
const BETA_1: f64 = 0.9;
const BETA_2: f64 = 0.999;
const EPSILON: f32 = 1e-8;

/// Rows of a minibatch per parallel task of training. Each task runs the forward and backward
/// passes of its rows on one thread and keeps its own gradient; the gradients are added in the
/// order of the parts. The parts are cut by position in the minibatch, never by thread, so the
/// sums are the same whatever the number of threads. (faer can also split each product between
/// threads, with the same bits, but the products of a minibatch are too small for that to pay:
/// its threads spend more time waiting at barriers than multiplying.)
const TRAIN_PART_ROWS: usize = 64;

/// Parameters per parallel task of the Adam update.
const ADAM_CHUNK: usize = 4096;

/// The buffers of training, allocated once for the largest minibatch.
struct Trainer {
    widths: Vec<usize>,
    /// One per part of the largest minibatch.
    parts: Vec<Part>,
    /// Parts that hold the current minibatch.
    active_parts: usize,
    /// Adam's moving averages of the gradient and of its square.
    first_moment: Vec<f32>,
    second_moment: Vec<f32>,
    /// Updates made.
    step: i32,
}

/// The buffers of one part of a minibatch.
struct Part {
    /// The part's features, then each hidden layer's activations, `rows x width`.
    activations: Vec<Vec<f32>>,
    /// The output layer's scores, turned into the gradient of the loss with respect to them.
    output: Vec<f32>,
    /// The gradient of the loss with respect to a hidden layer's activations, two in turn.
    backward: [Vec<f32>; 2],
    /// The part's share of the gradient of the minibatch's loss with respect to the parameters,
    /// laid out as they are.
    gradient: Vec<f32>,
}

/// The training features as the first layer reads them.
enum Input<'a> {
    Dense(&'a Features),
    /// Features that are mostly zeros, such as hashed TF-IDF text, as compressed sparse rows.
    Sparse(SparseRows),
}

/// Compressed sparse rows: the non-zero features of every record.
struct SparseRows {
    /// Where each record's non-zeros start in `columns` and `values`, and where the last ends.
    offsets: Vec<usize>,
    columns: Vec<usize>,
    values: Vec<f32>,
}

/// Features are read as sparse when at most this share of them is not zero.
const SPARSE_DENSITY: f64 = 0.1;

impl<'a> Input<'a> {
    /// Sparse rows when the features are mostly zeros, the features as they are otherwise.
    fn new(features: &'a Features) -> Self {
        let data = features.data();
        let non_zero = data.iter().filter(|value| **value != 0.0).count();
        if features.columns() == 0 || non_zero as f64 > SPARSE_DENSITY * data.len() as f64 {
            return Self::Dense(features);
        }
        let mut sparse = SparseRows {
            offsets: Vec::with_capacity(features.rows() + 1),
            columns: Vec::with_capacity(non_zero),
            values: Vec::with_capacity(non_zero),
        };
        sparse.offsets.push(0);
        for row in data.chunks_exact(features.columns()) {
            for (column, value) in row.iter().enumerate() {
                if *value != 0.0 {
                    sparse.columns.push(column);
                    sparse.values.push(*value);
                }
            }
            sparse.offsets.push(sparse.columns.len());
        }
        Self::Sparse(sparse)
    }
}

impl SparseRows {
    /// The `(column, value)` of every non-zero feature of `record`, by column.
    #[inline]
    fn row(&self, record: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let range = self.offsets[record]..self.offsets[record + 1];
        self.columns[range.clone()]
            .iter()
            .copied()
            .zip(self.values[range].iter().copied())
    }
}

/// A product of the sparse rows `X` of some records with a dense row-major matrix `D`, `width`
/// columns wide: `X D` (`records x width`, `D` has a row per feature) or, transposed, `X^T D`
/// (`features x width`, `D` has a row per record). Each non-zero feature adds its value times a
/// row of `D` to a row of the output, in the order of the records and of the features, so the
/// sums do not depend on threads.
struct SparseProduct<'a> {
    sparse: &'a SparseRows,
    records: &'a [usize],
    dense: &'a [f32],
    out: &'a mut [f32],
    width: usize,
    transpose: bool,
}

impl faer::traits::pulp::WithSimd for SparseProduct<'_> {
    type Output = ();

    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "the loops must be compiled inside `dispatch`'s function, with its features"
    )]
    fn with_simd<S: faer::traits::pulp::Simd>(self, _simd: S) {
        let width = self.width;
        self.out.fill(0.0);
        for (index, &record) in self.records.iter().enumerate() {
            for (column, value) in self.sparse.row(record) {
                let (from, to) = if self.transpose {
                    (index, column)
                } else {
                    (column, index)
                };
                let from = &self.dense[from * width..(from + 1) * width];
                let to = &mut self.out[to * width..(to + 1) * width];
                for (to, from) in to.iter_mut().zip(from) {
                    *to += value * from;
                }
            }
        }
    }
}

/// Parameters of a network of these widths.
pub(crate) fn parameter_count(widths: &[usize]) -> usize {
    widths.windows(2).map(|pair| (pair[0] + 1) * pair[1]).sum()
}

impl Trainer {
    fn new(widths: &[usize], batch_size: usize, dense: bool) -> Self {
        let parameters = parameter_count(widths);
        let part_rows = batch_size.min(TRAIN_PART_ROWS);
        Self {
            widths: widths.to_vec(),
            parts: (0..batch_size.div_ceil(part_rows))
                .map(|_| Part::new(widths, part_rows, dense))
                .collect(),
            active_parts: 0,
            first_moment: vec![0.0; parameters],
            second_moment: vec![0.0; parameters],
            step: 0,
        }
    }

    /// Computes the gradient of the minibatch's mean cross-entropy (into the parts) and returns
    /// the summed cross-entropy and the count of records classified right.
    fn gradient(
        &mut self,
        network: &Network,
        input: &Input<'_>,
        labels: &[usize],
        batch: &[usize],
    ) -> (f64, usize) {
        let scale = 1.0 / batch.len() as f32;
        let widths = &self.widths;
        let results: Vec<(f64, usize)> = self
            .parts
            .par_iter_mut()
            .zip(batch.par_chunks(TRAIN_PART_ROWS))
            .map(|(part, rows)| part.gradient(widths, network, input, labels, rows, scale))
            .collect();
        self.active_parts = results.len();
        results
            .into_iter()
            .fold((0.0, 0), |(loss, correct), (part_loss, part_correct)| {
                (loss + part_loss, correct + part_correct)
            })
    }

    /// One Adam update of `network` with the parts' gradients, step size `rate`, and the L2
    /// penalty's gradient `l2 * w` added to the weights' (not the biases').
    fn adam(&mut self, network: &mut Network, rate: f64, l2: f64) {
        self.step += 1;
        // Kingma & Ba, section 2: the bias corrections folded into the step size.
        let corrected =
            rate * (1.0 - BETA_2.powi(self.step)).sqrt() / (1.0 - BETA_1.powi(self.step));
        let (rate, l2) = (corrected as f32, l2 as f32);
        let parts = &self.parts[..self.active_parts];
        // Weights are penalised, biases are not.
        let mut segments = Vec::with_capacity(2 * self.widths.len());
        let mut start = 0;
        for pair in self.widths.windows(2) {
            segments.push((start, pair[0] * pair[1], l2));
            segments.push((start + pair[0] * pair[1], pair[1], 0.0));
            start += (pair[0] + 1) * pair[1];
        }
        for (start, length, l2) in segments {
            let range = start..start + length;
            network.parameters[range.clone()]
                .par_chunks_mut(ADAM_CHUNK)
                .zip(self.first_moment[range.clone()].par_chunks_mut(ADAM_CHUNK))
                .zip(self.second_moment[range].par_chunks_mut(ADAM_CHUNK))
                .enumerate()
                .for_each(|(chunk, ((parameters, first), second))| {
                    let at = start + chunk * ADAM_CHUNK;
                    let at = at..at + parameters.len();
                    let shares: Vec<&[f32]> = parts
                        .iter()
                        .map(|part| &part.gradient[at.clone()])
                        .collect();
                    // `dispatch` compiles the loops for the widest vectors the processor has
                    // (AVX2 rather than the baseline's SSE2), with the same bits, as every
                    // operation is rounded element by element.
                    faer::traits::pulp::Arch::new().dispatch(AdamUpdate {
                        parameters,
                        first,
                        second,
                        shares: &shares,
                        rate,
                        l2,
                    });
                });
        }
    }
}

/// Adam's update of a chunk of parameters.
struct AdamUpdate<'a> {
    parameters: &'a mut [f32],
    first: &'a mut [f32],
    second: &'a mut [f32],
    /// The parts' shares of the gradient, to add in order.
    shares: &'a [&'a [f32]],
    /// The step size, bias corrections included.
    rate: f32,
    l2: f32,
}

impl faer::traits::pulp::WithSimd for AdamUpdate<'_> {
    type Output = ();

    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "the loops must be compiled inside `dispatch`'s function, with its features"
    )]
    fn with_simd<S: faer::traits::pulp::Simd>(self, _simd: S) {
        let (beta_1, beta_2) = (BETA_1 as f32, BETA_2 as f32);
        let mut gradient = [0.0f32; ADAM_CHUNK];
        let gradient = &mut gradient[..self.parameters.len()];
        gradient.copy_from_slice(self.shares[0]);
        for share in &self.shares[1..] {
            gradient
                .iter_mut()
                .zip(*share)
                .for_each(|(total, share)| *total += share);
        }
        for (((parameter, gradient), first), second) in self
            .parameters
            .iter_mut()
            .zip(gradient.iter())
            .zip(self.first.iter_mut())
            .zip(self.second.iter_mut())
        {
            let gradient = gradient + self.l2 * *parameter;
            *first = beta_1 * *first + (1.0 - beta_1) * gradient;
            *second = beta_2 * *second + (1.0 - beta_2) * gradient * gradient;
            *parameter -= self.rate * *first / (second.sqrt() + EPSILON);
        }
    }
}

impl Part {
    /// Buffers for `rows` records; the features are copied only when `dense`.
    fn new(widths: &[usize], rows: usize, dense: bool) -> Self {
        let layers = widths.len() - 1;
        let widest = widths[1..layers].iter().copied().max().unwrap_or(0);
        Self {
            activations: widths[..layers]
                .iter()
                .enumerate()
                .map(|(layer, width)| {
                    let rows = if layer == 0 && !dense { 0 } else { rows };
                    vec![0.0; rows * width]
                })
                .collect(),
            output: vec![0.0; rows * widths[layers]],
            backward: [vec![0.0; rows * widest], vec![0.0; rows * widest]],
            gradient: vec![0.0; parameter_count(widths)],
        }
    }

    /// Computes the gradient of the part's records' cross-entropy, times `scale`, into
    /// `self.gradient`, and returns their summed cross-entropy and the count of records
    /// classified right.
    fn gradient(
        &mut self,
        widths: &[usize],
        network: &Network,
        input: &Input<'_>,
        labels: &[usize],
        records: &[usize],
        scale: f32,
    ) -> (f64, usize) {
        let parameters = split_layers(&network.parameters, widths);
        self.forward(widths, &parameters, input, records);
        let result = self.loss(widths, labels, records, scale);
        self.backward(widths, &parameters, input, records);
        result
    }

    /// Every layer's outputs for the part's records: activations, then the output scores.
    fn forward(
        &mut self,
        widths: &[usize],
        parameters: &[(&[f32], &[f32])],
        input: &Input<'_>,
        records: &[usize],
    ) {
        let rows = records.len();
        let layers = widths.len() - 1;
        let columns = widths[0];
        if let Input::Dense(features) = input
            && columns > 0
        {
            for (row, &record) in self.activations[0][..rows * columns]
                .chunks_exact_mut(columns)
                .zip(records)
            {
                row.copy_from_slice(features.row(record));
            }
        }

        for (layer, (weights, bias)) in parameters.iter().enumerate() {
            let (inputs, outputs) = (widths[layer], widths[layer + 1]);
            let (before, after) = self.activations.split_at_mut(layer + 1);
            let hidden = layer + 1 < layers;
            let out = if hidden {
                &mut after[0][..rows * outputs]
            } else {
                &mut self.output[..rows * outputs]
            };
            match input {
                Input::Sparse(sparse) if layer == 0 => {
                    faer::traits::pulp::Arch::new().dispatch(SparseProduct {
                        sparse,
                        records,
                        dense: weights,
                        out,
                        width: outputs,
                        transpose: false,
                    });
                }
                _ => product(
                    MatMut::from_row_major_slice_mut(out, rows, outputs),
                    MatRef::from_row_major_slice(&before[layer][..rows * inputs], rows, inputs),
                    MatRef::from_row_major_slice(weights, inputs, outputs),
                ),
            }
            for row in out.chunks_exact_mut(outputs) {
                row.iter_mut().zip(*bias).for_each(|(value, b)| *value += b);
                if hidden {
                    for value in row.iter_mut() {
                        *value = value.max(0.0);
                    }
                }
            }
        }
    }

    /// Turns the output scores into the gradient of the loss with respect to them,
    /// `(softmax - one hot) * scale`, and returns the summed cross-entropy and the count of
    /// records classified right.
    fn loss(
        &mut self,
        widths: &[usize],
        labels: &[usize],
        records: &[usize],
        scale: f32,
    ) -> (f64, usize) {
        let rows = records.len();
        let classes = widths[widths.len() - 1];
        let mut loss = 0.0f64;
        let mut correct = 0;
        for (row, &record) in self.output[..rows * classes]
            .chunks_exact_mut(classes)
            .zip(records)
        {
            let label = labels[record];
            if argmax(row) == label {
                correct += 1;
            }
            softmax_in_place(row);
            loss -= f64::from(row[label].max(f32::MIN_POSITIVE).ln());
            row[label] -= 1.0;
            for value in row.iter_mut() {
                *value *= scale;
            }
        }
        (loss, correct)
    }

    /// Back-propagates the gradient with respect to the output scores into the parameters'.
    fn backward(
        &mut self,
        widths: &[usize],
        parameters: &[(&[f32], &[f32])],
        input: &Input<'_>,
        records: &[usize],
    ) {
        let rows = records.len();
        let layers = widths.len() - 1;
        let mut gradients = split_layers_mut(&mut self.gradient, widths);
        let [first, second] = &mut self.backward;
        let (mut upstream, mut downstream) = (first, second);
        for layer in (0..layers).rev() {
            let (inputs, outputs) = (widths[layer], widths[layer + 1]);
            let delta: &[f32] = if layer + 1 == layers {
                &self.output[..rows * outputs]
            } else {
                &upstream[..rows * outputs]
            };
            let (weight_gradient, bias_gradient) = &mut gradients[layer];
            match input {
                Input::Sparse(sparse) if layer == 0 => {
                    faer::traits::pulp::Arch::new().dispatch(SparseProduct {
                        sparse,
                        records,
                        dense: delta,
                        out: weight_gradient,
                        width: outputs,
                        transpose: true,
                    });
                }
                _ => product(
                    MatMut::from_row_major_slice_mut(weight_gradient, inputs, outputs),
                    MatRef::from_row_major_slice(
                        &self.activations[layer][..rows * inputs],
                        rows,
                        inputs,
                    )
                    .transpose(),
                    MatRef::from_row_major_slice(delta, rows, outputs),
                ),
            }
            bias_gradient.fill(0.0);
            for row in delta.chunks_exact(outputs) {
                bias_gradient
                    .iter_mut()
                    .zip(row)
                    .for_each(|(total, value)| *total += value);
            }
            if layer > 0 {
                // Through the weights, then through the ReLU: its derivative is 1 where the
                // activation is positive and 0 elsewhere.
                let next = &mut downstream[..rows * inputs];
                product(
                    MatMut::from_row_major_slice_mut(next, rows, inputs),
                    MatRef::from_row_major_slice(delta, rows, outputs),
                    MatRef::from_row_major_slice(parameters[layer].0, inputs, outputs).transpose(),
                );
                // A select rather than a branch, so that the loop is vectorised.
                let activations = &self.activations[layer][..rows * inputs];
                next.iter_mut()
                    .zip(activations)
                    .for_each(|(value, activation)| {
                        *value = if *activation > 0.0 { *value } else { 0.0 };
                    });
                std::mem::swap(&mut upstream, &mut downstream);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use antidote_core::NoProgress;

    use super::*;
    use crate::LogisticRegression;

    /// `rows` points uniform in `[-1, 1]^2`, of class 1 when both coordinates have the same sign:
    /// XOR, which no linear model separates.
    fn xor(rows: usize, seed: u64) -> (Features, Vec<usize>) {
        let mut random = SplitMix64::new(seed);
        let mut data = Vec::with_capacity(2 * rows);
        let mut labels = Vec::with_capacity(rows);
        for _ in 0..rows {
            let (x, y) = (2.0 * random.unit() - 1.0, 2.0 * random.unit() - 1.0);
            data.extend([x as f32, y as f32]);
            labels.push(usize::from(x * y > 0.0));
        }
        (
            Features::from_row_major(rows, 2, data, "xy").unwrap(),
            labels,
        )
    }

    /// `rows` records of `columns` standard normal features; the class is the index of the
    /// largest of the first `classes` squared features, a non-linear rule.
    fn squares(rows: usize, columns: usize, classes: usize, seed: u64) -> (Features, Vec<usize>) {
        let mut random = SplitMix64::new(seed);
        let data: Vec<f32> = (0..rows * columns)
            .map(|_| random.normal() as f32)
            .collect();
        let labels = data
            .chunks_exact(columns)
            .map(|row| {
                let squared: Vec<f32> = row[..classes].iter().map(|x| x * x).collect();
                argmax(&squared)
            })
            .collect();
        (
            Features::from_row_major(rows, columns, data, "x").unwrap(),
            labels,
        )
    }

    /// `rows` records of `columns` features of which 3 at most are not zero (standard normal,
    /// in random columns); the class is the index of the largest of the first `classes` squared
    /// features.
    fn sparse_squares(
        rows: usize,
        columns: usize,
        classes: usize,
        seed: u64,
    ) -> (Features, Vec<usize>) {
        let mut random = SplitMix64::new(seed);
        let mut data = vec![0.0f32; rows * columns];
        for row in data.chunks_exact_mut(columns) {
            for _ in 0..3 {
                row[random.below(columns)] = random.normal() as f32;
            }
        }
        let labels = data
            .chunks_exact(columns)
            .map(|row| {
                let squared: Vec<f32> = row[..classes].iter().map(|x| x * x).collect();
                argmax(&squared)
            })
            .collect();
        (
            Features::from_row_major(rows, columns, data, "x").unwrap(),
            labels,
        )
    }

    fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
        let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        correct as f64 / labels.len() as f64
    }

    #[test]
    fn learns_xor_that_logistic_regression_cannot() {
        let (features, labels) = xor(400, 1);
        let (test_features, test_labels) = xor(400, 2);
        let linear = LogisticRegression::params()
            .check()
            .unwrap()
            .fit(&features, &labels, 2)
            .unwrap();
        let linear_predictions: Vec<usize> = linear
            .predict_proba(&test_features)
            .chunks_exact(2)
            .map(argmax)
            .collect();
        let linear_accuracy = accuracy(&linear_predictions, &test_labels);
        let model = Mlp::params()
            .check()
            .unwrap()
            .fit(&features, &labels, 2, &NoProgress)
            .unwrap();
        let network_accuracy = accuracy(&model.predict(&test_features), &test_labels);
        assert!(
            linear_accuracy < 0.7,
            "logistic regression: {linear_accuracy}"
        );
        assert!(network_accuracy > 0.93, "network: {network_accuracy}");
        // 4 minibatches of at most 128 records per epoch: the epochs that make 1,000 updates
        // are more than the most allowed.
        assert_eq!(model.report().epochs, MlpParams::MAX_EPOCHS);
        assert_eq!(model.report().updates, 4 * MlpParams::MAX_EPOCHS);
    }

    #[test]
    fn default_epochs_aim_at_a_number_of_updates_within_a_budget() {
        // Fashion-MNIST: 60,000 images in 469 minibatches of 128, or 3,000 in 24.
        let images = parameter_count(&[784, 256, 64, 10]);
        assert_eq!(images, 218_058);
        assert_eq!(default_epochs(469, images), 5);
        assert_eq!(default_epochs(24, images), 42);
        // Text: 16,384 hashed TF-IDF features, 1,600 or 30,000 records.
        let text = parameter_count(&[16_384, 256, 64, 8]);
        assert_eq!(default_epochs(13, text), 10);
        assert_eq!(default_epochs(235, text), 1);
        // A few records of a few features.
        assert_eq!(default_epochs(1, parameter_count(&[5, 256, 64, 2])), 200);
    }

    #[test]
    fn results_are_the_same_whatever_the_threads() {
        // More rows than a part of prediction, minibatches of several parts of training, and a
        // last minibatch and part that are shorter; dense features, then sparse ones.
        let rows = PART_ROWS + 90;
        for (features, labels) in [squares(rows, 12, 3, 4), sparse_squares(rows, 60, 3, 5)] {
            same_bits_whatever_the_threads(&features, &labels);
        }
    }

    fn same_bits_whatever_the_threads(features: &Features, labels: &[usize]) {
        let run = |threads: usize, seed: u64| {
            let params = Mlp::params()
                .hidden_layers(&[32, 16])
                .epochs(3)
                .batch_size(3 * TRAIN_PART_ROWS + 10)
                .seed(seed)
                .check()
                .unwrap();
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let model = params.fit(features, labels, 3, &NoProgress).unwrap();
                    let mut bits: Vec<u32> = model
                        .network
                        .parameters
                        .clone()
                        .into_iter()
                        .map(f32::to_bits)
                        .collect();
                    bits.extend(model.predict_proba(features).into_iter().map(f32::to_bits));
                    bits.extend(
                        model
                            .activations(features)
                            .into_data()
                            .into_iter()
                            .map(f32::to_bits),
                    );
                    bits.extend(
                        model
                            .report()
                            .epoch_losses
                            .iter()
                            .map(|loss| (*loss as f32).to_bits()),
                    );
                    bits
                })
        };
        let reference = run(1, 5);
        assert_eq!(reference, run(2, 5));
        assert_eq!(reference, run(3, 5));
        assert_ne!(
            reference,
            run(2, 6),
            "the seed chooses the weights and the order"
        );
    }

    #[test]
    fn training_on_some_rows_is_training_on_a_copy_of_them() {
        // Dense, then sparse features; every third record, out of order, is left out.
        for (features, labels) in [squares(300, 12, 3, 6), sparse_squares(300, 60, 3, 7)] {
            let rows: Vec<usize> = (0..300).rev().filter(|row| row % 3 != 0).collect();
            let rest: Vec<usize> = (0..300).filter(|row| row % 3 == 0).collect();
            let params = Mlp::params()
                .hidden_layers(&[16, 8])
                .epochs(4)
                .batch_size(70)
                .seed(9)
                .check()
                .unwrap();
            let copied_labels: Vec<usize> = rows.iter().map(|&row| labels[row]).collect();
            let copied = params
                .fit(&features.select_rows(&rows), &copied_labels, 3, &NoProgress)
                .unwrap();
            let in_place = params
                .fit_rows(&features, &labels, &rows, 3, &NoProgress)
                .unwrap();
            assert_eq!(
                in_place.network, copied.network,
                "the same weights, bit for bit"
            );
            assert_eq!(in_place.report().epoch_losses, copied.report().epoch_losses);
            assert_eq!(
                in_place.predict_proba_rows(&features, &rest),
                copied.predict_proba(&features.select_rows(&rest)),
            );
        }
        let (features, labels) = squares(20, 4, 2, 8);
        assert!(matches!(
            Mlp::params()
                .check()
                .unwrap()
                .fit_rows(&features, &labels, &[], 2, &NoProgress),
            Err(FitError::NoRecords)
        ));
    }

    #[test]
    fn activations_are_the_last_hidden_layer() {
        let (features, labels) = squares(300, 6, 3, 8);
        let model = Mlp::params()
            .hidden_layers(&[20, 12])
            .check()
            .unwrap()
            .fit(&features, &labels, 3, &NoProgress)
            .unwrap();
        assert_eq!(
            (model.features(), model.hidden_layers(), model.classes()),
            (6, &[20, 12][..], 3)
        );
        assert_eq!(model.representation_width(), 12);
        let activations = model.activations(&features);
        assert_eq!((activations.rows(), activations.columns()), (300, 12));
        assert_eq!(activations.data().len(), 300 * 12);
        assert_eq!(activations.blocks()[0].encoding, Encoding::Embedding);
        assert_eq!(activations.blocks()[0].width, 12);
        assert!(activations.data().iter().all(|value| *value >= 0.0));
        assert!(
            activations.data().iter().any(|value| *value > 0.0),
            "every unit is dead"
        );

        // The output layer applied to the activations gives the probabilities.
        let probabilities = model.predict_proba(&features);
        let (weights, bias) = model.layers()[2];
        assert_eq!((weights.len(), bias.len()), (12 * 3, 3));
        for row in 0..300 {
            let mut scores = bias.to_vec();
            for (unit, activation) in activations.row(row).iter().enumerate() {
                for class in 0..3 {
                    scores[class] += activation * weights[unit * 3 + class];
                }
            }
            softmax_in_place(&mut scores);
            let given = &probabilities[row * 3..(row + 1) * 3];
            assert!((given.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            for (computed, given) in scores.iter().zip(given) {
                assert!(
                    (computed - given).abs() < 1e-5,
                    "{computed} against {given}"
                );
            }
        }
        let predicted = model.predict(&features);
        assert_eq!(
            predicted,
            probabilities
                .chunks_exact(3)
                .map(argmax)
                .collect::<Vec<_>>()
        );
        assert!(accuracy(&predicted, &labels) > 0.8);
        // One record alone gets the prediction it gets among others.
        assert_eq!(model.predict(&features.select_rows(&[17])), [predicted[17]]);
    }

    /// The mean cross-entropy of a network with parameters `parameters` (laid out as
    /// [`Network::parameters`]), computed directly in `f64`.
    fn direct_loss(
        widths: &[usize],
        parameters: &[f64],
        features: &Features,
        labels: &[usize],
    ) -> f64 {
        let layers = widths.len() - 1;
        let mut total = 0.0;
        for (row, &label) in labels.iter().enumerate() {
            let mut values: Vec<f64> = features.row(row).iter().map(|v| f64::from(*v)).collect();
            let mut offset = 0;
            for layer in 0..layers {
                let (inputs, outputs) = (widths[layer], widths[layer + 1]);
                let weights = &parameters[offset..offset + inputs * outputs];
                let mut next = parameters[offset + inputs * outputs..][..outputs].to_vec();
                offset += (inputs + 1) * outputs;
                for (input, value) in values.iter().enumerate() {
                    for (output, next) in next.iter_mut().enumerate() {
                        *next += value * weights[input * outputs + output];
                    }
                }
                if layer + 1 < layers {
                    for value in &mut next {
                        *value = value.max(0.0);
                    }
                }
                values = next;
            }
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = values.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
            total += log_sum - values[label];
        }
        total / labels.len() as f64
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Two parts: 64 rows and 6; dense features, and sparse ones.
        let rows = TRAIN_PART_ROWS + 6;
        let (dense, dense_labels) = squares(rows, 3, 3, 12);
        let (sparse, sparse_labels) = sparse_squares(rows, 40, 3, 13);
        assert!(matches!(Input::new(&dense), Input::Dense(_)));
        assert!(matches!(Input::new(&sparse), Input::Sparse(_)));
        for (features, labels) in [(dense, dense_labels), (sparse, sparse_labels)] {
            let widths = vec![features.columns(), 5, 4, 3];
            let mut network = Network::initialised(widths.clone(), 3);
            // Biases away from 0, so that no unit sits on the kink of its rectifier (a record
            // whose units are all off would put the next layer's exactly there).
            let mut random = SplitMix64::new(4);
            for (_, bias) in split_layers_mut(&mut network.parameters, &widths) {
                for value in bias {
                    *value = 0.1 * random.normal() as f32;
                }
            }
            let input = Input::new(&features);
            let mut trainer = Trainer::new(&widths, rows, matches!(input, Input::Dense(_)));
            let batch: Vec<usize> = (0..rows).collect();
            let (loss, _) = trainer.gradient(&network, &input, &labels, &batch);
            assert_eq!(trainer.active_parts, 2);
            let mut gradient = vec![0.0f64; network.parameters.len()];
            for part in &trainer.parts[..trainer.active_parts] {
                for (total, share) in gradient.iter_mut().zip(&part.gradient) {
                    *total += f64::from(*share);
                }
            }
            let parameters: Vec<f64> = network.parameters.iter().map(|p| f64::from(*p)).collect();
            let direct = direct_loss(&widths, &parameters, &features, &labels);
            assert!(
                (loss / rows as f64 - direct).abs() < 1e-5,
                "{loss} against {direct}"
            );
            let step = 1e-4;
            for (parameter, computed) in gradient.iter().enumerate() {
                let at = |offset: f64| {
                    let mut moved = parameters.clone();
                    moved[parameter] += offset;
                    direct_loss(&widths, &moved, &features, &labels)
                };
                let numeric = (at(step) - at(-step)) / (2.0 * step);
                assert!(
                    (numeric - computed).abs() < 1e-4 * numeric.abs().max(1.0),
                    "{} features, parameter {parameter}: {computed} against {numeric}",
                    widths[0]
                );
            }
        }
    }

    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<String>>,
        advanced: AtomicU64,
    }

    impl Progress for Recorder {
        fn start(&self, stage: &str, total: Option<u64>, unit: ProgressUnit) {
            self.events
                .lock()
                .unwrap()
                .push(format!("start {stage} {total:?} {unit:?}"));
        }
        fn advance(&self, amount: u64) {
            self.advanced.fetch_add(amount, Ordering::Relaxed);
        }
        fn finish(&self) {
            self.events.lock().unwrap().push("finish".to_owned());
        }
    }

    #[test]
    fn progress_counts_records_over_all_epochs() {
        let (features, labels) = xor(50, 3);
        let recorder = Recorder::default();
        let model = Mlp::params()
            .hidden_layers(&[4])
            .epochs(3)
            .batch_size(16)
            .check()
            .unwrap()
            .fit(&features, &labels, 2, &recorder)
            .unwrap();
        assert_eq!(
            *recorder.events.lock().unwrap(),
            ["start train network Some(150) Records", "finish"]
        );
        assert_eq!(recorder.advanced.load(Ordering::Relaxed), 150);
        let report = model.report();
        assert_eq!((report.epochs, report.updates), (3, 12));
        assert_eq!(report.epoch_losses.len(), 3);
        assert_eq!(Some(&report.loss), report.epoch_losses.last());
        assert!((0.0..=1.0).contains(&report.training_accuracy));
    }

    #[test]
    fn bad_input_is_refused() {
        let (features, labels) = xor(10, 4);
        let params = Mlp::params().check().unwrap();
        let fit = |features: &Features, labels: &[usize], classes: usize| {
            params
                .fit(features, labels, classes, &NoProgress)
                .unwrap_err()
        };
        assert_eq!(
            fit(&features, &labels[..9], 2),
            FitError::LabelCount {
                rows: 10,
                labels: 9
            }
        );
        let mut wrong = labels.clone();
        wrong[6] = 2;
        assert_eq!(
            fit(&features, &wrong, 2),
            FitError::LabelOutOfRange {
                row: 6,
                label: 2,
                classes: 2
            }
        );
        let empty = Features::from_row_major(0, 2, Vec::new(), "xy").unwrap();
        assert_eq!(fit(&empty, &[], 2), FitError::NoRecords);
        let mut data = features.data().to_vec();
        data[7] = f32::INFINITY;
        let broken = Features::from_row_major(10, 2, data, "xy").unwrap();
        assert_eq!(
            fit(&broken, &labels, 2),
            FitError::NotFinite { row: 3, column: 1 }
        );

        let check = |params: MlpParams| params.check().unwrap_err();
        assert_eq!(
            check(Mlp::params().hidden_layers(&[])),
            MlpParamsError::NoHiddenLayer
        );
        assert_eq!(
            check(Mlp::params().hidden_layers(&[8, 0])).to_string(),
            "hidden layer 1 has no units"
        );
        assert_eq!(check(Mlp::params().epochs(0)), MlpParamsError::Epochs);
        assert_eq!(
            check(Mlp::params().batch_size(0)),
            MlpParamsError::BatchSize
        );
        assert!(matches!(
            check(Mlp::params().learning_rate(f64::NAN)),
            MlpParamsError::LearningRate(_)
        ));
        assert_eq!(
            check(Mlp::params().learning_rate(0.0)),
            MlpParamsError::LearningRate(0.0)
        );
        assert_eq!(
            check(Mlp::params().l2(-1.0)).to_string(),
            "`l2` must be a finite number of at least 0, found `-1`"
        );
    }

    #[test]
    #[should_panic(expected = "the network was trained on 2 features")]
    fn predicting_other_features_panics() {
        let (features, labels) = xor(20, 5);
        let model = Mlp::params()
            .hidden_layers(&[4])
            .epochs(1)
            .check()
            .unwrap()
            .fit(&features, &labels, 2, &NoProgress)
            .unwrap();
        let other = Features::from_row_major(1, 3, vec![0.0; 3], "xyz").unwrap();
        let _ = model.predict(&other);
    }
}
