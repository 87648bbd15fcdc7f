//! Multinomial logistic regression, and K-fold out-of-sample probabilities from it.
//!
//! The model is softmax regression: for a record with features `x`, class `c` has probability
//! `exp(x·w_c + b_c) / sum_j exp(x·w_j + b_j)`. Training minimises the mean cross-entropy plus
//! `l2 / 2 * |W|^2` (the intercepts are not penalised), full batch, with L-BFGS
//! ([`crate::lbfgs`]). scikit-learn's `LogisticRegression(C=C)` minimises the same objective
//! with `l2 = 1 / (C * records)`, and so does this one by default, with `C = 1`.
//!
//! The matrix products run on [faer](https://docs.rs/faer) in `f32`, the rest in `f64`. Every
//! reduction has a fixed order, so the same input and seed give the same bits on the same
//! machine, whatever the scheduling of threads.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::features::Features;
use crate::folds::stratified_folds;
use crate::lbfgs;

/// Multinomial logistic regression; start with [`LogisticRegression::params`].
///
/// ```
/// use antidote_learn::{Features, LogisticRegression};
///
/// // Two features; the class is 1 when the first is larger.
/// let features = Features::from_row_major(4, 2, vec![2.0, 0.0, 0.0, 2.0, 3.0, 1.0, 1.0, 3.0], "x")?;
/// let labels = [1, 0, 1, 0];
/// let model = LogisticRegression::params().l2(1e-3).check()?.fit(&features, &labels, 2)?;
/// let probabilities = model.predict_proba(&features);
/// assert!(probabilities[1] > 0.9 && probabilities[2] > 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LogisticRegression;

impl LogisticRegression {
    /// The default hyperparameters: `l2 = 1 / training records` (scikit-learn's `C = 1`), at
    /// most 100 iterations, gradient tolerance `1e-4`.
    #[must_use]
    pub fn params() -> LogisticRegressionParams {
        LogisticRegressionParams::default()
    }
}

/// Hyperparameters of [`LogisticRegression`]; [`LogisticRegressionParams::check`] validates
/// them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticRegressionParams {
    /// `None` for `1 / training records`.
    l2: Option<f64>,
    max_iterations: usize,
    tolerance: f64,
}

impl Default for LogisticRegressionParams {
    fn default() -> Self {
        Self {
            l2: None,
            max_iterations: 100,
            tolerance: 1e-4,
        }
    }
}

/// Checked [`LogisticRegressionParams`], ready to [`fit`](Self::fit).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LogisticRegressionValidParams(LogisticRegressionParams);

/// Errors from checking [`LogisticRegressionParams`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum LogisticRegressionParamsError {
    /// The L2 penalty is negative or not finite.
    #[error("`l2` must be a finite number of at least 0, found `{0}`")]
    L2(f64),
    /// No iteration allowed.
    #[error("`max_iterations` must be at least 1")]
    MaxIterations,
    /// The tolerance is not positive and finite.
    #[error("`tolerance` must be a finite number greater than 0, found `{0}`")]
    Tolerance(f64),
}

/// Errors from training, or from asking for out-of-sample probabilities.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// There is no record to learn from.
    #[error("there are no records to learn from")]
    NoRecords,
    /// The labels and the feature rows differ in number.
    #[error("{labels} labels for {rows} records")]
    LabelCount {
        /// Feature rows.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// A label is not a class index.
    #[error("record {row} has class index {label}, but there are {classes} classes")]
    LabelOutOfRange {
        /// The record's row.
        row: usize,
        /// Its label.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A feature is NaN or infinite.
    #[error("record {row} has a feature that is not a finite number (column {column})")]
    NotFinite {
        /// The record's row.
        row: usize,
        /// The feature column.
        column: usize,
    },
    /// Too few or too many folds.
    #[error("{folds} folds: there must be at least 2, and no more than the {rows} records")]
    Folds {
        /// Folds asked for.
        folds: usize,
        /// Records.
        rows: usize,
    },
    /// A record belongs to two of the groups that models are trained without.
    #[error("record {row} is in two of the groups to train without; the groups must be disjoint")]
    OverlappingGroups {
        /// The record's row.
        row: usize,
    },
}

impl LogisticRegressionParams {
    /// The L2 penalty on the weights, added to the mean cross-entropy as `l2 / 2 * |W|^2`
    /// (default: `1 / training records`, so that it weighs as much as one record's loss, as
    /// scikit-learn's default `C = 1`).
    #[must_use]
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = Some(l2);
        self
    }

    /// The most L-BFGS iterations.
    #[must_use]
    pub fn max_iterations(mut self, iterations: usize) -> Self {
        self.max_iterations = iterations;
        self
    }

    /// Training stops when no entry of the gradient is larger than this.
    #[must_use]
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks the hyperparameters.
    pub fn check(self) -> Result<LogisticRegressionValidParams, LogisticRegressionParamsError> {
        if let Some(l2) = self.l2
            && !(l2.is_finite() && l2 >= 0.0)
        {
            return Err(LogisticRegressionParamsError::L2(l2));
        }
        if self.max_iterations == 0 {
            return Err(LogisticRegressionParamsError::MaxIterations);
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(LogisticRegressionParamsError::Tolerance(self.tolerance));
        }
        Ok(LogisticRegressionValidParams(self))
    }
}

/// How a training run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingReport {
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Evaluations of the objective and its gradient.
    pub evaluations: usize,
    /// Whether a stopping rule other than the iteration limit ended training.
    pub converged: bool,
    /// The final value of the objective.
    pub objective: f64,
}

/// A trained multinomial logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticModel {
    features: usize,
    classes: usize,
    /// `features x classes`, row-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
    report: TrainingReport,
}

impl LogisticModel {
    /// The number of classes.
    #[must_use]
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The number of features it reads.
    #[must_use]
    pub fn features(&self) -> usize {
        self.features
    }

    /// The weights, `features x classes`, row-major.
    #[must_use]
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The intercept of each class.
    #[must_use]
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// How training ended.
    #[must_use]
    pub fn report(&self) -> TrainingReport {
        self.report
    }

    /// The probability of every class for every record: `rows x classes`, row-major.
    ///
    /// # Panics
    ///
    /// If `features` does not have the number of columns the model was trained on.
    #[must_use]
    pub fn predict_proba(&self, features: &Features) -> Vec<f32> {
        assert_eq!(
            features.columns(),
            self.features,
            "the model was trained on {} features",
            self.features
        );
        let mut scores = scores(
            features.data(),
            features.rows(),
            self.features,
            &self.weights,
            self.classes,
        );
        scores
            .par_chunks_mut(PART_ROWS * self.classes)
            .for_each(|part| {
                for row in part.chunks_exact_mut(self.classes) {
                    row.iter_mut().zip(&self.bias).for_each(|(s, b)| *s += b);
                    softmax_in_place(row);
                }
            });
        scores
    }
}

/// Rows per parallel task. Both products of an evaluation run on a part while its features are
/// in the cache (2048 rows of 784 `f32` are 6.4 MB), and parts of a fixed size make every sum
/// independent of the number of threads.
const PART_ROWS: usize = 2048;

/// `data (rows x features) * weights (features x width)`, row-major, parallel over parts.
fn scores(data: &[f32], rows: usize, features: usize, weights: &[f32], width: usize) -> Vec<f32> {
    let mut scores = vec![0.0f32; rows * width];
    if width == 0 || features == 0 {
        return scores;
    }
    scores
        .par_chunks_mut(PART_ROWS * width)
        .zip(data.par_chunks(PART_ROWS * features))
        .for_each(|(out, part)| {
            let rows = out.len() / width;
            matmul(
                MatMut::from_row_major_slice_mut(out, rows, width),
                Accum::Replace,
                MatRef::from_row_major_slice(part, rows, features),
                MatRef::from_row_major_slice(weights, features, width),
                1.0,
                Par::Seq,
            );
        });
    scores
}

/// Replaces scores by their softmax.
fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for score in row.iter_mut() {
        *score = exp_nonpositive(*score - max);
        sum += *score;
    }
    let inverse = 1.0 / sum;
    for score in row.iter_mut() {
        *score *= inverse;
    }
}

/// `e^x` for `x <= 0`, to within a few units in the last place of `f32` (0 for `x` below `-87`,
/// where it would be subnormal).
///
/// Cody and Waite's reduction (1980, "Software Manual for the Elementary Functions"):
/// `e^x = 2^n e^r` with `n = round(x / ln 2)` and `r = x - n ln 2`, `|r| <= ln 2 / 2`, where
/// `ln 2` is split in two so that `n ln 2` is subtracted without rounding; `e^r` is its Taylor
/// polynomial of degree 7, whose error `(ln 2 / 2)^8 / 8!` is far below `f32`'s epsilon. Written
/// without branches or calls so that the compiler vectorises a loop of it, which makes the
/// softmax several times faster than calling `libm` for each score.
#[inline]
fn exp_nonpositive(x: f32) -> f32 {
    /// `ln 2` to 9 bits (exactly 0.693359375), so that `n * LN_2_HIGH` is exact for
    /// `|n| < 2^15`.
    const LN_2_HIGH: f32 = 0.693_359_4;
    const LN_2_LOW: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a call to
    // `rintf` (SSE2, the baseline, has no rounding instruction).
    const ROUND: f32 = 12_582_912.0;
    let below = x < -87.0;
    let x = if below { -87.0 } else { x };
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN_2_HIGH) - n * LN_2_LOW;
    let polynomial = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // The low bits of `shifted` hold `n`: move `n + 127` into the exponent field.
    let power = f32::from_bits(
        shifted
            .to_bits()
            .wrapping_sub(ROUND.to_bits())
            .wrapping_add(127)
            << 23,
    );
    if below { 0.0 } else { polynomial * power }
}

/// Turns a part's scores (`rows x (models * classes)`) into the gradient of the loss with respect
/// to them, `(softmax - one_hot) / rows_of_model`, in place (0 where a model holds the row out).
/// Returns each model's summed cross-entropy over the part and the summed `softmax - one_hot`
/// (its intercepts' gradient, unscaled).
///
/// It works in passes over the whole part so that the exponentials run as one vectorised loop.
fn residuals(
    scores: &mut [f32],
    labels: &[usize],
    folds: Option<&[usize]>,
    members: &[Member],
    bias: &[f32],
    scales: &[f32],
    classes: usize,
) -> (Vec<f64>, Vec<f64>) {
    let models = members.len();
    let width = models * classes;
    let held_out = |offset: usize, model: usize| {
        folds.is_some_and(|folds| members[model].held_out == Some(folds[offset]))
    };
    // Shift each softmax by its maximum, and keep the shifted score of the label.
    let mut label_scores = vec![0.0f32; labels.len() * models];
    for (offset, row) in scores.chunks_exact_mut(width).enumerate() {
        for (model, block) in row.chunks_exact_mut(classes).enumerate() {
            block
                .iter_mut()
                .zip(&bias[model * classes..])
                .for_each(|(s, b)| *s += b);
            let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for s in block.iter_mut() {
                *s -= max;
            }
            label_scores[offset * models + model] = block[labels[offset]];
        }
    }
    for score in scores.iter_mut() {
        *score = exp_nonpositive(*score);
    }
    let mut loss = vec![0.0f64; models];
    let mut bias_gradient = vec![0.0f64; width];
    for (offset, row) in scores.chunks_exact_mut(width).enumerate() {
        let label = labels[offset];
        for (model, block) in row.chunks_exact_mut(classes).enumerate() {
            if held_out(offset, model) {
                block.fill(0.0);
                continue;
            }
            let sum: f32 = block.iter().sum();
            loss[model] += f64::from(sum.ln() - label_scores[offset * models + model]);
            let inverse = 1.0 / sum;
            for s in block.iter_mut() {
                *s *= inverse;
            }
            block[label] -= 1.0;
            let scale = scales[model];
            for (total, residual) in bias_gradient[model * classes..]
                .iter_mut()
                .zip(block.iter_mut())
            {
                *total += f64::from(*residual);
                *residual *= scale;
            }
        }
    }
    (loss, bias_gradient)
}

/// Checks the labels against the features, and the features for NaN and infinities (which would
/// make every probability NaN).
fn check_input(features: &Features, labels: &[usize], classes: usize) -> Result<(), FitError> {
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

/// Training data shared by several models: each model trains on every row except those of the
/// fold it holds out.
///
/// The minimisers work in standardised coordinates: a model's parameters are `(V, c)` with
/// weights `W = V / s` (row `j` divided by `s_j`) and intercepts `b = c - m W`, where `m` and `s`
/// are the features' means and deviations. That is an exact change of variables (the penalty is
/// still `l2 / 2 * |W|^2`, so the optimum is the same), but the objective's curvature becomes
/// nearly equal in every direction, so L-BFGS needs several times fewer iterations than on raw
/// features (pixels are all positive, and some are almost constant). The data are never copied or
/// centred: the products run on them as they are.
struct Problem<'a> {
    data: &'a [f32],
    rows: usize,
    features: usize,
    classes: usize,
    labels: &'a [usize],
    /// The fold of every row, when models hold folds out.
    folds: Option<&'a [usize]>,
    mean: Vec<f64>,
    /// `sqrt(variance + l2)`: the deviation, kept away from 0 so that the penalty's curvature in
    /// standardised coordinates stays at most 1.
    scale: Vec<f64>,
}

/// One model trained on a [`Problem`].
#[derive(Debug, Clone, Copy)]
struct Member {
    held_out: Option<usize>,
    /// Rows it trains on.
    rows: usize,
    l2: f64,
}

/// One part's contribution to the values and gradients of the models evaluated together.
struct Partial {
    loss: Vec<f64>,
    bias_gradient: Vec<f64>,
    weight_gradient: Vec<f32>,
}

/// Per-feature sums over a part: of the values, or of squared deviations from `center`.
fn column_sums(data: &[f32], features: usize, center: Option<&[f64]>) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = data
        .par_chunks(PART_ROWS * features)
        .map(|part| {
            let mut sums = vec![0.0f64; features];
            for row in part.chunks_exact(features) {
                match center {
                    None => sums
                        .iter_mut()
                        .zip(row)
                        .for_each(|(sum, value)| *sum += f64::from(*value)),
                    Some(center) => {
                        for ((sum, value), center) in sums.iter_mut().zip(row).zip(center) {
                            let deviation = f64::from(*value) - center;
                            *sum += deviation * deviation;
                        }
                    }
                }
            }
            sums
        })
        .collect();
    let mut total = vec![0.0f64; features];
    for partial in partials {
        total
            .iter_mut()
            .zip(partial)
            .for_each(|(total, part)| *total += part);
    }
    total
}

impl<'a> Problem<'a> {
    fn new(
        features: &'a Features,
        labels: &'a [usize],
        classes: usize,
        folds: Option<&'a [usize]>,
        l2: f64,
    ) -> Self {
        let (data, rows, columns) = (features.data(), features.rows(), features.columns());
        let (mean, scale) = if columns == 0 {
            (Vec::new(), Vec::new())
        } else {
            let mut mean = column_sums(data, columns, None);
            for sum in &mut mean {
                *sum /= rows as f64;
            }
            let mut scale = column_sums(data, columns, Some(&mean));
            for sum in &mut scale {
                *sum = (*sum / rows as f64 + l2).sqrt().max(f64::MIN_POSITIVE);
            }
            (mean, scale)
        };
        Self {
            data,
            rows,
            features: columns,
            classes,
            labels,
            folds,
            mean,
            scale,
        }
    }

    /// Parameters of a model: the weights (`features x classes`, row-major), then the
    /// intercepts.
    fn parameters(&self) -> usize {
        (self.features + 1) * self.classes
    }

    /// The weights and intercepts of the standardised parameters `theta`.
    fn unscale(&self, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let classes = self.classes;
        let (scaled, centred) = theta.split_at(self.features * classes);
        let mut weights = scaled.to_vec();
        let mut bias = centred.to_vec();
        for (feature, row) in weights.chunks_exact_mut(classes).enumerate() {
            let (mean, scale) = (self.mean[feature], self.scale[feature]);
            for (weight, bias) in row.iter_mut().zip(bias.iter_mut()) {
                *weight /= scale;
                *bias -= mean * *weight;
            }
        }
        (weights, bias)
    }

    /// The weights of several models side by side (`features x (models * classes)`) and their
    /// intercepts, in `f32`.
    fn pack(&self, models: &[(Vec<f64>, Vec<f64>)]) -> (Vec<f32>, Vec<f32>) {
        let (features, classes) = (self.features, self.classes);
        let width = models.len() * classes;
        let mut packed = vec![0.0f32; features * width];
        let mut packed_bias = vec![0.0f32; width];
        for (model, (weights, bias)) in models.iter().enumerate() {
            for feature in 0..features {
                let from = &weights[feature * classes..(feature + 1) * classes];
                let to = &mut packed[feature * width + model * classes..][..classes];
                to.iter_mut()
                    .zip(from)
                    .for_each(|(to, from)| *to = *from as f32);
            }
            packed_bias[model * classes..(model + 1) * classes]
                .iter_mut()
                .zip(bias)
                .for_each(|(to, from)| *to = *from as f32);
        }
        (packed, packed_bias)
    }

    /// The objective (mean cross-entropy plus penalty) of each model at its standardised
    /// parameters `theta`, and its gradient, in one pass over the data for all of them.
    fn evaluate(&self, members: &[Member], thetas: &[&[f64]]) -> Vec<(f64, Vec<f64>)> {
        let (features, classes) = (self.features, self.classes);
        let models = members.len();
        let width = models * classes;
        let unscaled: Vec<(Vec<f64>, Vec<f64>)> =
            thetas.iter().map(|theta| self.unscale(theta)).collect();
        let (weights, bias) = self.pack(&unscaled);
        let scales: Vec<f32> = members
            .iter()
            .map(|member| 1.0 / member.rows as f32)
            .collect();
        let parts = self.rows.div_ceil(PART_ROWS);
        let partials: Vec<Partial> = (0..parts)
            .into_par_iter()
            .map(|part| {
                let start = part * PART_ROWS;
                let end = (start + PART_ROWS).min(self.rows);
                let rows = end - start;
                let data = MatRef::from_row_major_slice(
                    &self.data[start * features..end * features],
                    rows,
                    features,
                );
                let mut scores = vec![0.0f32; rows * width];
                matmul(
                    MatMut::from_row_major_slice_mut(&mut scores, rows, width),
                    Accum::Replace,
                    data,
                    MatRef::from_row_major_slice(&weights, features, width),
                    1.0,
                    Par::Seq,
                );
                let labels = &self.labels[start..end];
                let folds = self.folds.map(|folds| &folds[start..end]);
                let (loss, bias_gradient) =
                    residuals(&mut scores, labels, folds, members, &bias, &scales, classes);
                let mut weight_gradient = vec![0.0f32; features * width];
                matmul(
                    MatMut::from_row_major_slice_mut(&mut weight_gradient, features, width),
                    Accum::Replace,
                    data.transpose(),
                    MatRef::from_row_major_slice(&scores, rows, width),
                    1.0,
                    Par::Seq,
                );
                Partial {
                    loss,
                    bias_gradient,
                    weight_gradient,
                }
            })
            .collect();

        // Sum the parts in order, so the result does not depend on scheduling.
        let mut loss = vec![0.0f64; models];
        let mut bias_gradient = vec![0.0f64; width];
        let mut weight_gradient = vec![0.0f32; features * width];
        for partial in partials {
            loss.iter_mut()
                .zip(partial.loss)
                .for_each(|(total, part)| *total += part);
            bias_gradient
                .iter_mut()
                .zip(partial.bias_gradient)
                .for_each(|(total, part)| *total += part);
            weight_gradient
                .iter_mut()
                .zip(partial.weight_gradient)
                .for_each(|(total, part)| *total += part);
        }

        let mut results = Vec::with_capacity(models);
        for (model, (member, (weights, _))) in members.iter().zip(&unscaled).enumerate() {
            let rows_scale = 1.0 / member.rows as f64;
            let mut gradient = vec![0.0f64; self.parameters()];
            let (weight_part, bias_part) = gradient.split_at_mut(features * classes);
            for (out, total) in bias_part
                .iter_mut()
                .zip(&bias_gradient[model * classes..(model + 1) * classes])
            {
                *out = total * rows_scale;
            }
            // The chain rule through W = V / s and b = c - m W.
            let mut penalty = 0.0;
            for feature in 0..features {
                let products = &weight_gradient[feature * width + model * classes..][..classes];
                let (mean, scale) = (self.mean[feature], self.scale[feature]);
                let at = feature * classes;
                for class in 0..classes {
                    let weight = weights[at + class];
                    penalty += weight * weight;
                    let gradient =
                        f64::from(products[class]) - mean * bias_part[class] + member.l2 * weight;
                    weight_part[at + class] = gradient / scale;
                }
            }
            results.push((
                loss[model] * rows_scale + 0.5 * member.l2 * penalty,
                gradient,
            ));
        }
        results
    }

    /// Trains one model per member together, sharing each pass over the data.
    fn train(&self, members: &[Member], params: LogisticRegressionParams) -> Vec<LogisticModel> {
        let options = lbfgs::Options {
            max_iterations: params.max_iterations,
            gradient_tolerance: params.tolerance,
            // scipy's default for scikit-learn's `lbfgs` is 64 machine epsilons of f64; the loss
            // here is summed from f32 scores, whose rounding is near 1e-7 relative.
            value_tolerance: 1e-9,
            history: 10,
        };
        let mut minimizers: Vec<lbfgs::Minimizer> = members
            .iter()
            .map(|_| lbfgs::Minimizer::new(vec![0.0; self.parameters()], options))
            .collect();
        loop {
            let active: Vec<usize> = (0..members.len())
                .filter(|&model| minimizers[model].point().is_some())
                .collect();
            if active.is_empty() {
                break;
            }
            let active_members: Vec<Member> = active.iter().map(|&model| members[model]).collect();
            let thetas: Vec<&[f64]> = active
                .iter()
                .filter_map(|&model| minimizers[model].point())
                .collect();
            let results = self.evaluate(&active_members, &thetas);
            for (&model, (value, gradient)) in active.iter().zip(results) {
                minimizers[model].tell(value, &gradient);
            }
        }
        minimizers
            .iter()
            .map(|minimizer| {
                let (weights, bias) = self.unscale(minimizer.x());
                let report = minimizer.report();
                LogisticModel {
                    features: self.features,
                    classes: self.classes,
                    weights: weights.iter().map(|w| *w as f32).collect(),
                    bias: bias.iter().map(|b| *b as f32).collect(),
                    report: TrainingReport {
                        iterations: report.iterations,
                        evaluations: report.evaluations,
                        converged: report.converged,
                        objective: report.value,
                    },
                }
            })
            .collect()
    }
}

impl LogisticRegressionValidParams {
    /// Trains on `features` with class indices `labels` (each below `classes`).
    pub fn fit(
        &self,
        features: &Features,
        labels: &[usize],
        classes: usize,
    ) -> Result<LogisticModel, FitError> {
        check_input(features, labels, classes)?;
        let rows = features.rows();
        let l2 = self.0.l2.unwrap_or(1.0 / rows as f64);
        let problem = Problem::new(features, labels, classes, None, l2);
        let member = Member {
            held_out: None,
            rows,
            l2,
        };
        let mut models = problem.train(&[member], self.0);
        Ok(models.remove(0))
    }
}

/// One logistic regression per group of rows, each trained on every row but its group's, all
/// together: the models share each pass over the data, so that ten models cost a few times one
/// model rather than ten. Each model has the optimum that
/// [`fit`](LogisticRegressionValidParams::fit) reaches on the same rows; the L-BFGS paths differ
/// (the features are standardised over every row here), so models stopped at the iteration limit
/// before converging differ a little. The groups must be disjoint.
///
/// # Errors
///
/// The errors of [`fit`](LogisticRegressionValidParams::fit), [`FitError::NoRecords`] when a
/// group holds every row, and [`FitError::OverlappingGroups`].
///
/// # Panics
///
/// When a group names a row that `features` does not have.
pub fn fit_each_excluding(
    features: &Features,
    labels: &[usize],
    classes: usize,
    params: &LogisticRegressionValidParams,
    groups: &[&[usize]],
) -> Result<Vec<LogisticModel>, FitError> {
    check_input(features, labels, classes)?;
    let rows = features.rows();
    // The group of every row, as the folds of cross-validation: a model holds its group out.
    let mut assignment = vec![usize::MAX; rows];
    for (group, members) in groups.iter().enumerate() {
        for &row in *members {
            assert!(
                row < rows,
                "row {row} of a group, but there are {rows} rows"
            );
            if assignment[row] != usize::MAX {
                return Err(FitError::OverlappingGroups { row });
            }
            assignment[row] = group;
        }
    }
    let members = groups
        .iter()
        .enumerate()
        .map(|(group, members)| {
            let training = rows - members.len();
            if training == 0 {
                return Err(FitError::NoRecords);
            }
            Ok(Member {
                held_out: Some(group),
                rows: training,
                l2: params.0.l2.unwrap_or(1.0 / training as f64),
            })
        })
        .collect::<Result<Vec<Member>, FitError>>()?;
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let l2 = params.0.l2.unwrap_or(1.0 / rows as f64);
    let problem = Problem::new(features, labels, classes, Some(&assignment), l2);
    Ok(problem.train(&members, params.0))
}

/// The out-of-sample probability of every class for every record, by stratified K-fold
/// cross-validation: each fold's records are predicted by a model trained on the other folds
/// (see [`stratified_folds`]).
///
/// These are what confident learning needs: a record's probabilities come from a model that never
/// saw its (possibly flipped) label. The result is `rows x classes`, row-major, in record order,
/// and bit-identical for the same input and seed on the same machine, whatever the number of
/// threads. The K models train together, sharing one pass over the data per L-BFGS step.
pub fn out_of_sample_probabilities(
    features: &Features,
    labels: &[usize],
    classes: usize,
    folds: usize,
    seed: u64,
    params: &LogisticRegressionValidParams,
) -> Result<Vec<f32>, FitError> {
    let rows = features.rows();
    check_input(features, labels, classes)?;
    if folds < 2 || folds > rows {
        return Err(FitError::Folds { folds, rows });
    }
    let assignment = stratified_folds(labels, folds, seed);
    let mut fold_sizes = vec![0usize; folds];
    for &fold in &assignment {
        fold_sizes[fold] += 1;
    }
    let members: Vec<Member> = (0..folds)
        .map(|fold| {
            let training = rows - fold_sizes[fold];
            Member {
                held_out: Some(fold),
                rows: training,
                l2: params.0.l2.unwrap_or(1.0 / training as f64),
            }
        })
        .collect();
    let l2 = params.0.l2.unwrap_or(1.0 / rows as f64);
    let problem = Problem::new(features, labels, classes, Some(&assignment), l2);
    let models = problem.train(&members, params.0);
    for (fold, model) in models.iter().enumerate() {
        tracing::debug!(fold, report = ?model.report, "trained the model that predicts fold");
    }

    // Score every record with every model at once, and keep its own fold's model's scores.
    let unscaled: Vec<(Vec<f64>, Vec<f64>)> = models
        .iter()
        .map(|model| {
            (
                model.weights.iter().map(|w| f64::from(*w)).collect(),
                model.bias.iter().map(|b| f64::from(*b)).collect(),
            )
        })
        .collect();
    let (packed, bias) = problem.pack(&unscaled);
    let width = folds * classes;
    let all_scores = scores(features.data(), rows, features.columns(), &packed, width);
    let mut probabilities = vec![0.0f32; rows * classes];
    probabilities
        .par_chunks_mut(PART_ROWS * classes)
        .zip(all_scores.par_chunks(PART_ROWS * width))
        .enumerate()
        .for_each(|(part, (out, scores))| {
            for (offset, (out, scores)) in out
                .chunks_exact_mut(classes)
                .zip(scores.chunks_exact(width))
                .enumerate()
            {
                let fold = assignment[part * PART_ROWS + offset];
                let range = fold * classes..(fold + 1) * classes;
                out.copy_from_slice(&scores[range.clone()]);
                out.iter_mut().zip(&bias[range]).for_each(|(s, b)| *s += b);
                softmax_in_place(out);
            }
        });
    Ok(probabilities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use antidote_core::math::argmax;

    /// A deterministic stream of numbers in `[0, 1)` (a linear congruential generator), so the
    /// tests need no random crate.
    struct Numbers(u64);

    impl Numbers {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    /// `rows` records of `columns` features around one centre per class, the class cycling.
    fn blobs(rows: usize, columns: usize, classes: usize, spread: f32) -> (Features, Vec<usize>) {
        let mut numbers = Numbers(7);
        let centres: Vec<f32> = (0..classes * columns)
            .map(|_| numbers.next() * 4.0)
            .collect();
        let mut data = Vec::with_capacity(rows * columns);
        let labels: Vec<usize> = (0..rows).map(|row| row % classes).collect();
        for &label in &labels {
            for column in 0..columns {
                data.push(centres[label * columns + column] + spread * (numbers.next() - 0.5));
            }
        }
        (
            Features::from_row_major(rows, columns, data, "x").unwrap(),
            labels,
        )
    }

    fn accuracy(probabilities: &[f32], labels: &[usize], classes: usize) -> f64 {
        let correct = probabilities
            .chunks_exact(classes)
            .zip(labels)
            .filter(|(row, label)| argmax(row) == **label)
            .count();
        correct as f64 / labels.len() as f64
    }

    #[test]
    fn separates_separable_classes() {
        let (features, labels) = blobs(60, 2, 3, 0.2);
        let params = LogisticRegression::params().check().unwrap();
        let model = params.fit(&features, &labels, 3).unwrap();
        let probabilities = model.predict_proba(&features);
        assert_eq!(probabilities.len(), 60 * 3);
        assert!((accuracy(&probabilities, &labels, 3) - 1.0).abs() < f64::EPSILON);
        for row in probabilities.chunks_exact(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        assert_eq!((model.classes(), model.features()), (3, 2));
        assert_eq!((model.weights().len(), model.bias().len()), (6, 3));
        assert!(model.report().iterations > 0);
    }

    /// The objective, computed directly in `f64` from the unscaled weights, for one model that
    /// holds out `held_out` (cross-entropy of the softmax plus the penalty).
    fn direct_objective(problem: &Problem<'_>, member: Member, theta: &[f64]) -> f64 {
        let (weights, bias) = problem.unscale(theta);
        let (features, classes) = (problem.features, problem.classes);
        let mut loss = 0.0;
        for row in 0..problem.rows {
            if member.held_out.is_some() && problem.folds.map(|folds| folds[row]) == member.held_out
            {
                continue;
            }
            let x = &problem.data[row * features..(row + 1) * features];
            let scores: Vec<f64> = (0..classes)
                .map(|class| {
                    bias[class]
                        + (0..features)
                            .map(|feature| {
                                f64::from(x[feature]) * weights[feature * classes + class]
                            })
                            .sum::<f64>()
                })
                .collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = scores.iter().map(|s| (s - max).exp()).sum::<f64>().ln() + max;
            loss += log_sum - scores[problem.labels[row]];
        }
        let penalty: f64 = weights.iter().map(|w| w * w).sum();
        loss / member.rows as f64 + 0.5 * member.l2 * penalty
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (features, labels) = blobs(40, 4, 3, 3.0);
        let folds = stratified_folds(&labels, 2, 1);
        let problem = Problem::new(&features, &labels, 3, Some(&folds), 0.1);
        let members: Vec<Member> = (0..2)
            .map(|fold| Member {
                held_out: Some(fold),
                rows: folds.iter().filter(|&&f| f != fold).count(),
                l2: 0.1 + 0.05 * fold as f64,
            })
            .collect();
        let mut numbers = Numbers(3);
        let thetas: Vec<Vec<f64>> = (0..2)
            .map(|_| {
                (0..problem.parameters())
                    .map(|_| f64::from(numbers.next()) - 0.5)
                    .collect()
            })
            .collect();
        let views: Vec<&[f64]> = thetas.iter().map(Vec::as_slice).collect();
        let results = problem.evaluate(&members, &views);
        let step = 1e-2;
        for (model, (value, gradient)) in results.iter().enumerate() {
            let direct = direct_objective(&problem, members[model], &thetas[model]);
            assert!((value - direct).abs() < 1e-5, "{value} against {direct}");
            for parameter in 0..problem.parameters() {
                let at = |offset: f64| {
                    let mut theta = thetas[model].clone();
                    theta[parameter] += offset;
                    direct_objective(&problem, members[model], &theta)
                };
                let numeric = (at(step) - at(-step)) / (2.0 * step);
                assert!(
                    (numeric - gradient[parameter]).abs() < 1e-3 * numeric.abs().max(1.0),
                    "model {model}, parameter {parameter}: {} against {numeric}",
                    gradient[parameter]
                );
            }
        }
    }

    #[test]
    fn out_of_sample_probabilities_are_deterministic_whatever_the_threads() {
        // More rows than one part, so that partial sums are merged.
        let (features, labels) = blobs(3 * PART_ROWS + 100, 12, 4, 6.0);
        let params = LogisticRegression::params()
            .max_iterations(30)
            .check()
            .unwrap();
        let run = |threads: usize, seed: u64| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    out_of_sample_probabilities(&features, &labels, 4, 5, seed, &params).unwrap()
                })
        };
        let bits = |values: Vec<f32>| values.into_iter().map(f32::to_bits).collect::<Vec<u32>>();
        let reference = bits(run(2, 9));
        assert_eq!(reference, bits(run(2, 9)));
        assert_eq!(reference, bits(run(1, 9)));
        assert_eq!(reference, bits(run(3, 9)));
        assert_ne!(reference, bits(run(2, 10)), "the seed chooses the folds");
    }

    /// Parameters that train to convergence, so that models trained apart and together agree.
    fn converging() -> LogisticRegressionValidParams {
        LogisticRegression::params()
            .l2(1e-2)
            .max_iterations(500)
            .tolerance(1e-7)
            .check()
            .unwrap()
    }

    #[test]
    fn each_fold_is_predicted_by_a_model_trained_on_the_others() {
        let (features, labels) = blobs(90, 3, 3, 4.0);
        let params = converging();
        let probabilities =
            out_of_sample_probabilities(&features, &labels, 3, 3, 5, &params).unwrap();
        let folds = stratified_folds(&labels, 3, 5);
        for fold in 0..3 {
            let training: Vec<usize> = (0..90).filter(|&row| folds[row] != fold).collect();
            let held_out: Vec<usize> = (0..90).filter(|&row| folds[row] == fold).collect();
            let training_labels: Vec<usize> = training.iter().map(|&row| labels[row]).collect();
            let model = params
                .fit(&features.select_rows(&training), &training_labels, 3)
                .unwrap();
            assert!(model.report().converged);
            let expected = model.predict_proba(&features.select_rows(&held_out));
            for (index, &row) in held_out.iter().enumerate() {
                for class in 0..3 {
                    let (got, want) = (probabilities[row * 3 + class], expected[index * 3 + class]);
                    assert!(
                        (got - want).abs() < 1e-3,
                        "row {row} class {class}: {got} against {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn each_model_trained_without_its_group_equals_one_trained_alone() {
        let (features, labels) = blobs(120, 4, 3, 3.0);
        let params = converging();
        let groups: [&[usize]; 3] = [&[0, 3, 6, 9], &[1, 4, 50, 70, 90], &[]];
        let models = fit_each_excluding(&features, &labels, 3, &params, &groups).unwrap();
        assert_eq!(models.len(), 3);
        for (group, model) in groups.iter().zip(&models) {
            let training: Vec<usize> = (0..120).filter(|row| !group.contains(row)).collect();
            let training_labels: Vec<usize> = training.iter().map(|&row| labels[row]).collect();
            let alone = params
                .fit(&features.select_rows(&training), &training_labels, 3)
                .unwrap();
            assert!(model.report().converged && alone.report().converged);
            let (together, apart) = (
                model.predict_proba(&features),
                alone.predict_proba(&features),
            );
            for (got, want) in together.iter().zip(&apart) {
                assert!((got - want).abs() < 1e-3, "{got} against {want}");
            }
        }
        assert!(matches!(
            fit_each_excluding(&features, &labels, 3, &params, &[&[0, 1], &[1, 2]]),
            Err(FitError::OverlappingGroups { row: 1 })
        ));
        let everything: Vec<usize> = (0..120).collect();
        assert!(matches!(
            fit_each_excluding(&features, &labels, 3, &params, &[&everything]),
            Err(FitError::NoRecords)
        ));
        assert!(
            fit_each_excluding(&features, &labels, 3, &params, &[])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let (features, labels) = blobs(10, 2, 2, 1.0);
        let params = LogisticRegression::params().check().unwrap();
        assert_eq!(
            params
                .fit(&features, &labels[..9], 2)
                .unwrap_err()
                .to_string(),
            "9 labels for 10 records"
        );
        assert_eq!(
            params.fit(&features, &labels, 1).unwrap_err().to_string(),
            "record 1 has class index 1, but there are 1 classes"
        );
        let empty = Features::from_row_major(0, 2, Vec::new(), "x").unwrap();
        let mut data = features.data().to_vec();
        data[7] = f32::NAN;
        let broken = Features::from_row_major(10, 2, data, "x").unwrap();
        assert_eq!(
            params.fit(&broken, &labels, 2).unwrap_err().to_string(),
            "record 3 has a feature that is not a finite number (column 1)"
        );
        assert_eq!(params.fit(&empty, &[], 2).unwrap_err(), FitError::NoRecords);
        for folds in [1, 11] {
            assert_eq!(
                out_of_sample_probabilities(&features, &labels, 2, folds, 0, &params).unwrap_err(),
                FitError::Folds { folds, rows: 10 }
            );
        }
        assert_eq!(
            LogisticRegression::params()
                .l2(-1.0)
                .check()
                .unwrap_err()
                .to_string(),
            "`l2` must be a finite number of at least 0, found `-1`"
        );
        assert!(
            LogisticRegression::params()
                .max_iterations(0)
                .check()
                .is_err()
        );
        assert!(
            LogisticRegression::params()
                .tolerance(f64::NAN)
                .check()
                .is_err()
        );
    }

    #[test]
    fn fast_exponential_is_accurate() {
        let mut x = 0.0f32;
        while x > -90.0 {
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            if x < -87.0 {
                assert!(fast == 0.0);
            } else {
                assert!(
                    (fast - exact).abs() <= 4.0 * f32::EPSILON * exact,
                    "{x}: {fast} against {exact}"
                );
            }
            x -= 0.013_7;
        }
        assert!((exp_nonpositive(0.0) - 1.0).abs() < f32::EPSILON);
    }
}
