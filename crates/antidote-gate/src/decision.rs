//! The gate's decision: every check with its numbers, as the typed, versioned `gate.json`.

use std::path::{Path, PathBuf};

use antidote_core::display::percent;
use antidote_data::Record;
use serde::{Deserialize, Serialize};

use crate::accuracy::{AccuracyCheck, PairedChange};
use crate::canaries::CanaryCheck;
use crate::shadow::ShadowReport;
use crate::triggers::{GateTrigger, TriggerCheck, measure};
use crate::{GateError, PredictError, Predictor};

/// The version of `gate.json`; bumped when a field changes meaning.
pub const GATE_VERSION: u32 = 1;

/// The thresholds of the gate; `[gate]` in `antidote.toml`. Shares are fractions: `0.01` is
/// one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Largest tolerated drop of golden-set accuracy against the baseline (default `0.01`): the
    /// gate fails when the confidence interval of the paired change lies wholly below minus
    /// this.
    pub max_accuracy_drop: f64,
    /// Largest tolerated drop of one class's accuracy (default `0.05`), judged the same way on
    /// the class's records.
    pub max_class_accuracy_drop: f64,
    /// Golden records a class needs for its drop to count (default `20`).
    pub min_class_records: usize,
    /// Largest tolerated attack success rate of a trigger (default `0.10`).
    pub max_attack_success: f64,
    /// Confidence level of the intervals: attack success and the paired accuracy changes
    /// (default `0.95`).
    pub confidence: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_accuracy_drop: 0.01,
            max_class_accuracy_drop: 0.05,
            min_class_records: 20,
            max_attack_success: 0.10,
            confidence: 0.95,
        }
    }
}

/// A model the gate judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Its path or URL.
    pub location: String,
    /// The SHA-256 of its file (`sha256:...`), when it is a file.
    pub sha256: Option<String>,
    /// The root digest of its files as `antidote sign-model` and OpenSSF `model_signing`
    /// compute it (`sha256:...`), for a file or a folder: the key of the ledger's chain from
    /// data to gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_digest: Option<String>,
}

/// Whether the model may ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// At least one check failed.
    Fail,
}

/// The gate's decision: `gate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// [`GATE_VERSION`].
    pub schema_version: u32,
    /// The antidote version that decided.
    pub antidote: String,
    /// The verdict.
    pub verdict: Verdict,
    /// One sentence per failed check; empty when the gate passed.
    pub reasons: Vec<String>,
    /// The candidate model.
    pub model: ModelInfo,
    /// The baseline model, when there is one.
    pub baseline: Option<ModelInfo>,
    /// Retrains of the baseline (other seeds) whose spread widened the tolerated drops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retrains: Vec<ModelInfo>,
    /// The golden set's path.
    pub golden: PathBuf,
    /// The classes of the golden set, in order.
    pub classes: Vec<String>,
    /// The thresholds applied.
    pub thresholds: Thresholds,
    /// Golden-set accuracy.
    pub accuracy: AccuracyCheck,
    /// One entry per trigger tested.
    pub triggers: Vec<TriggerCheck>,
    /// The canaries, when given.
    pub canaries: Option<CanaryCheck>,
    /// The shadow replay, when given.
    pub shadow: Option<ShadowReport>,
}

impl GateReport {
    /// Whether the gate passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Writes the decision as pretty JSON through [`antidote_data::output::AtomicFile`].
    pub fn write(&self, path: &Path) -> Result<(), GateError> {
        let failed = |source: std::io::Error| GateError::Write {
            path: path.to_owned(),
            source,
        };
        let mut file = antidote_data::output::AtomicFile::create(path)
            .map_err(|error| failed(std::io::Error::other(error)))?;
        serde_json::to_writer_pretty(&mut file, self).map_err(|error| failed(error.into()))?;
        std::io::Write::write_all(&mut file, b"\n").map_err(failed)?;
        file.commit()
            .map_err(|error| failed(std::io::Error::other(error)))
    }

    /// Reads a `gate.json`, refusing other versions.
    pub fn read(path: &Path) -> Result<Self, GateError> {
        let failed = |source: std::io::Error| GateError::Read {
            path: path.to_owned(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(failed)?;
        let report: Self = serde_json::from_str(&text)
            .map_err(|error| failed(std::io::Error::new(std::io::ErrorKind::InvalidData, error)))?;
        if report.schema_version != GATE_VERSION {
            return Err(failed(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "schema version {} is not the {GATE_VERSION} this antidote reads",
                    report.schema_version
                ),
            )));
        }
        Ok(report)
    }
}

/// What the gate runs on.
pub struct GateInputs<'a> {
    /// The candidate model.
    pub candidate: &'a dyn Predictor,
    /// Where it is, and its digest.
    pub model: ModelInfo,
    /// The baseline model, and where it is.
    pub baseline: Option<(&'a dyn Predictor, ModelInfo)>,
    /// Models trained like the baseline with other seeds: their spread around the baseline is
    /// retraining's own noise, which the accuracy check tolerates
    /// ([`AccuracyCheck::new`]). Used only with a baseline.
    pub retrains: Vec<(&'a dyn Predictor, ModelInfo)>,
    /// The golden set's path, for the report.
    pub golden_path: &'a Path,
    /// The golden records; every one labelled.
    pub golden: &'a [Record],
    /// The classes, in the order a model's outputs mean them.
    pub classes: &'a [String],
    /// The payload field triggers are stamped on (the image, else the text column).
    pub payload: Option<&'a str>,
    /// Triggers to test.
    pub triggers: &'a [GateTrigger],
    /// Canary records, each labelled with its required output.
    pub canaries: Option<&'a [Record]>,
    /// Recorded production inputs to replay.
    pub shadow: Option<&'a [Record]>,
    /// The thresholds.
    pub thresholds: &'a Thresholds,
}

impl std::fmt::Debug for GateInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateInputs")
            .field("candidate", &self.candidate.name())
            .field("golden", &self.golden.len())
            .field("triggers", &self.triggers.len())
            .finish_non_exhaustive()
    }
}

fn labels_of(predictor: &dyn Predictor, records: &[Record]) -> Result<Vec<String>, PredictError> {
    Ok(predictor
        .predict(records)?
        .into_iter()
        .map(|prediction| prediction.label)
        .collect())
}

/// Runs every check and decides.
pub fn evaluate(inputs: &GateInputs<'_>) -> Result<GateReport, GateError> {
    let labels: Vec<String> = inputs
        .golden
        .iter()
        .map(|record| {
            record.label.clone().ok_or_else(|| GateError::Golden {
                problem: format!("record `{}` has no label", record.id),
            })
        })
        .collect::<Result<_, _>>()?;
    if labels.is_empty() {
        return Err(GateError::Golden {
            problem: "has no records".to_owned(),
        });
    }
    let thresholds = inputs.thresholds;
    let candidate = labels_of(inputs.candidate, inputs.golden)?;
    let baseline = inputs
        .baseline
        .as_ref()
        .map(|(predictor, _)| labels_of(*predictor, inputs.golden))
        .transpose()?;
    // Retrains widen the tolerance around a baseline; without one they are not run.
    let retrain_inputs = if baseline.is_some() {
        inputs.retrains.as_slice()
    } else {
        &[]
    };
    let retrains = retrain_inputs
        .iter()
        .map(|(predictor, _)| labels_of(*predictor, inputs.golden))
        .collect::<Result<Vec<_>, _>>()?;
    let accuracy = AccuracyCheck::new(
        inputs.classes,
        &labels,
        &candidate,
        baseline.as_deref(),
        &retrains,
        thresholds,
    );
    let mut triggers = Vec::new();
    if let Some(field) = inputs.payload {
        for trigger in inputs.triggers {
            let baseline = inputs
                .baseline
                .as_ref()
                .zip(baseline.as_deref())
                .map(|((predictor, _), clean)| (*predictor, clean));
            triggers.push(measure(
                trigger,
                inputs.golden,
                field,
                (inputs.candidate, &candidate),
                baseline,
                thresholds,
            )?);
        }
    }
    let canaries = inputs
        .canaries
        .map(|records| {
            labels_of(inputs.candidate, records)
                .map(|predicted| CanaryCheck::new(records, &predicted))
        })
        .transpose()?;
    let shadow = match (inputs.shadow, &inputs.baseline) {
        (Some(records), Some((serving, _))) => Some(ShadowReport::new(
            inputs.classes,
            &labels_of(inputs.candidate, records)?,
            &labels_of(*serving, records)?,
        )),
        _ => None,
    };
    let reasons = reasons(&accuracy, &triggers, canaries.as_ref(), thresholds);
    Ok(GateReport {
        schema_version: GATE_VERSION,
        antidote: env!("CARGO_PKG_VERSION").to_owned(),
        verdict: if reasons.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        reasons,
        model: inputs.model.clone(),
        baseline: inputs.baseline.as_ref().map(|(_, info)| info.clone()),
        retrains: retrain_inputs
            .iter()
            .map(|(_, info)| info.clone())
            .collect(),
        golden: inputs.golden_path.to_owned(),
        classes: inputs.classes.to_vec(),
        thresholds: thresholds.clone(),
        accuracy,
        triggers,
        canaries,
        shadow,
    })
}

fn points(share: f64) -> String {
    format!("{:.1} points", share * 100.0)
}

/// "lost 120 records the baseline got right, gained 10; 95% interval of the change -12.0 to
/// -7.1 points".
fn paired_evidence(paired: &PairedChange) -> String {
    format!(
        "lost {} records the baseline got right, gained {}; {:.0}% interval of the change {:+.1} to {:+.1} points",
        paired.lost,
        paired.gained,
        paired.interval.confidence * 100.0,
        paired.interval.low * 100.0,
        paired.interval.high * 100.0
    )
}

/// "5.0 points", or "12.0 points (the baseline's retrains differ that much)" when the retrains'
/// spread set the tolerance.
fn allowed(tolerated: f64, spread: Option<f64>) -> String {
    match spread {
        Some(spread) if spread >= tolerated => {
            format!(
                "{} (the baseline's retrains differ that much)",
                points(tolerated)
            )
        }
        _ => points(tolerated),
    }
}

/// One sentence per failed check.
fn reasons(
    accuracy: &AccuracyCheck,
    triggers: &[TriggerCheck],
    canaries: Option<&CanaryCheck>,
    thresholds: &Thresholds,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if accuracy.overall_failed
        && let (Some(baseline), Some(delta), Some(paired)) =
            (accuracy.baseline, accuracy.delta, accuracy.paired)
    {
        reasons.push(format!(
            "golden-set accuracy fell {} ({} -> {}; {}), more than the {} allowed",
            points(-delta),
            percent(baseline),
            percent(accuracy.accuracy),
            paired_evidence(&paired),
            allowed(accuracy.tolerated(thresholds), accuracy.retrain_spread)
        ));
    }
    for class in accuracy.classes.iter().filter(|class| class.failed) {
        if let (Some(baseline), Some(delta), Some(paired)) =
            (class.baseline, class.delta, class.paired)
        {
            reasons.push(format!(
                "accuracy on class `{}` fell {} ({} -> {} on {} records; {}), more than the {} allowed",
                class.class,
                points(-delta),
                percent(baseline),
                percent(class.accuracy),
                class.records,
                paired_evidence(&paired),
                allowed(class.tolerated(thresholds), class.retrain_spread)
            ));
        }
    }
    for trigger in triggers.iter().filter(|trigger| trigger.failed) {
        reasons.push(format!(
            "{} flips {} of {} stamped golden inputs to `{}` (attack success {}, {:.0}% interval {} to {}), above the {} allowed",
            trigger.description,
            trigger.flipped,
            trigger.stamped,
            trigger.target,
            percent(trigger.attack_success),
            trigger.interval.confidence * 100.0,
            percent(trigger.interval.low),
            percent(trigger.interval.high),
            percent(thresholds.max_attack_success)
        ));
    }
    if let Some(canaries) = canaries.filter(|canaries| canaries.failed) {
        reasons.push(format!(
            "{} of {} canaries changed their output",
            canaries.changed, canaries.canaries
        ));
    }
    reasons
}
