//! The scan: every detector over one dataset, fused into one verdict.
//!
//! The pipeline, in order (each stage is reported to [`Progress`]):
//!
//! 1. labels and classes ([`LabelIndex`]);
//! 2. features ([`Featurizer`]: pixels, standardised numbers, hashed categories and text);
//! 3. out-of-sample probabilities by stratified K-fold logistic regression, unless the caller
//!    brings its own;
//! 4. a small network trained on all the data; its penultimate activations are the
//!    representation the backdoor detectors read (or the caller's embedding column), and it is the
//!    model trigger search stamps candidates against;
//! 5. the detectors, then source trust over the union of their flags;
//! 6. fusion and the policy's verdict.
//!
//! Detectors that need what the data lacks (labels, images, text, sources) are skipped with a
//! note saying why, never silently.

use std::collections::BTreeSet;
use std::time::Instant;

use antidote_core::{NoProgress, Progress, ProgressUnit, SplitMix64};
use antidote_data::{ColumnKind, Record, Role, Schema, Value};
use antidote_learn::{
    Features, Featurizer, LabelIndex, LogisticModel, LogisticRegression,
    LogisticRegressionValidParams, Mlp, stratified_folds,
};
use serde::{Deserialize, Serialize};

use crate::detectors::activation_clustering::ActivationClustering;
use crate::detectors::spectral::SpectralSignatures;
use crate::fusion::{FusedRecord, fuse};
use crate::policy::{Policy, Verdict};
use crate::{
    DetectorId, DetectorReport, Duplicates, Flag, InstructionPoisoning, LabelIssues, Outliers,
    PredictError, Predictor, Reclassifier, SourceTrust, TriggerColumn, TriggerSearch,
};

/// What to scan and with which help.
#[derive(Debug, Clone, Copy)]
pub struct ScanInput<'a> {
    /// The records, in order.
    pub records: &'a [Record],
    /// Their schema.
    pub schema: &'a Schema,
    /// The caller's out-of-sample probabilities, row-major in record order, one column per class
    /// in [`LabelIndex`] order; `None` to compute them.
    pub probabilities: Option<&'a [f32]>,
    /// A column of numeric vectors to use as the representation instead of the network's.
    pub embedding: Option<&'a str>,
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The seed of every random choice (folds, network, sampling).
    pub seed: u64,
    /// Folds of the out-of-sample probabilities.
    pub folds: usize,
    /// The detectors to run.
    pub detectors: BTreeSet<DetectorId>,
    /// What is quarantined and when the data fails.
    pub policy: Policy,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            folds: 5,
            detectors: DetectorId::ALL.into_iter().collect(),
            policy: Policy::default(),
        }
    }
}

/// How long a stage took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// The stage.
    pub stage: String,
    /// Seconds.
    pub seconds: f64,
}

/// The models the scan trained, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Models {
    /// Accuracy of the out-of-sample predictions against the given labels.
    pub out_of_sample_accuracy: Option<f64>,
    /// Whether the out-of-sample probabilities came from the caller.
    pub probabilities_given: bool,
    /// Training accuracy of the network.
    pub network_training_accuracy: Option<f64>,
    /// Where the representation came from: `network` or `embedding <column>`.
    pub representation: Option<String>,
    /// The representation's width.
    pub representation_width: Option<usize>,
}

/// Everything a scan found.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Class names by index (empty for unlabelled data).
    pub class_names: Vec<String>,
    /// Each record's class index, when the data is labelled.
    pub labels: Option<Vec<usize>>,
    /// One report per detector, in running order (skipped detectors say why in their notes).
    pub reports: Vec<DetectorReport>,
    /// The flagged records, highest fused score first.
    pub fused: Vec<FusedRecord>,
    /// The policy's decision.
    pub verdict: Verdict,
    /// The models behind the detectors.
    pub models: Models,
    /// Stage timings.
    pub timings: Vec<Timing>,
}

impl Scan {
    /// The name of class `index`.
    #[must_use]
    pub fn class_name(&self, index: usize) -> String {
        self.class_names
            .get(index)
            .cloned()
            .unwrap_or_else(|| index.to_string())
    }

    /// The report of `detector`, if it ran or was skipped.
    #[must_use]
    pub fn report(&self, detector: DetectorId) -> Option<&DetectorReport> {
        self.reports
            .iter()
            .find(|report| report.detector == detector)
    }
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// No records.
    #[error("the dataset has no records")]
    NoRecords,
    /// The caller's probabilities do not fit.
    #[error(
        "the given probabilities have {found} values, expected {expected} ({records} records x {classes} classes)"
    )]
    ProbabilityShape {
        /// Values given.
        found: usize,
        /// Values expected.
        expected: usize,
        /// Records.
        records: usize,
        /// Classes.
        classes: usize,
    },
    /// The embedding column is missing or not a vector in some record.
    #[error("record `{id}`: the embedding column `{column}` does not hold a list of numbers")]
    Embedding {
        /// The record.
        id: String,
        /// The column.
        column: String,
    },
    /// Features could not be made.
    #[error("could not featurize the records")]
    Featurize(#[from] antidote_learn::FeaturizeError),
    /// A model could not be trained.
    #[error("could not train the built-in model")]
    Fit(#[from] antidote_learn::FitError),
    /// Labels could not be encoded.
    #[error("could not encode the labels")]
    Labels(#[from] antidote_learn::LabelError),
}

/// Runs a scan.
///
/// # Errors
///
/// [`ScanError`] when there are no records, the caller's probabilities or embedding do not fit
/// the data, or the built-in models cannot be trained on it. A detector that cannot run on this
/// data is not an error: its report says why it was skipped.
pub fn scan(
    input: ScanInput<'_>,
    options: &ScanOptions,
    progress: &dyn Progress,
) -> Result<Scan, ScanError> {
    let records = input.records;
    if records.is_empty() {
        return Err(ScanError::NoRecords);
    }
    let mut timings = Vec::new();
    let mut clock = Clock::new(&mut timings);
    let enabled = |detector: DetectorId| options.detectors.contains(&detector);

    let labelled = records
        .iter()
        .filter(|record| record.label.is_some())
        .count();
    let (class_names, labels) = if labelled == records.len() {
        let index = LabelIndex::from_records(records);
        let labels = index.encode(records)?;
        (index.labels().to_vec(), Some(labels))
    } else {
        (Vec::new(), None)
    };
    let class_count = class_names.len();
    let mut models = Models::default();

    // Features and models, only for labelled data with at least two classes.
    let learned = match labels.as_deref() {
        Some(labels) if class_count >= 2 => Some(learn(
            input,
            labels,
            class_count,
            options,
            progress,
            &mut clock,
            &mut models,
        )?),
        _ => None,
    };
    let context = Context {
        records,
        schema: input.schema,
        class_names: &class_names,
        options,
        progress,
    };
    let skip_reason = || not_learnable(labels.is_some(), class_count);

    let mut reports = Vec::new();
    for detector in DetectorId::ALL {
        if !enabled(detector) || detector == DetectorId::SourceTrust {
            continue;
        }
        let report = match (detector, &learned, labels.as_deref()) {
            (DetectorId::Duplicates, _, labels) => context.duplicates(labels, input.embedding),
            (DetectorId::InstructionPoisoning, _, _) => context.instruction(),
            (_, Some(learned), Some(labels)) => match detector {
                DetectorId::LabelIssues => context.label_issues(labels, &learned.probabilities),
                DetectorId::Outliers => context.outliers(labels, learned),
                DetectorId::SpectralSignatures | DetectorId::ActivationClustering
                    if learned.text_only && input.embedding.is_none() =>
                {
                    DetectorReport::skipped(detector, TEXT_GEOMETRY)
                }
                DetectorId::SpectralSignatures | DetectorId::ActivationClustering => {
                    context.backdoor_geometry(detector, labels, learned)
                }
                DetectorId::TriggerSearch => context.trigger_search(labels, learned)?,
                _ => unreachable!("handled above"),
            },
            _ => DetectorReport::skipped(detector, skip_reason()),
        };
        clock.lap(detector.name());
        reports.push(report);
    }
    if enabled(DetectorId::SourceTrust) {
        reports.push(context.source_trust(&reports));
        clock.lap(DetectorId::SourceTrust.name());
    }

    let mut fused = fuse(&reports);
    let name = |class: usize| {
        class_names
            .get(class)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    };
    let verdict = options
        .policy
        .decide(records.len(), &mut fused, &reports, &name);
    Ok(Scan {
        class_names: class_names.clone(),
        labels,
        reports,
        fused,
        verdict,
        models,
        timings,
    })
}

/// Features, out-of-sample probabilities, the network and the representation.
fn learn(
    input: ScanInput<'_>,
    labels: &[usize],
    class_count: usize,
    options: &ScanOptions,
    progress: &dyn Progress,
    clock: &mut Clock<'_>,
    models: &mut Models,
) -> Result<Learned, ScanError> {
    let records = input.records;
    progress.start(
        "featurize",
        Some(records.len() as u64),
        ProgressUnit::Records,
    );
    let featurizer = Featurizer::params()
        .text_buckets(1 << 12)
        .seed(options.seed)
        .check()
        .expect("valid featurizer parameters")
        .fit(records, input.schema)?;
    let features = featurizer.transform(records)?;
    progress.finish();
    clock.lap("featurize");

    let linear = LogisticRegression::params()
        .check()
        .expect("valid default parameters");
    let enabled = |detector: DetectorId| options.detectors.contains(&detector);
    let probabilities = if let Some(given) = input.probabilities {
        let expected = records.len() * class_count;
        if given.len() != expected {
            return Err(ScanError::ProbabilityShape {
                found: given.len(),
                expected,
                records: records.len(),
                classes: class_count,
            });
        }
        models.probabilities_given = true;
        given.to_vec()
    } else if !enabled(DetectorId::LabelIssues) {
        Vec::new()
    } else {
        progress.start(
            "out-of-sample probabilities",
            Some(options.folds as u64),
            ProgressUnit::Records,
        );
        let probabilities = network_out_of_sample(
            &features,
            labels,
            class_count,
            options.folds,
            options.seed,
            progress,
        )?;
        progress.finish();
        clock.lap("out-of-sample probabilities");
        probabilities
    };
    if !probabilities.is_empty() {
        models.out_of_sample_accuracy = Some(accuracy(&probabilities, labels, class_count));
    }

    let needs_representation = [
        DetectorId::Outliers,
        DetectorId::SpectralSignatures,
        DetectorId::ActivationClustering,
    ]
    .into_iter()
    .any(enabled);
    let (representation, width) = if !needs_representation {
        (Vec::new(), 0)
    } else if let Some(column) = input.embedding {
        models.representation = Some(format!("embedding `{column}`"));
        embedding_matrix(records, column)?
    } else {
        let network = Mlp::params()
            .seed(options.seed)
            .check()
            .expect("valid default parameters")
            .fit(&features, labels, class_count, progress)?;
        clock.lap("train network");
        models.network_training_accuracy = Some(network.report().training_accuracy);
        models.representation = Some("network".to_owned());
        let activations = network.activations(&features);
        let width = activations.columns();
        (activations.into_data(), width)
    };
    if needs_representation {
        models.representation_width = Some(width);
    }
    let text_only = trigger_column(input.schema).is_some_and(|(_, image)| !image)
        && featurizer
            .blocks()
            .iter()
            .all(|block| block.encoding == antidote_learn::Encoding::TfIdf);
    Ok(Learned {
        text_only,
        featurizer,
        features,
        probabilities,
        representation,
        width,
        linear,
        class_count,
    })
}

/// Out-of-sample class probabilities from the network: stratified K-fold, each fold predicted by
/// a network trained on the others.
///
/// Confident learning needs probabilities from a model that never saw the record; the network
/// reaches a higher out-of-sample accuracy than logistic regression (0.88 against 0.85 on
/// Fashion-MNIST, 0.67 against 0.58 on fortunes), so fewer correct labels look doubtful.
fn network_out_of_sample(
    features: &Features,
    labels: &[usize],
    classes: usize,
    folds: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<Vec<f32>, ScanError> {
    let rows = labels.len();
    if folds < 2 || folds > rows {
        return Err(ScanError::Fit(antidote_learn::FitError::Folds {
            folds,
            rows,
        }));
    }
    let assignment = stratified_folds(labels, folds, seed);
    let mut probabilities = vec![0.0_f32; rows * classes];
    for fold in 0..folds {
        let (held_out, training): (Vec<usize>, Vec<usize>) =
            (0..rows).partition(|&row| assignment[row] == fold);
        let training_labels: Vec<usize> = training.iter().map(|&row| labels[row]).collect();
        let network = Mlp::params()
            .seed(SplitMix64::derived(seed, &format!("fold {fold}")).next_u64())
            .check()
            .expect("valid default parameters")
            .fit(
                &features.select_rows(&training),
                &training_labels,
                classes,
                &NoProgress,
            )?;
        let predicted = network.predict_proba(&features.select_rows(&held_out));
        for (&row, values) in held_out.iter().zip(predicted.chunks_exact(classes)) {
            probabilities[row * classes..(row + 1) * classes].copy_from_slice(values);
        }
        progress.advance(1);
    }
    Ok(probabilities)
}

/// What every detector stage reads.
struct Context<'a> {
    records: &'a [Record],
    schema: &'a Schema,
    class_names: &'a [String],
    options: &'a ScanOptions,
    progress: &'a dyn Progress,
}

impl Context<'_> {
    fn stage<T>(&self, detector: DetectorId, work: impl FnOnce() -> T) -> T {
        self.progress
            .start(detector.name(), None, ProgressUnit::Records);
        let result = work();
        self.progress.finish();
        result
    }

    fn label_issues(&self, labels: &[usize], probabilities: &[f32]) -> DetectorReport {
        self.stage(DetectorId::LabelIssues, || {
            label_issues(labels, probabilities, self.class_names)
        })
    }

    fn backdoor_geometry(
        &self,
        detector: DetectorId,
        labels: &[usize],
        learned: &Learned,
    ) -> DetectorReport {
        self.stage(detector, || {
            let reclassifier = LinearReclassifier {
                features: &learned.features,
                labels,
                classes: learned.class_count,
                params: &learned.linear,
                seed: self.options.seed,
            };
            let (representation, width) = (&learned.representation, learned.width);
            if detector == DetectorId::SpectralSignatures {
                SpectralSignatures::params()
                    .check()
                    .expect("valid default parameters")
                    .run(
                        representation,
                        width,
                        labels,
                        self.class_names,
                        Some(&reclassifier),
                    )
            } else {
                ActivationClustering::params()
                    .seed(self.options.seed)
                    .check()
                    .expect("valid default parameters")
                    .run(
                        representation,
                        width,
                        labels,
                        self.class_names,
                        Some(&reclassifier),
                    )
            }
        })
    }

    fn outliers(&self, labels: &[usize], learned: &Learned) -> DetectorReport {
        self.stage(DetectorId::Outliers, || {
            let detector = Outliers::params()
                .seed(self.options.seed)
                .check()
                .expect("valid default parameters");
            detector
                .run(
                    &learned.representation,
                    learned.width,
                    labels,
                    self.class_names,
                )
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::Outliers, format!("skipped: {error}"))
                })
        })
    }

    fn duplicates(&self, labels: Option<&[usize]>, embedding: Option<&str>) -> DetectorReport {
        self.stage(DetectorId::Duplicates, || {
            let mut params = Duplicates::params().seed(self.options.seed);
            if let Some(column) = embedding {
                params = params.field(column);
            }
            let detector = params.check().expect("valid default parameters");
            detector
                .run(self.records, labels, self.class_names)
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::Duplicates, format!("skipped: {error}"))
                })
        })
    }

    fn instruction(&self) -> DetectorReport {
        self.stage(DetectorId::InstructionPoisoning, || {
            InstructionPoisoning::params()
                .check()
                .expect("valid default parameters")
                .run(self.records)
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(
                        DetectorId::InstructionPoisoning,
                        format!("skipped: {error}"),
                    )
                })
        })
    }

    /// Trigger search in the text or image column, questioning a model that can learn a trigger:
    /// logistic regression on pixels for images, on words and word pairs for text.
    fn trigger_search(
        &self,
        labels: &[usize],
        learned: &Learned,
    ) -> Result<DetectorReport, ScanError> {
        let Some((column, image)) = trigger_column(self.schema) else {
            return Ok(DetectorReport::skipped(
                DetectorId::TriggerSearch,
                "skipped: the data has no text or image column",
            ));
        };
        self.progress
            .start("trigger search: train model", None, ProgressUnit::Records);
        let words = (!image).then(|| WordPresence::fit(self.records, column));
        let word_features = words.as_ref().map(|words| words.transform(self.records));
        let features = word_features.as_ref().unwrap_or(&learned.features);
        // Trained on every record, as the attacked model would be, with a light penalty so
        // that a trigger in 1% of the records is learned.
        let model = LogisticRegression::params()
            .l2(TRIGGER_MODEL_L2)
            .check()
            .expect("valid parameters")
            .fit(features, labels, learned.class_count)?;
        self.progress.finish();
        let predictor = LinearPredictor {
            words: words.as_ref(),
            featurizer: &learned.featurizer,
            model: &model,
        };
        let column = if image {
            TriggerColumn::Image(column)
        } else {
            TriggerColumn::Text(column)
        };
        Ok(self.stage(DetectorId::TriggerSearch, || {
            TriggerSearch::params()
                .check()
                .expect("valid default parameters")
                .run(
                    self.records,
                    labels,
                    self.class_names,
                    column,
                    &predictor,
                    self.options.seed,
                )
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::TriggerSearch, format!("skipped: {error}"))
                })
        }))
    }

    /// Source trust over the union of every other detector's flags.
    fn source_trust(&self, reports: &[DetectorReport]) -> DetectorReport {
        let sources: Vec<Option<String>> = self
            .records
            .iter()
            .map(|record| record.source.clone())
            .collect();
        if sources.iter().all(Option::is_none) {
            return DetectorReport::skipped(
                DetectorId::SourceTrust,
                "skipped: no record names its source (name the column with `--source`)",
            );
        }
        let mut flagged = vec![false; self.records.len()];
        for flag in reports.iter().flat_map(|report| &report.flags) {
            flagged[flag.index] = true;
        }
        self.stage(DetectorId::SourceTrust, || {
            SourceTrust::params()
                .check()
                .expect("valid default parameters")
                .run(&sources, &flagged)
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::SourceTrust, format!("skipped: {error}"))
                })
        })
    }
}

/// The column trigger search reads: the image column, else the text column; `true` for images.
fn trigger_column(schema: &Schema) -> Option<(&str, bool)> {
    let by_role = |role: Role| {
        schema
            .column_with_role(role)
            .map(|column| column.name.as_ref())
    };
    let by_kind = |kind: ColumnKind| {
        schema
            .columns
            .iter()
            .find(|column| column.kind == kind && column.role == Role::Feature)
            .map(|column| column.name.as_ref())
    };
    by_role(Role::Image)
        .or_else(|| by_kind(ColumnKind::Image))
        .map(|column| (column, true))
        .or_else(|| {
            by_role(Role::Text)
                .or_else(|| by_kind(ColumnKind::Text))
                .map(|column| (column, false))
        })
}

/// Why spectral signatures and activation clustering do not judge text on their own.
const TEXT_GEOMETRY: &str = "skipped: on text, the built-in network's representation (hashed \
words and character n-grams) separates topics, not triggers: on clean fortunes it judged whole \
classes poisoned. Trigger search and label issues cover text; give `--embedding COLUMN` (a \
representation from your own model) to run this detector";

/// What the scan learned from labelled data.
struct Learned {
    /// Whether the only payload is text (no image, number or embedding column).
    text_only: bool,
    featurizer: Featurizer,
    features: Features,
    probabilities: Vec<f32>,
    representation: Vec<f32>,
    width: usize,
    linear: LogisticRegressionValidParams,
    class_count: usize,
}

/// Records stage timings.
struct Clock<'a> {
    timings: &'a mut Vec<Timing>,
    last: Instant,
}

impl<'a> Clock<'a> {
    fn new(timings: &'a mut Vec<Timing>) -> Self {
        Self {
            timings,
            last: Instant::now(),
        }
    }

    fn lap(&mut self, stage: &str) {
        let now = Instant::now();
        self.timings.push(Timing {
            stage: stage.to_owned(),
            seconds: (now - self.last).as_secs_f64(),
        });
        self.last = now;
    }
}

fn not_learnable(labelled: bool, classes: usize) -> String {
    if labelled {
        format!("skipped: needs at least two classes, the data has {classes}")
    } else {
        "skipped: needs a label on every record (name the label column with `--label`)".to_owned()
    }
}

fn accuracy(probabilities: &[f32], labels: &[usize], classes: usize) -> f64 {
    let correct = labels
        .iter()
        .enumerate()
        .filter(|&(row, &label)| {
            argmax(&probabilities[row * classes..(row + 1) * classes]) == label
        })
        .count();
    correct as f64 / labels.len().max(1) as f64
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (index, value) in row.iter().enumerate() {
        if *value > row[best] {
            best = index;
        }
    }
    best
}

fn label_issues(labels: &[usize], probabilities: &[f32], class_names: &[String]) -> DetectorReport {
    let classes = class_names.len();
    let wide: Vec<f64> = probabilities
        .iter()
        .map(|&value| f64::from(value))
        .collect();
    let mut report = DetectorReport::new(DetectorId::LabelIssues);
    let detector = LabelIssues::params()
        .check()
        .expect("valid default parameters");
    match detector.run(labels, &wide, classes) {
        Ok(found) => {
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
                // How far the model prefers the suggested class: a confident, wide margin is a
                // likely flip; a narrow one an ambiguous record. Measured on probabilities
                // calibrated to the model's real accuracy, so that an over-confident model on
                // hard data (a network on five categories of quotations) does not make every
                // doubtful label look certain. The flagged set itself stays cleanlab's.
                let row = &wide[index * classes..(index + 1) * classes];
                let calibrated = |class: usize| tempered(row, class, temperature);
                let margin = calibrated(record.suggested_label) - calibrated(labels[index]);
                report.flags.push(Flag {
                    index,
                    confidence: margin.clamp(0.05, 0.99),
                    evidence: found.explanation_with_names(index, class_names),
                });
            }
            let flagged = report.flags.len();
            report.notes.push(format!(
                "{flagged} records flagged by confident learning over {classes} classes; confidences from probabilities calibrated at temperature {temperature:.2}"
            ));
        }
        Err(error) => report.notes.push(format!("skipped: {error}")),
    }
    report
}

/// The temperature `t` that makes `p^(1/t)`, renormalised, best predict the given labels
/// (lowest mean negative log-likelihood; Guo, Pleiss, Sun and Weinberger 2017, "On Calibration
/// of Modern Neural Networks"), searched by golden section over `ln t` in `[-2, 3]`. Above 1 the
/// model was over-confident.
fn calibration_temperature(labels: &[usize], probabilities: &[f64], classes: usize) -> f64 {
    let loss = |log_temperature: f64| -> f64 {
        let temperature = log_temperature.exp();
        labels
            .iter()
            .enumerate()
            .map(|(index, &label)| {
                let row = &probabilities[index * classes..(index + 1) * classes];
                -tempered(row, label, temperature).max(1e-300).ln()
            })
            .sum::<f64>()
    };
    let ratio = (5.0_f64.sqrt() - 1.0) / 2.0;
    let (mut low, mut high) = (-2.0_f64, 3.0_f64);
    let mut left = high - ratio * (high - low);
    let mut right = low + ratio * (high - low);
    let (mut left_loss, mut right_loss) = (loss(left), loss(right));
    for _ in 0..40 {
        if left_loss <= right_loss {
            high = right;
            right = left;
            right_loss = left_loss;
            left = high - ratio * (high - low);
            left_loss = loss(left);
        } else {
            low = left;
            left = right;
            left_loss = right_loss;
            right = low + ratio * (high - low);
            right_loss = loss(right);
        }
    }
    f64::midpoint(low, high).exp()
}

/// The probability of `class` in `row` after tempering: `p^(1/t)`, renormalised.
fn tempered(row: &[f64], class: usize, temperature: f64) -> f64 {
    let power = 1.0 / temperature;
    let floor = 1e-12_f64;
    let weights = row.iter().map(|&p| p.max(floor).powf(power));
    let total: f64 = weights.sum();
    row[class].max(floor).powf(power) / total
}

/// The caller's embedding column as a dense matrix.
fn embedding_matrix(records: &[Record], column: &str) -> Result<(Vec<f32>, usize), ScanError> {
    let mut data = Vec::new();
    let mut width = None;
    for record in records {
        let bad = || ScanError::Embedding {
            id: record.id.to_string(),
            column: column.to_owned(),
        };
        let Some(Value::List(items)) = record.field(column) else {
            return Err(bad());
        };
        if *width.get_or_insert(items.len()) != items.len() || items.is_empty() {
            return Err(bad());
        }
        for item in items {
            let number = match item {
                Value::Float(value) => *value,
                Value::Int(value) => *value as f64,
                _ => return Err(bad()),
            };
            if !number.is_finite() {
                return Err(bad());
            }
            data.push(number as f32);
        }
    }
    Ok((data, width.unwrap_or(0)))
}

/// Exclusionary reclassification with the built-in logistic regression.
struct LinearReclassifier<'a> {
    features: &'a Features,
    labels: &'a [usize],
    classes: usize,
    params: &'a LogisticRegressionValidParams,
    seed: u64,
}

impl Reclassifier for LinearReclassifier<'_> {
    fn reclassify(&self, excluded: &[usize]) -> Result<Vec<usize>, PredictError> {
        let mut is_excluded = vec![false; self.labels.len()];
        for &index in excluded {
            is_excluded[index] = true;
        }
        let mut kept: Vec<usize> = (0..self.labels.len())
            .filter(|&row| !is_excluded[row])
            .collect();
        // A seeded sample is as good a judge of what the rest of the data looks like, and keeps
        // a reclassification to a second or two however large the data.
        if kept.len() > RECLASSIFICATION_SAMPLE {
            let mut random = SplitMix64::derived(self.seed, "reclassification");
            let mut sample = random.sample(kept.len(), RECLASSIFICATION_SAMPLE);
            sample.sort_unstable();
            kept = sample.into_iter().map(|position| kept[position]).collect();
        }
        let kept_labels: Vec<usize> = kept.iter().map(|&row| self.labels[row]).collect();
        let model = self
            .params
            .fit(
                &self.features.select_rows(&kept),
                &kept_labels,
                self.classes,
            )
            .map_err(|error| PredictError(error.to_string()))?;
        let probabilities = model.predict_proba(&self.features.select_rows(excluded));
        Ok(probabilities.chunks(self.classes).map(argmax).collect())
    }
}

/// Records the reclassifier trains on at most.
const RECLASSIFICATION_SAMPLE: usize = 15_000;

/// The L2 penalty of trigger search's model.
const TRIGGER_MODEL_L2: f64 = 1e-4;

/// Trigger search's model: logistic regression trained on all the records, on the scan's
/// features (images) or on word features of the text column.
struct LinearPredictor<'a> {
    /// Word presence for text; `None` for images, which the scan's featurizer reads.
    words: Option<&'a WordPresence>,
    featurizer: &'a Featurizer,
    model: &'a LogisticModel,
}

impl Predictor for LinearPredictor<'_> {
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError> {
        let features = match self.words {
            Some(words) => words.transform(records),
            None => self
                .featurizer
                .transform(records)
                .map_err(|error| PredictError(error.to_string()))?,
        };
        let classes = self.model.classes();
        Ok(self
            .model
            .predict_proba(&features)
            .chunks_exact(classes)
            .map(argmax)
            .collect())
    }
}

/// Text as the presence of words: 1 when the word is in the text, 0 otherwise, over the words
/// of at least two records, the most frequent first, as many as 1 GiB of features allows (at
/// least 1,024, at most 16,384).
///
/// Not the scan's TF-IDF features: there a two-letter token is one of hundreds of character
/// n-grams and its weight shrinks with the length of the text, so a model hardly learns `cf`
/// from 1% of the records and stamping it moves no prediction. A trigger is a word that is
/// either there or not, which is what a bag-of-words model, the kind text backdoors are aimed
/// at, sees.
struct WordPresence {
    column: String,
    vocabulary: std::collections::HashMap<String, usize>,
}

impl WordPresence {
    fn fit(records: &[Record], column: &str) -> Self {
        let mut frequency: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        for record in records {
            let words: BTreeSet<String> = lower_words(text_field(record, column)).collect();
            for word in words {
                *frequency.entry(word).or_default() += 1;
            }
        }
        let mut words: Vec<(String, usize)> = frequency
            .into_iter()
            .filter(|(_, count)| *count >= 2)
            .collect();
        words.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let width = ((1_usize << 28) / records.len().max(1)).clamp(1 << 10, 1 << 14);
        words.truncate(width);
        Self {
            column: column.to_owned(),
            vocabulary: words
                .into_iter()
                .enumerate()
                .map(|(index, (word, _))| (word, index))
                .collect(),
        }
    }

    fn transform(&self, records: &[Record]) -> Features {
        let width = self.vocabulary.len().max(1);
        let mut data = vec![0.0_f32; records.len() * width];
        for (row, record) in data.chunks_exact_mut(width).zip(records) {
            for word in lower_words(text_field(record, &self.column)) {
                if let Some(&index) = self.vocabulary.get(&word) {
                    row[index] = 1.0;
                }
            }
        }
        Features::from_row_major(records.len(), width, data, &self.column)
            .expect("one row of `width` values per record")
    }
}

fn lower_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
}

fn text_field<'a>(record: &'a Record, column: &str) -> &'a str {
    record.field(column).and_then(Value::as_text).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes; the model says 0.95 for its choice and is right on `right` of 100 records.
    fn confident(right: usize) -> (Vec<usize>, Vec<f64>) {
        let labels: Vec<usize> = (0..100).map(|index| index % 2).collect();
        let probabilities = labels
            .iter()
            .enumerate()
            .flat_map(|(index, &label)| {
                let predicted = if index < right { label } else { 1 - label };
                if predicted == 0 {
                    [0.95, 0.05]
                } else {
                    [0.05, 0.95]
                }
            })
            .collect();
        (labels, probabilities)
    }

    #[test]
    fn calibration_tempers_an_over_confident_model_and_keeps_an_honest_one() {
        // Right 95 times in 100 at 0.95: already calibrated.
        let (labels, probabilities) = confident(95);
        let honest = calibration_temperature(&labels, &probabilities, 2);
        assert!((honest - 1.0).abs() < 0.02, "{honest}");
        // Right 70 times in 100 at 0.95: the calibrated confidence is 0.70.
        let (labels, probabilities) = confident(70);
        let temperature = calibration_temperature(&labels, &probabilities, 2);
        assert!(temperature > 2.0, "{temperature}");
        let calibrated = tempered(&probabilities[..2], 0, temperature);
        assert!((calibrated - 0.7).abs() < 0.01, "{calibrated}");
    }
}
