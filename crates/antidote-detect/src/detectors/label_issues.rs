//! Label issues by confident learning (Northcutt, Jiang and Chuang, 2021).
//!
//! The method in the paper's terms, with the choices cleanlab 2.x makes in
//! `cleanlab.filter.find_label_issues` under its defaults (`filter_by="prune_by_noise_rate"`), which
//! this implementation reproduces record for record:
//!
//! 1. Per-class thresholds `t_j` (section 3.1, eq. 2): the mean probability of class `j` over the
//!    records labelled `j`, floored at `2e-6`; a class nobody is labelled with gets `2`, which no
//!    probability reaches.
//! 2. The confident joint `C[i][j]` (section 3.1, eq. 1): a record labelled `i` counts toward true
//!    class `j` when `p_j >= t_j - 1e-6`. When several classes pass, cleanlab takes the most
//!    probable class of the whole row, where the paper takes the most probable of those that
//!    pass; we follow cleanlab. A record that passes none is not counted. Every diagonal cell is
//!    raised to at least 1.
//! 3. Calibration (section 3.1): each row is rescaled to the number of records with that label,
//!    the matrix to the number of records, and each row is rounded to whole counts that keep its
//!    rounded total.
//! 4. Prune by noise rate (section 3.2, "PBNR"): for each label `i` and each other class `j`, the
//!    `C[i][j]` records labelled `i` with the largest margin `p_j - p_i` are flagged, after
//!    `min_records_per_class` and `noise_fraction` have shrunk the counts.
//! 5. A record whose own label is (within `1e-6`) the model's top class is never flagged.
//!
//! Where cleanlab sorts, ties (equal margins, equal rounding residuals) are broken as a stable
//! sort breaks them. cleanlab itself uses numpy's default sort, which is not stable on every CPU.

use std::cmp::Ordering;
use std::fmt::Write as _;

use antidote_core::math::argmax;
use serde::Serialize;

use crate::detector::{Detector, Need, ScanContext};
use crate::scan::ScanError;
use crate::stats::pairwise_sum;
use crate::{Basis, DetectorId, DetectorReport, Flag};
use antidote_learn::{calibration_temperature, tempered};

/// The command-line id of this detector, also the `source` of its evidence.
pub const DETECTOR_ID: &str = "label-issues";

/// The lowest per-class threshold, so that a class the model never believes in cannot make
/// every record confident in it.
const THRESHOLD_FLOOR: f64 = 2e-6;

/// The threshold of a class no record is labelled with: above any probability.
const ABSENT_CLASS_THRESHOLD: f64 = 2.0;

/// Slack for comparing probabilities, as in cleanlab: a probability this close to a threshold
/// passes it, and a given label this close to the top class counts as the top class.
const PROBABILITY_SLACK: f64 = 1e-6;

/// Probabilities may leave `[0, 1]` by this much (rounding in the model) and still be accepted.
const RANGE_SLACK: f64 = 1e-6;

/// Guards the calibration's divisions, as cleanlab's `TINY_VALUE` does; the totals divided by are
/// whole counts of at least 1, so it never changes a result.
const TINY: f64 = 1e-100;

#[doc = include_str!("label_issues.md")]
#[derive(Debug, Clone, Copy)]
pub struct LabelIssues;

impl LabelIssues {
    /// The parameters with cleanlab's defaults, to adjust and [`check`](LabelIssuesParams::check).
    #[must_use]
    pub fn params() -> LabelIssuesParams {
        LabelIssuesParams::default()
    }
}

/// Unchecked parameters of [`LabelIssues`]; [`check`](Self::check) them to get something that
/// runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelIssuesParams {
    min_records_per_class: usize,
    noise_fraction: f64,
    row_sum_tolerance: f64,
}

impl Default for LabelIssuesParams {
    fn default() -> Self {
        Self {
            min_records_per_class: 1,
            noise_fraction: 1.0,
            row_sum_tolerance: 1e-3,
        }
    }
}

impl LabelIssuesParams {
    /// How many records each class keeps at least (cleanlab's `min_examples_per_class`,
    /// default 1). A class with no more records than this is not examined at all.
    #[must_use]
    pub fn min_records_per_class(mut self, count: usize) -> Self {
        self.min_records_per_class = count;
        self
    }

    /// The fraction of the estimated label noise to flag, in `(0, 1]` (cleanlab's `frac_noise`,
    /// default 1). Lower values flag only the most certain part of each class pair's noise.
    #[must_use]
    pub fn noise_fraction(mut self, fraction: f64) -> Self {
        self.noise_fraction = fraction;
        self
    }

    /// How far a record's probabilities may sum from 1 (default `1e-3`, which accepts
    /// probabilities printed with four or more decimals).
    #[must_use]
    pub fn row_sum_tolerance(mut self, tolerance: f64) -> Self {
        self.row_sum_tolerance = tolerance;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<LabelIssuesValidParams, LabelIssuesParamsError> {
        if !(self.noise_fraction > 0.0 && self.noise_fraction <= 1.0) {
            return Err(LabelIssuesParamsError::NoiseFraction {
                fraction: self.noise_fraction,
            });
        }
        if !(self.row_sum_tolerance >= 0.0 && self.row_sum_tolerance.is_finite()) {
            return Err(LabelIssuesParamsError::RowSumTolerance {
                tolerance: self.row_sum_tolerance,
            });
        }
        Ok(LabelIssuesValidParams { params: self })
    }
}

/// Invalid parameters of [`LabelIssues`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelIssuesParamsError {
    /// The noise fraction is not in `(0, 1]`.
    #[error("the noise fraction must be greater than `0` and at most `1`, not `{fraction}`")]
    NoiseFraction {
        /// The fraction given.
        fraction: f64,
    },
    /// The row-sum tolerance is negative or not finite.
    #[error("the row-sum tolerance must be a finite number of at least `0`, not `{tolerance}`")]
    RowSumTolerance {
        /// The tolerance given.
        tolerance: f64,
    },
}

/// Checked parameters of [`LabelIssues`], ready to [`run`](Self::run).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelIssuesValidParams {
    params: LabelIssuesParams,
}

/// Input the detector cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelIssuesError {
    /// There are no records.
    #[error("there are no records to examine")]
    NoRecords,
    /// Fewer than two classes.
    #[error("confident learning needs at least `2` classes, not `{class_count}`")]
    TooFewClasses {
        /// The number of classes given.
        class_count: usize,
    },
    /// Every record has the same label, so no label can be compared with another.
    #[error("every record is labelled `{label}`; confident learning needs at least two labels")]
    SingleLabel {
        /// The only label.
        label: usize,
    },
    /// The probabilities do not make one row of `class_count` per label.
    #[error(
        "expected `{record_count}` rows of `{class_count}` probabilities (`{expected}` values), found `{found}` values"
    )]
    Shape {
        /// The number of labels.
        record_count: usize,
        /// The number of classes.
        class_count: usize,
        /// `record_count * class_count`.
        expected: usize,
        /// The number of probabilities given.
        found: usize,
    },
    /// A label is not a class index.
    #[error("record `{record}` is labelled `{label}`, but the classes are `0` to `{max_class}`")]
    LabelOutOfRange {
        /// The record's position.
        record: usize,
        /// Its label.
        label: usize,
        /// The highest class index.
        max_class: usize,
    },
    /// A probability is outside `[0, 1]` or not a number.
    #[error("record `{record}` gives class `{class}` the probability `{value}`, outside `[0, 1]`")]
    ProbabilityOutOfRange {
        /// The record's position.
        record: usize,
        /// The class.
        class: usize,
        /// The value.
        value: f64,
    },
    /// A record's probabilities do not sum to 1.
    #[error(
        "record `{record}` has probabilities summing to `{sum}`, not `1` (tolerance `{tolerance}`)"
    )]
    RowSum {
        /// The record's position.
        record: usize,
        /// The sum of its probabilities.
        sum: f64,
        /// The tolerance in force.
        tolerance: f64,
    },
}

/// What the detector found: a verdict and an explanation for every record, and the estimates
/// behind them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelIssuesReport {
    /// Whether each record is flagged, in input order.
    pub flagged: Vec<bool>,
    /// The details of each record, in input order.
    pub records: Vec<LabelIssueRecord>,
    /// The per-class thresholds `t_j` of the paper's eq. 2, after the floor.
    pub class_thresholds: Vec<f64>,
    /// The calibrated confident joint: `confident_joint[i][j]` estimates how many records
    /// labelled `i` truly belong to `j`. Row `i` sums to the number of records labelled `i`
    /// (up to rounding). The same matrix as cleanlab's `compute_confident_joint`.
    pub confident_joint: Vec<Vec<usize>>,
}

/// The details of one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelIssueRecord {
    /// The label the record came with.
    pub given_label: usize,
    /// The probability the model gives the record's own label, which the paper calls its
    /// self-confidence; the lower, the more suspicious.
    pub self_confidence: f64,
    /// The class the model finds most probable (the first one on a tie).
    pub suggested_label: usize,
    /// The probability of the suggested label.
    pub suggested_probability: f64,
    /// One sentence on why the record is, or is not, flagged, with classes as indices.
    pub explanation: String,
}

impl LabelIssuesValidParams {
    /// The minimum number of records per class.
    #[must_use]
    pub fn min_records_per_class(&self) -> usize {
        self.params.min_records_per_class
    }

    /// The fraction of the estimated noise that is flagged.
    #[must_use]
    pub fn noise_fraction(&self) -> f64 {
        self.params.noise_fraction
    }

    /// How far a row of probabilities may sum from 1.
    #[must_use]
    pub fn row_sum_tolerance(&self) -> f64 {
        self.params.row_sum_tolerance
    }

    /// Finds the records whose label is probably wrong.
    ///
    /// `labels[r]` is record `r`'s class index, and `probabilities` holds, row after row, the
    /// `class_count` out-of-sample probabilities of each record (row-major, so record `r`'s
    /// probability of class `j` is `probabilities[r * class_count + j]`).
    pub fn run(
        &self,
        labels: &[usize],
        probabilities: &[f64],
        class_count: usize,
    ) -> Result<LabelIssuesReport, LabelIssuesError> {
        self.validate(labels, probabilities, class_count)?;
        let rows = || probabilities.chunks_exact(class_count);

        let label_counts = count_labels(labels, class_count);
        let thresholds = class_thresholds(labels, probabilities, class_count, &label_counts);
        let raw_joint = confident_counts(labels, probabilities, class_count, &thresholds);
        let joint = calibrate(&raw_joint, &label_counts);
        let prune = prune_counts(
            &joint,
            self.params.min_records_per_class,
            self.params.noise_fraction,
        );

        let mut flagged = prune_by_noise_rate(
            labels,
            probabilities,
            class_count,
            &prune,
            self.params.min_records_per_class,
        );
        for ((flag, row), &label) in flagged.iter_mut().zip(rows()).zip(labels) {
            if *flag && given_label_is_top(row, label) {
                *flag = false;
            }
        }

        let records = rows()
            .zip(labels)
            .zip(&flagged)
            .map(|((row, &label), &is_flagged)| {
                let suggested = argmax(row);
                let mut record = LabelIssueRecord {
                    given_label: label,
                    self_confidence: row[label],
                    suggested_label: suggested,
                    suggested_probability: row[suggested],
                    explanation: String::new(),
                };
                record.explanation =
                    explain(&record, is_flagged, &thresholds, &|class| class.to_string());
                record
            })
            .collect();

        Ok(LabelIssuesReport {
            flagged,
            records,
            class_thresholds: thresholds,
            confident_joint: joint,
        })
    }

    fn validate(
        &self,
        labels: &[usize],
        probabilities: &[f64],
        class_count: usize,
    ) -> Result<(), LabelIssuesError> {
        if labels.is_empty() {
            return Err(LabelIssuesError::NoRecords);
        }
        if class_count < 2 {
            return Err(LabelIssuesError::TooFewClasses { class_count });
        }
        let expected = labels.len().checked_mul(class_count);
        if expected != Some(probabilities.len()) {
            return Err(LabelIssuesError::Shape {
                record_count: labels.len(),
                class_count,
                expected: expected.unwrap_or(usize::MAX),
                found: probabilities.len(),
            });
        }
        if let Some((record, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &label)| label >= class_count)
        {
            return Err(LabelIssuesError::LabelOutOfRange {
                record,
                label,
                max_class: class_count - 1,
            });
        }
        if labels.iter().all(|&label| label == labels[0]) {
            return Err(LabelIssuesError::SingleLabel { label: labels[0] });
        }
        let tolerance = self.params.row_sum_tolerance;
        for (record, row) in probabilities.chunks_exact(class_count).enumerate() {
            for (class, &value) in row.iter().enumerate() {
                if !(-RANGE_SLACK..=1.0 + RANGE_SLACK).contains(&value) {
                    return Err(LabelIssuesError::ProbabilityOutOfRange {
                        record,
                        class,
                        value,
                    });
                }
            }
            let sum: f64 = row.iter().sum();
            if (sum - 1.0).abs() > tolerance {
                return Err(LabelIssuesError::RowSum {
                    record,
                    sum,
                    tolerance,
                });
            }
        }
        Ok(())
    }
}

impl LabelIssuesReport {
    /// The number of flagged records.
    #[must_use]
    pub fn flagged_count(&self) -> usize {
        self.flagged.iter().filter(|&&flag| flag).count()
    }

    /// The positions of the flagged records, in input order.
    #[must_use]
    pub fn flagged_indices(&self) -> Vec<usize> {
        self.flagged
            .iter()
            .enumerate()
            .filter_map(|(record, &flag)| flag.then_some(record))
            .collect()
    }

    /// The estimated noise matrix: `noise_matrix()[i][j]` is the probability that a record of
    /// true class `j` is labelled `i`, the confident joint normalised per column. A class no
    /// record is estimated to belong to gets an identity column.
    #[must_use]
    pub fn noise_matrix(&self) -> Vec<Vec<f64>> {
        let class_count = self.confident_joint.len();
        let column_totals: Vec<usize> = (0..class_count)
            .map(|truth| self.confident_joint.iter().map(|row| row[truth]).sum())
            .collect();
        self.confident_joint
            .iter()
            .enumerate()
            .map(|(given, row)| {
                row.iter()
                    .zip(&column_totals)
                    .enumerate()
                    .map(|(truth, (&count, &total))| match total {
                        0 if given == truth => 1.0,
                        0 => 0.0,
                        _ => count as f64 / total as f64,
                    })
                    .collect()
            })
            .collect()
    }

    /// Record `record`'s explanation with class names instead of indices; a class without a
    /// name keeps its index.
    ///
    /// # Panics
    ///
    /// If `record` is not a record of this report.
    #[must_use]
    pub fn explanation_with_names<S: AsRef<str>>(
        &self,
        record: usize,
        class_names: &[S],
    ) -> String {
        let name = |class: usize| {
            class_names
                .get(class)
                .map_or_else(|| class.to_string(), |name| name.as_ref().to_owned())
        };
        explain(
            &self.records[record],
            self.flagged[record],
            &self.class_thresholds,
            &name,
        )
    }
}

/// How many records carry each label.
fn count_labels(labels: &[usize], class_count: usize) -> Vec<usize> {
    let mut counts = vec![0; class_count];
    for &label in labels {
        counts[label] += 1;
    }
    counts
}

/// The per-class thresholds of eq. 2: the mean probability of class `j` among the records
/// labelled `j`. The mean is numpy's (pairwise sum, then division) so that thresholds match
/// cleanlab's to the bit.
fn class_thresholds(
    labels: &[usize],
    probabilities: &[f64],
    class_count: usize,
    label_counts: &[usize],
) -> Vec<f64> {
    let mut own_probabilities: Vec<Vec<f64>> = label_counts
        .iter()
        .map(|&count| Vec::with_capacity(count))
        .collect();
    for (row, &label) in probabilities.chunks_exact(class_count).zip(labels) {
        own_probabilities[label].push(row[label]);
    }
    own_probabilities
        .iter()
        .map(|values| {
            if values.is_empty() {
                ABSENT_CLASS_THRESHOLD
            } else {
                (pairwise_sum(values) / values.len() as f64).max(THRESHOLD_FLOOR)
            }
        })
        .collect()
}

/// The uncalibrated confident joint of eq. 1, with the diagonal raised to at least 1 so that
/// every class keeps one correctly labelled record.
fn confident_counts(
    labels: &[usize],
    probabilities: &[f64],
    class_count: usize,
    thresholds: &[f64],
) -> Vec<Vec<usize>> {
    let cutoffs: Vec<f64> = thresholds
        .iter()
        .map(|threshold| threshold - PROBABILITY_SLACK)
        .collect();
    let mut joint = vec![vec![0; class_count]; class_count];
    for (row, &label) in probabilities.chunks_exact(class_count).zip(labels) {
        let mut confident = row
            .iter()
            .zip(&cutoffs)
            .enumerate()
            .filter(|&(_, (probability, cutoff))| probability >= cutoff)
            .map(|(class, _)| class);
        let Some(first) = confident.next() else {
            // Confident in no class: an outlier, left out of the counts.
            continue;
        };
        // Confident in several classes: the row's top class, even if it is not among them.
        let truth = if confident.next().is_some() {
            argmax(row)
        } else {
            first
        };
        joint[label][truth] += 1;
    }
    for (class, row) in joint.iter_mut().enumerate() {
        row[class] = row[class].max(1);
    }
    joint
}

/// Calibration of eq. 3: row `i` is rescaled to the number of records labelled `i`, then the
/// matrix to the number of records, and each row is rounded to whole counts keeping its total.
///
/// The operations and their order follow cleanlab's `calibrate_confident_joint`, including the
/// column-major order of the grand total, so that the rounded counts are the same.
fn calibrate(joint: &[Vec<usize>], label_counts: &[usize]) -> Vec<Vec<usize>> {
    let class_count = joint.len();
    let record_count: usize = label_counts.iter().sum();
    let rescaled: Vec<Vec<f64>> = joint
        .iter()
        .zip(label_counts)
        .map(|(row, &label_count)| {
            let row_total = (row.iter().sum::<usize>() as f64).max(TINY);
            row.iter()
                .map(|&count| count as f64 / row_total * label_count as f64)
                .collect()
        })
        .collect();
    let column_major: Vec<f64> = (0..class_count)
        .flat_map(|truth| rescaled.iter().map(move |row| row[truth]))
        .collect();
    let grand_total = pairwise_sum(&column_major).max(TINY);
    rescaled
        .iter()
        .map(|row| {
            let scaled: Vec<f64> = row
                .iter()
                .map(|value| value / grand_total * record_count as f64)
                .collect();
            round_keeping_total(&scaled)
        })
        .collect()
}

/// Rounds each value to the nearest whole number (ties to even), then moves some of them by one
/// until they add up to the rounded total of the originals: up, those rounded down the most; down,
/// those rounded up the most. This is cleanlab's `round_preserving_sum`, with ties ordered as a
/// stable sort orders them.
fn round_keeping_total(values: &[f64]) -> Vec<usize> {
    let mut rounded: Vec<f64> = values.iter().map(|value| value.round_ties_even()).collect();
    let target = pairwise_sum(values).round_ties_even();
    let mut total = pairwise_sum(&rounded).round_ties_even();
    while (total - target).abs() > PROBABILITY_SLACK {
        let gap = (target - total).round_ties_even();
        let step = if gap < 0.0 { -1.0 } else { 1.0 };
        let changes = (gap.abs() as usize).min(values.len());
        let residuals: Vec<f64> = values.iter().zip(&rounded).map(|(v, r)| v - r).collect();
        // Ascending residuals, equal ones in input order (a stable sort). Rounding up takes this
        // order reversed (the values rounded down the most, the last of equals first); rounding
        // down takes it as it is (the values rounded up the most, the first of equals first).
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| {
            residuals[a]
                .partial_cmp(&residuals[b])
                .unwrap_or(Ordering::Equal)
        });
        if step > 0.0 {
            order.reverse();
        }
        for &index in order.iter().take(changes) {
            rounded[index] += step;
        }
        total = pairwise_sum(&rounded).round_ties_even();
    }
    rounded
        .iter()
        .map(|&value| value.max(0.0) as usize)
        .collect()
}

/// How many records labelled `i` to flag as truly `j`, for each pair (`prune[i][j]`, `i != j`):
/// the calibrated joint, lowered so that each class keeps at least `min_records` confidently
/// correct records, then scaled by `noise_fraction` and truncated. Follows cleanlab's
/// `_keep_at_least_n_per_class` and `_reduce_prune_counts`, including their arithmetic.
fn prune_counts(joint: &[Vec<usize>], min_records: usize, noise_fraction: f64) -> Vec<Vec<usize>> {
    joint
        .iter()
        .enumerate()
        .map(|(given, row)| {
            let correct = row[given];
            let shortfall = min_records.saturating_sub(correct);
            // The shortfall is taken evenly from the other cells, counting every non-zero cell
            // but one (the diagonal, even when it is the zero one).
            let nonzero = row.iter().filter(|&&count| count != 0).count();
            let share = shortfall as f64 / (nonzero as f64 - 1.0).max(1.0);
            row.iter()
                .enumerate()
                .map(|(truth, &count)| {
                    if truth == given {
                        // Not a count of records to flag; pruning by noise rate never reads it.
                        return 0;
                    }
                    let lowered = (count as f64 - share).max(0.0);
                    (lowered * noise_fraction) as usize
                })
                .collect()
        })
        .collect()
}

/// Section 3.2's prune by noise rate: among the records labelled `i`, flags the `prune[i][j]`
/// with the largest margin `p_j - p_i`, for every other class `j`. A class with no more than
/// `min_records` records (and never fewer than 2) is left alone.
fn prune_by_noise_rate(
    labels: &[usize],
    probabilities: &[f64],
    class_count: usize,
    prune: &[Vec<usize>],
    min_records: usize,
) -> Vec<bool> {
    let mut flagged = vec![false; labels.len()];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); class_count];
    for (record, &label) in labels.iter().enumerate() {
        members[label].push(record);
    }
    // A class of one record is never examined, even with `min_records_per_class(0)`.
    let examined_minimum = min_records.max(1);
    for (given, records) in members.iter().enumerate() {
        if records.len() <= examined_minimum {
            continue;
        }
        for (truth, &count) in prune[given].iter().enumerate() {
            if truth == given || count == 0 {
                continue;
            }
            let mut by_margin: Vec<(f64, usize)> = records
                .iter()
                .map(|&record| {
                    let row = &probabilities[record * class_count..(record + 1) * class_count];
                    (row[truth] - row[given], record)
                })
                .collect();
            // Largest margin first; a stable sort keeps input order among equal margins.
            by_margin.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
            for &(_, record) in by_margin.iter().take(count) {
                flagged[record] = true;
            }
        }
    }
    flagged
}

/// Whether the given label is the row's top class once it gets `1e-6` of slack (on a tie, the
/// first class wins, as numpy's `argmax` decides).
fn given_label_is_top(row: &[f64], label: usize) -> bool {
    let boosted = row[label] + PROBABILITY_SLACK;
    row[..label].iter().all(|&value| value < boosted)
        && row[label + 1..].iter().all(|&value| value <= boosted)
}

fn explain(
    record: &LabelIssueRecord,
    flagged: bool,
    thresholds: &[f64],
    class_name: &dyn Fn(usize) -> String,
) -> String {
    let given = class_name(record.given_label);
    let own = format_probability(record.self_confidence);
    let mut text = String::new();
    if flagged {
        let suggested = record.suggested_label;
        let _ = write!(
            text,
            "labelled `{given}` but the model gives it {own} and gives `{}` {} (threshold for `{}`: {})",
            class_name(suggested),
            format_probability(record.suggested_probability),
            class_name(suggested),
            format_probability(thresholds[suggested]),
        );
    } else if record.suggested_label == record.given_label {
        let _ = write!(text, "labelled `{given}` and the model agrees ({own})");
    } else {
        let _ = write!(
            text,
            "labelled `{given}`; the model prefers `{}` ({} against {own}), but not confidently enough to flag",
            class_name(record.suggested_label),
            format_probability(record.suggested_probability),
        );
    }
    text
}

/// Two decimals, or one significant digit for a small non-zero probability that two decimals
/// would show as `0.00`.
fn format_probability(probability: f64) -> String {
    if probability > 0.0 && probability < 0.005 {
        format!("{probability:.0e}")
    } else {
        format!("{probability:.2}")
    }
}

impl Detector for LabelIssues {
    fn id(&self) -> DetectorId {
        DetectorId::LabelIssues
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Classes]
    }

    fn explanation_markdown(&self) -> &'static str {
        include_str!("label_issues.md")
    }

    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError> {
        let (labels, learned) = context.classes();
        Ok(context.stage(DetectorId::LabelIssues, || {
            scan_report(labels, &learned.probabilities, context.class_names)
        }))
    }
}

/// The scan's report: cleanlab's flagged set, each flag's confidence the calibrated margin of
/// the suggested class over the given label.
fn scan_report(labels: &[usize], probabilities: &[f32], class_names: &[String]) -> DetectorReport {
    let classes = class_names.len();
    let wide: Vec<f64> = probabilities
        .iter()
        .map(|&value| f64::from(value))
        .collect();
    let detector = LabelIssues::params()
        .check()
        .expect("valid default parameters");
    let found = match detector.run(labels, &wide, classes) {
        Ok(found) => found,
        Err(error) => return DetectorReport::skipped(DetectorId::LabelIssues, error.to_string()),
    };
    let mut report = DetectorReport::new(DetectorId::LabelIssues);
    let temperature = calibration_temperature(labels, &wide, classes);
    report.scores = found
        .records
        .iter()
        .map(|record| 1.0 - record.self_confidence)
        .collect();
    for (index, record) in found.records.iter().enumerate() {
        if !found.flagged[index] {
            continue;
        }
        // How far the model prefers the suggested class: a confident, wide margin is a likely
        // flip; a narrow one an ambiguous record. Measured on probabilities calibrated to the
        // model's real accuracy, so that an over-confident model on hard data (a network on five
        // categories of quotations) does not make every doubtful label look certain. The
        // flagged set itself stays cleanlab's.
        let row = &wide[index * classes..(index + 1) * classes];
        let calibrated = |class: usize| tempered(row, class, temperature);
        let margin = calibrated(record.suggested_label) - calibrated(labels[index]);
        report.flags.push(
            Flag::new(
                index,
                margin.clamp(0.05, 0.99),
                found.explanation_with_names(index, class_names),
            )
            .with_basis(Basis::LabelIssue {
                given: labels[index],
                suggested: record.suggested_label,
            }),
        );
    }
    let flagged = report.flags.len();
    report.notes.push(format!(
        "{flagged} records flagged by confident learning over {classes} classes; confidences from probabilities calibrated at temperature {temperature:.2}"
    ));
    report
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact doubles")]
mod tests {
    use super::*;

    fn detector() -> LabelIssuesValidParams {
        LabelIssues::params().check().unwrap()
    }

    /// Four records per class of three, each confidently and correctly predicted.
    fn clean_dataset() -> (Vec<usize>, Vec<[f64; 3]>) {
        let mut labels = Vec::new();
        let mut rows = Vec::new();
        for class in 0..3 {
            for confidence in [0.9, 0.85, 0.8, 0.9] {
                let mut row = [(1.0 - confidence) / 2.0; 3];
                row[class] = confidence;
                labels.push(class);
                rows.push(row);
            }
        }
        (labels, rows)
    }

    fn run(labels: &[usize], rows: &[[f64; 3]]) -> LabelIssuesReport {
        detector().run(labels, rows.as_flattened(), 3).unwrap()
    }

    #[test]
    fn confident_correct_predictions_flag_nothing() {
        let (labels, rows) = clean_dataset();
        let report = run(&labels, &rows);
        assert_eq!(report.flagged_count(), 0);
        assert_eq!(
            report.confident_joint,
            [[4, 0, 0], [0, 4, 0], [0, 0, 4]].map(Vec::from)
        );
        assert_eq!(
            report.records[0].explanation,
            "labelled `0` and the model agrees (0.90)"
        );
    }

    #[test]
    fn a_clearly_flipped_record_is_flagged() {
        let (mut labels, mut rows) = clean_dataset();
        labels.push(0);
        rows.push([0.02, 0.96, 0.02]);
        let report = run(&labels, &rows);
        assert_eq!(report.flagged_indices(), [12]);
        let record = &report.records[12];
        assert_eq!(
            (record.given_label, record.suggested_label),
            (0, 1),
            "{record:?}"
        );
        assert_eq!(record.self_confidence, 0.02);
        assert_eq!(
            record.explanation,
            "labelled `0` but the model gives it 0.02 and gives `1` 0.96 (threshold for `1`: 0.86)"
        );
        // One record labelled `0` is estimated to be a `1`.
        assert_eq!(report.confident_joint[0], [4, 1, 0]);
    }

    #[test]
    fn thresholds_are_the_mean_own_probability_and_unreachable_for_an_absent_class() {
        let labels = [0, 0, 1, 1];
        let rows = [
            [0.75, 0.25, 0.0, 0.0],
            [0.25, 0.5, 0.25, 0.0],
            [0.5, 0.5, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ];
        let report = detector().run(&labels, rows.as_flattened(), 4).unwrap();
        assert_eq!(report.class_thresholds, [0.5, 0.25, 2.0, 2.0]);
    }

    #[test]
    fn a_class_with_a_single_record_is_not_examined() {
        let (mut labels, mut rows) = clean_dataset();
        labels.truncate(8);
        rows.truncate(8);
        // The only record labelled `2`, and the model is sure it is a `0`.
        labels.push(2);
        rows.push([0.96, 0.02, 0.02]);
        for min_records in [0, 1] {
            let report = LabelIssues::params()
                .min_records_per_class(min_records)
                .check()
                .unwrap()
                .run(&labels, rows.as_flattened(), 3)
                .unwrap();
            assert_eq!(
                report.flagged_count(),
                0,
                "min_records_per_class {min_records}"
            );
            assert_eq!(report.class_thresholds[2], 0.02);
        }
    }

    #[test]
    fn equal_margins_flag_the_earlier_record() {
        // Records 3 and 4 are labelled `0` and both lean to `1` by a margin of exactly 0.625, but
        // only record 4 passes the threshold of `1` (0.6875), so the confident joint estimates a
        // single mislabelled record and the tie decides which. Like a stable sort, the detector
        // takes the earlier one; cleanlab leaves the choice to numpy's unstable `argsort`.
        let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
        let mut rows = vec![[0.75, 0.125, 0.125]; 3];
        rows.push([0.0, 0.625, 0.375]);
        rows.push([0.125, 0.75, 0.125]);
        rows.extend([[0.156_25, 0.6875, 0.156_25]; 4]);
        rows.extend([[0.0625, 0.0625, 0.875]; 4]);
        let report = run(&labels, &rows);
        assert_eq!(report.confident_joint[0], [4, 1, 0]);
        assert_eq!(report.flagged_indices(), [3]);
    }

    #[test]
    fn a_given_label_tied_with_the_top_class_is_never_flagged() {
        assert!(given_label_is_top(&[0.5, 0.5, 0.0], 0));
        assert!(given_label_is_top(&[0.5, 0.5, 0.0], 1));
        assert!(given_label_is_top(&[0.499_999_5, 0.500_000_4, 0.0], 0));
        assert!(!given_label_is_top(&[0.4, 0.6, 0.0], 0));
        assert_eq!(argmax(&[0.25, 0.5, 0.25, 0.5]), 1);
    }

    #[test]
    fn rounding_keeps_row_totals_and_orders_ties_like_a_stable_sort() {
        // Known answers from cleanlab's `round_preserving_sum` with a stable `argsort`. On the
        // first, numpy 2's default `argsort` on an AVX-512 CPU gives `[3, 2, 0, 0]` instead.
        assert_eq!(round_keeping_total(&[2.5, 2.5, 0.0, 0.0]), [2, 3, 0, 0]);
        assert_eq!(round_keeping_total(&[0.5, 0.5, 1.5, 2.5]), [0, 0, 2, 3]);
        assert_eq!(round_keeping_total(&[0.4; 5]), [0, 0, 0, 1, 1]);
        assert_eq!(round_keeping_total(&[0.6; 5]), [0, 0, 1, 1, 1]);
        assert_eq!(round_keeping_total(&[3.2, 0.0, 1.7]), [3, 0, 2]);
    }

    #[test]
    fn prune_counts_make_room_for_the_minimum_and_scale_by_the_noise_fraction() {
        let joint = [vec![0, 3, 1], vec![2, 5, 0], vec![1, 1, 6]].to_vec();
        // Row 0 misses 2 correct records; its two non-zero cells count as one, so each loses 2.
        assert_eq!(
            prune_counts(&joint, 2, 1.0),
            [vec![0, 1, 0], vec![2, 0, 0], vec![1, 1, 0]]
        );
        assert_eq!(
            prune_counts(&joint, 1, 0.5),
            [vec![0, 1, 0], vec![1, 0, 0], vec![0, 0, 0]]
        );
    }

    #[test]
    fn a_lower_noise_fraction_flags_fewer_records() {
        let (mut labels, mut rows) = clean_dataset();
        labels.extend([0, 0]);
        rows.extend([[0.02, 0.96, 0.02], [0.03, 0.94, 0.03]]);
        assert_eq!(run(&labels, &rows).flagged_indices(), [12, 13]);
        let half = LabelIssues::params()
            .noise_fraction(0.5)
            .check()
            .unwrap()
            .run(&labels, rows.as_flattened(), 3)
            .unwrap();
        assert_eq!(half.flagged_indices(), [12]);
    }

    #[test]
    fn reports_name_classes() {
        let (mut labels, mut rows) = clean_dataset();
        labels.push(0);
        rows.push([0.02, 0.96, 0.02]);
        let report = run(&labels, &rows);
        assert_eq!(
            report.explanation_with_names(12, &["shirt", "coat"]),
            "labelled `shirt` but the model gives it 0.02 and gives `coat` 0.96 (threshold for `coat`: 0.86)"
        );
        assert_eq!(report.flagged_indices(), [12]);

        let noise = report.noise_matrix();
        for truth in 0..3 {
            let column: f64 = noise.iter().map(|row| row[truth]).sum();
            assert!((column - 1.0).abs() < 1e-12);
        }
        assert_eq!(noise[0][1], 1.0 / 5.0);
    }

    #[test]
    fn small_probabilities_keep_one_significant_digit() {
        assert_eq!(format_probability(0.0), "0.00");
        assert_eq!(format_probability(0.0004), "4e-4");
        assert_eq!(format_probability(0.04), "0.04");
        assert_eq!(format_probability(0.906), "0.91");
    }

    #[test]
    fn params_are_checked() {
        for fraction in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                LabelIssues::params().noise_fraction(fraction).check(),
                Err(LabelIssuesParamsError::NoiseFraction { .. })
            ));
        }
        for tolerance in [-1e-3, f64::INFINITY, f64::NAN] {
            assert!(matches!(
                LabelIssues::params().row_sum_tolerance(tolerance).check(),
                Err(LabelIssuesParamsError::RowSumTolerance { .. })
            ));
        }
        assert_eq!(
            LabelIssues::params()
                .noise_fraction(2.0)
                .check()
                .unwrap_err()
                .to_string(),
            "the noise fraction must be greater than `0` and at most `1`, not `2`"
        );
        let valid = LabelIssues::params()
            .min_records_per_class(5)
            .noise_fraction(0.5)
            .row_sum_tolerance(0.0)
            .check()
            .unwrap();
        assert_eq!(valid.min_records_per_class(), 5);
        assert_eq!(valid.noise_fraction(), 0.5);
        assert_eq!(valid.row_sum_tolerance(), 0.0);
    }

    #[test]
    fn inputs_are_checked() {
        let detector = detector();
        let two = [0.5, 0.5, 0.5, 0.5];
        assert_eq!(detector.run(&[], &[], 2), Err(LabelIssuesError::NoRecords));
        assert_eq!(
            detector.run(&[0, 0], &[1.0, 1.0], 1),
            Err(LabelIssuesError::TooFewClasses { class_count: 1 })
        );
        assert_eq!(
            detector.run(&[0, 1], &two[..3], 2),
            Err(LabelIssuesError::Shape {
                record_count: 2,
                class_count: 2,
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            detector.run(&[0, 2], &two, 2),
            Err(LabelIssuesError::LabelOutOfRange {
                record: 1,
                label: 2,
                max_class: 1
            })
        );
        assert_eq!(
            detector.run(&[1, 1], &two, 2),
            Err(LabelIssuesError::SingleLabel { label: 1 })
        );
        assert_eq!(
            detector.run(&[0, 1], &[0.5, 0.5, 1.5, -0.5], 2),
            Err(LabelIssuesError::ProbabilityOutOfRange {
                record: 1,
                class: 0,
                value: 1.5
            })
        );
        assert!(matches!(
            detector.run(&[0, 1], &[0.5, 0.5, f64::NAN, 0.5], 2),
            Err(LabelIssuesError::ProbabilityOutOfRange {
                record: 1,
                class: 0,
                ..
            })
        ));
        let error = detector
            .run(&[0, 1], &[0.5, 0.5, 0.5, 0.25], 2)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "record `1` has probabilities summing to `0.75`, not `1` (tolerance `0.001`)"
        );
        // Within the tolerance, and a hair outside `[0, 1]`, is accepted.
        assert!(
            detector
                .run(&[0, 1], &[0.5, 0.5, 1.000_000_5, -0.000_000_5], 2)
                .is_ok()
        );
    }
}
