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

use antidote_core::{Progress, ProgressUnit};
use antidote_data::{Record, Schema, Value};
use antidote_learn::{
    Features, Featurizer, LabelIndex, LogisticRegression, LogisticRegressionValidParams, Mlp,
    MlpModel, out_of_sample_probabilities,
};
use serde::Serialize;

use crate::detectors::activation_clustering::ActivationClustering;
use crate::detectors::spectral::SpectralSignatures;
use crate::fusion::{FusedRecord, fuse};
use crate::policy::{Policy, Verdict};
use crate::{DetectorId, DetectorReport, Flag, LabelIssues, PredictError, Predictor, Reclassifier};

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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// The stage.
    pub stage: String,
    /// Seconds.
    pub seconds: f64,
}

/// The models the scan trained, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
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
    let (class_index, labels) = if labelled == records.len() {
        let index = LabelIndex::from_records(records);
        let labels = index.encode(records)?;
        (Some(index), Some(labels))
    } else {
        (None, None)
    };
    let class_names: Vec<String> = class_index
        .as_ref()
        .map(|index| index.labels().to_vec())
        .unwrap_or_default();
    let class_count = class_names.len();
    let learnable = labels.is_some() && class_count >= 2;
    let mut reports = Vec::new();
    let mut models = Models::default();

    // Features and models, only for labelled data with at least two classes.
    let mut learned: Option<Learned> = None;
    if let (true, Some(labels)) = (learnable, labels.as_ref()) {
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
        } else {
            progress.start(
                "out-of-sample probabilities",
                Some(options.folds as u64),
                ProgressUnit::Records,
            );
            let probabilities = out_of_sample_probabilities(
                &features,
                labels,
                class_count,
                options.folds,
                options.seed,
                &linear,
            )?;
            progress.finish();
            clock.lap("out-of-sample probabilities");
            probabilities
        };
        models.out_of_sample_accuracy = Some(accuracy(&probabilities, labels, class_count));

        let network = Mlp::params()
            .seed(options.seed)
            .check()
            .expect("valid default parameters")
            .fit(&features, labels, class_count, progress)?;
        clock.lap("train network");
        models.network_training_accuracy = Some(network.report().training_accuracy);

        let (representation, width) = if let Some(column) = input.embedding {
            models.representation = Some(format!("embedding `{column}`"));
            embedding_matrix(records, column)?
        } else {
            models.representation = Some("network".to_owned());
            let activations = network.activations(&features);
            let width = activations.columns();
            (activations.into_data(), width)
        };
        models.representation_width = Some(width);
        learned = Some(Learned {
            featurizer,
            features,
            probabilities,
            network,
            representation,
            width,
            linear,
        });
    }

    // Label issues.
    if enabled(DetectorId::LabelIssues) {
        reports.push(match (&learned, &labels) {
            (Some(learned), Some(labels)) => {
                progress.start("label issues", None, ProgressUnit::Records);
                let report = label_issues(labels, &learned.probabilities, &class_names);
                progress.finish();
                clock.lap("label issues");
                report
            }
            _ => DetectorReport::skipped(
                DetectorId::LabelIssues,
                not_learnable(labels.is_some(), class_count),
            ),
        });
    }

    // Backdoor detectors on the representation.
    for detector in [
        DetectorId::SpectralSignatures,
        DetectorId::ActivationClustering,
    ] {
        if !enabled(detector) {
            continue;
        }
        reports.push(match (&learned, &labels) {
            (Some(learned), Some(labels)) => {
                progress.start(detector.name(), None, ProgressUnit::Records);
                let reclassifier = LinearReclassifier {
                    features: &learned.features,
                    labels,
                    classes: class_count,
                    params: &learned.linear,
                };
                let report = match detector {
                    DetectorId::SpectralSignatures => SpectralSignatures::params()
                        .check()
                        .expect("valid default parameters")
                        .run(
                            &learned.representation,
                            learned.width,
                            labels,
                            &class_names,
                            Some(&reclassifier),
                        ),
                    _ => ActivationClustering::params()
                        .seed(options.seed)
                        .check()
                        .expect("valid default parameters")
                        .run(
                            &learned.representation,
                            learned.width,
                            labels,
                            &class_names,
                            Some(&reclassifier),
                        ),
                };
                progress.finish();
                clock.lap(detector.name());
                report
            }
            _ => DetectorReport::skipped(detector, not_learnable(labels.is_some(), class_count)),
        });
    }

    let fused = fuse(&reports);
    let name = |class: usize| {
        class_names
            .get(class)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    };
    let verdict = options
        .policy
        .decide(records.len(), &fused, &reports, &name);
    drop(clock);
    Ok(Scan {
        class_names,
        labels,
        reports,
        fused,
        verdict,
        models,
        timings,
    })
}

/// What the scan learned from labelled data.
struct Learned {
    #[allow(dead_code)]
    featurizer: Featurizer,
    features: Features,
    probabilities: Vec<f32>,
    #[allow(dead_code)]
    network: MlpModel,
    representation: Vec<f32>,
    width: usize,
    linear: LogisticRegressionValidParams,
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
                // likely flip; a narrow one an ambiguous record.
                let margin = record.suggested_probability - record.self_confidence;
                report.flags.push(Flag {
                    index,
                    confidence: margin.clamp(0.05, 0.99),
                    evidence: found.explanation_with_names(index, class_names),
                });
            }
            let flagged = report.flags.len();
            report.notes.push(format!(
                "{flagged} records flagged by confident learning over {classes} classes"
            ));
        }
        Err(error) => report.notes.push(format!("skipped: {error}")),
    }
    report
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
}

impl Reclassifier for LinearReclassifier<'_> {
    fn reclassify(&self, excluded: &[usize]) -> Result<Vec<usize>, PredictError> {
        let mut is_excluded = vec![false; self.labels.len()];
        for &index in excluded {
            is_excluded[index] = true;
        }
        let kept: Vec<usize> = (0..self.labels.len())
            .filter(|&row| !is_excluded[row])
            .collect();
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

/// Trigger search's model: the scan's featurizer and network.
#[allow(dead_code)]
struct NetworkPredictor<'a> {
    featurizer: &'a Featurizer,
    network: &'a MlpModel,
}

impl Predictor for NetworkPredictor<'_> {
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError> {
        let features = self
            .featurizer
            .transform(records)
            .map_err(|error| PredictError(error.to_string()))?;
        Ok(self.network.predict(&features))
    }
}
