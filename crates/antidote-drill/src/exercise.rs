//! One exercise: poison, run the layers, score them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use antidote_core::Trigger;
use antidote_core::{NoProgress, Progress, RecordId, SplitMix64};
use antidote_data::Record;
use antidote_detect::DetectorId;
use antidote_detect::scan::{Scan, ScanInput, ScanOptions, scan};
use antidote_learn::NetworkModel;
use antidote_provenance::diff::{RecordDiff, RecordEntry};
use antidote_redteam::{Attack, AttackKind, InMemoryDataset, Poisoned, Stamp, Truth};
use antidote_validate::check::{Thresholds, check};
use antidote_validate::profile::Profile;
use serde::Serialize;

use crate::{Data, DrillError, Score};

/// One attack at one rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Exercise {
    /// The attack.
    pub attack: AttackKind,
    /// The share of the dataset it poisons.
    pub rate: f64,
}

/// How to run the drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The seed of the attack, the held-out split and every model.
    pub seed: u64,
    /// The scan's options (detectors, policy, folds).
    pub scan: ScanOptions,
    /// The thresholds of `check`.
    pub thresholds: Thresholds,
    /// Train the built-in model before and after the quarantine.
    pub train: bool,
    /// The share of records held out (clean) to measure the trained model, when training.
    pub held_out: f64,
}

impl Default for DrillOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            scan: ScanOptions::default(),
            thresholds: Thresholds::default(),
            train: false,
            held_out: 0.2,
        }
    }
}

/// A defense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerKind {
    /// `antidote diff` against a lock of the data before the attack.
    Diff,
    /// `antidote check` against a profile of the data before the attack.
    Check,
    /// `antidote scan`: every finding, quarantine and review tiers together.
    Scan,
    /// `antidote scan`: the records its policy quarantines (the quarantine tier).
    Quarantine,
}

impl LayerKind {
    /// The name in tables.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Diff => "diff",
            Self::Check => "check",
            Self::Scan => "scan: every finding",
            Self::Quarantine => "scan: quarantine",
        }
    }
}

/// What one layer caught.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerResult {
    /// The layer.
    pub layer: LayerKind,
    /// Whether it raised an alarm (a difference, a failed check, a "do not train" verdict).
    pub alarm: bool,
    /// The records it pointed at, scored against the truth; `None` for layers that judge the
    /// dataset as a whole.
    pub score: Option<Score>,
    /// Seconds the layer took.
    pub seconds: f64,
    /// One sentence on what it said.
    pub summary: String,
}

/// What one detector of the scan caught.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorScore {
    /// The detector.
    pub detector: DetectorId,
    /// Its flags, scored against the truth.
    pub score: Score,
}

/// The planted trigger and whether the scan named it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerOutcome {
    /// The planted trigger, in words.
    pub planted: String,
    /// The confirmed trigger of the scan that matches it (same target, overlapping pattern).
    pub found: Option<String>,
}

/// The built-in model trained on the poisoned data, then without what scan quarantined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Training {
    /// Held-out clean records it is measured on.
    pub held_out: usize,
    /// Accuracy on them, trained on the poisoned data.
    pub clean_accuracy: f64,
    /// Share of held-out records of other classes that the trigger sends to the target,
    /// trained on the poisoned data (`None` for attacks without a trigger).
    pub attack_success: Option<f64>,
    /// Records removed: those scan quarantined.
    pub removed: usize,
    /// Accuracy, trained without the quarantined records.
    pub clean_accuracy_after: f64,
    /// Attack success rate, trained without the quarantined records.
    pub attack_success_after: Option<f64>,
    /// Accuracy of the model trained on the data before the attack: the best the quarantine
    /// can give back.
    pub clean_model_accuracy: f64,
    /// The share of triggered held-out records the model trained on clean data sends to the
    /// target anyway: the floor of the attack success rate (a trigger of common words moves
    /// predictions a little by itself).
    pub clean_model_attack_success: Option<f64>,
}

/// What a scan of the clean data says: the false alarms a defender lives with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Control {
    /// The dataset.
    pub dataset: String,
    /// Records scanned.
    pub records: usize,
    /// Records flagged (all of them false alarms).
    pub flagged: usize,
    /// Records quarantined (all of them false alarms: the quarantine a clean dataset loses).
    pub quarantined: usize,
    /// Flagged records left for review.
    pub review: usize,
    /// Whether the policy lets the clean data be trained on.
    pub train: bool,
    /// The policy's reasons when it does not.
    pub reasons: Vec<String>,
    /// Seconds.
    pub seconds: f64,
}

/// Everything one exercise measured.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The dataset.
    pub dataset: String,
    /// The attack and rate.
    pub exercise: Exercise,
    /// Records in the poisoned copy.
    pub records: usize,
    /// Records the attack changed or added.
    pub poisoned: usize,
    /// What the attack did, in one sentence.
    pub attack_summary: String,
    /// Each layer, in the order a pipeline runs them.
    pub layers: Vec<LayerResult>,
    /// Each scan detector that flagged something.
    pub detectors: Vec<DetectorScore>,
    /// The planted trigger, for backdoor attacks.
    pub trigger: Option<TriggerOutcome>,
    /// The trained model, when asked for.
    pub training: Option<Training>,
    /// The attack's full truth.
    pub truth: Truth,
}

impl Outcome {
    /// The result of `layer`.
    #[must_use]
    pub fn layer(&self, layer: LayerKind) -> Option<&LayerResult> {
        self.layers.iter().find(|result| result.layer == layer)
    }
}

/// Splits off `share` of the records (seeded) as held-out clean data, and renumbers both
/// parts when ids are positions, so that each reads like a dataset of its own.
#[must_use]
pub fn split_held_out(data: &Data, share: f64, seed: u64) -> (Data, InMemoryDataset) {
    let records = &data.dataset.records;
    let held = ((records.len() as f64) * share).round() as usize;
    let mut order: Vec<usize> = (0..records.len()).collect();
    SplitMix64::derived(seed, "drill held-out").shuffle(&mut order);
    let mut held_out: Vec<usize> = order[..held].to_vec();
    held_out.sort_unstable();
    let is_held: HashSet<usize> = held_out.iter().copied().collect();
    let renumber = |indices: Vec<usize>| -> Vec<Record> {
        indices
            .into_iter()
            .enumerate()
            .map(|(position, index)| {
                let mut record = records[index].clone();
                record.position = position as u64;
                if data.ids_are_positions {
                    record.id = RecordId::from(position.to_string());
                }
                record
            })
            .collect()
    };
    let kept: Vec<usize> = (0..records.len())
        .filter(|index| !is_held.contains(index))
        .collect();
    let training = Data {
        dataset: InMemoryDataset {
            schema: data.dataset.schema.clone(),
            records: renumber(kept),
        },
        ..data.clone()
    };
    let test = InMemoryDataset {
        schema: data.dataset.schema.clone(),
        records: renumber(held_out),
    };
    (training, test)
}

/// Scans the clean data: what a defender sees when nothing was poisoned.
pub fn control(
    data: &Data,
    options: &DrillOptions,
    progress: &dyn Progress,
) -> Result<Control, DrillError> {
    let started = Instant::now();
    let result = scan_records(&data.dataset, options, progress)?;
    Ok(Control {
        dataset: data.name.clone(),
        records: data.dataset.records.len(),
        flagged: result.fused.len(),
        quarantined: result.verdict.quarantined,
        review: result.verdict.review,
        train: result.verdict.train,
        reasons: result.verdict.reasons.clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs one exercise on `data` (the records to poison) and, when training, measures the model
/// on `held_out` clean records.
pub fn run(
    data: &Data,
    held_out: Option<&InMemoryDataset>,
    exercise: Exercise,
    attack: &dyn Attack,
    options: &DrillOptions,
    progress: &dyn Progress,
) -> Result<Outcome, DrillError> {
    let Poisoned { dataset, truth } =
        attack
            .run(data.dataset.clone(), options.seed)
            .map_err(|source| DrillError::Attack {
                attack: exercise.attack.to_string(),
                dataset: data.name.clone(),
                source,
            })?;
    let poisoned_ids: Vec<&str> = truth.poisoned.iter().map(String::as_str).collect();
    let mut layers = vec![
        diff_layer(data, &dataset, &poisoned_ids),
        check_layer(&data.dataset, &dataset, &options.thresholds),
    ];

    let started = Instant::now();
    let result = scan_records(&dataset, options, progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let flagged: Vec<&str> = result
        .findings(&dataset.records)
        .map(|flagged| flagged.record.id.as_str())
        .collect();
    let quarantined: Vec<&str> = result
        .findings(&dataset.records)
        .filter(antidote_detect::findings::FlaggedRecord::quarantined)
        .map(|flagged| flagged.record.id.as_str())
        .collect();
    let id = |index: usize| dataset.records[index].id.as_str();
    let verdict = if result.verdict.train {
        "train".to_owned()
    } else {
        format!(
            "do not train: {}",
            result.verdict.reasons.first().cloned().unwrap_or_default()
        )
    };
    layers.push(LayerResult {
        layer: LayerKind::Scan,
        alarm: !result.verdict.train,
        score: Some(Score::of(
            flagged.iter().copied(),
            poisoned_ids.iter().copied(),
        )),
        seconds,
        summary: verdict,
    });
    layers.push(LayerResult {
        layer: LayerKind::Quarantine,
        alarm: !quarantined.is_empty(),
        score: Some(Score::of(
            quarantined.iter().copied(),
            poisoned_ids.iter().copied(),
        )),
        seconds,
        summary: format!(
            "{} of {} records quarantined, {} for review",
            quarantined.len(),
            dataset.records.len(),
            result.verdict.review
        ),
    });
    let detectors = result
        .reports
        .iter()
        .filter(|report| !report.flags.is_empty())
        .map(|report| DetectorScore {
            detector: report.detector,
            score: Score::of(
                report.flags.iter().map(|flag| id(flag.index)),
                poisoned_ids.iter().copied(),
            ),
        })
        .collect();
    let trigger = truth.trigger.as_ref().map(|planted| TriggerOutcome {
        planted: planted.describe(),
        found: found_trigger(planted, truth.target.as_deref(), &result),
    });
    let training = match held_out {
        Some(held_out) if options.train => Some(train_and_measure(
            &data.dataset,
            &dataset,
            held_out,
            &truth,
            &quarantined.iter().copied().collect(),
            options.seed,
        )?),
        _ => None,
    };
    Ok(Outcome {
        dataset: data.name.clone(),
        exercise,
        records: dataset.records.len(),
        poisoned: truth.poisoned.len(),
        attack_summary: truth.summary.clone(),
        layers,
        detectors,
        trigger,
        training,
        truth,
    })
}

fn scan_records(
    dataset: &InMemoryDataset,
    options: &DrillOptions,
    progress: &dyn Progress,
) -> Result<Scan, DrillError> {
    let input = ScanInput {
        records: &dataset.records,
        schema: &dataset.schema,
        probabilities: None,
        embedding: None,
    };
    Ok(scan(input, &options.scan, progress)?)
}

/// `diff` with a lock of the data before the attack: every changed or added record.
fn diff_layer(clean: &Data, poisoned: &InMemoryDataset, truth: &[&str]) -> LayerResult {
    let started = Instant::now();
    let old: Vec<RecordEntry> = clean
        .dataset
        .records
        .iter()
        .map(RecordEntry::from_record)
        .collect();
    let new: Vec<RecordEntry> = poisoned
        .records
        .iter()
        .map(RecordEntry::from_record)
        .collect();
    let diff = RecordDiff::between(&old, &new, clean.ids_are_positions);
    let seconds = started.elapsed().as_secs_f64();
    let flagged = diff
        .added
        .iter()
        .map(String::as_str)
        .chain(diff.changed.iter().map(|changed| changed.id.as_str()));
    let score = Score::of(flagged, truth.iter().copied());
    LayerResult {
        layer: LayerKind::Diff,
        alarm: !diff.is_empty(),
        score: Some(score),
        seconds,
        summary: format!(
            "{} changed, {} added, {} removed",
            diff.changed.len(),
            diff.added.len(),
            diff.removed.len()
        ),
    }
}

/// `check` against a profile of the data before the attack: a dataset-level alarm.
fn check_layer(
    clean: &InMemoryDataset,
    poisoned: &InMemoryDataset,
    thresholds: &Thresholds,
) -> LayerResult {
    let started = Instant::now();
    let profile = |dataset: &InMemoryDataset| {
        let mut profile = Profile::empty(&dataset.schema);
        for record in &dataset.records {
            profile.add(record);
        }
        profile.summarize();
        profile
    };
    let report = check(&profile(clean), &profile(poisoned), thresholds);
    let seconds = started.elapsed().as_secs_f64();
    let passed = report.passed();
    let summary = if passed {
        "passed: no statistic moved past its threshold".to_owned()
    } else {
        let failed: Vec<&str> = report
            .anomalies
            .iter()
            .filter(|anomaly| anomaly.severity >= antidote_core::Severity::Error)
            .map(|anomaly| anomaly.message.as_str())
            .collect();
        format!("failed: {}", failed.join("; "))
    };
    LayerResult {
        layer: LayerKind::Check,
        alarm: !passed,
        score: None,
        seconds,
        summary,
    }
}

/// Whether a discovered pattern is the planted trigger (or a part of it).
fn same_trigger(planted: &Trigger, found: &Trigger) -> bool {
    let words_of = |found: &Trigger| -> Vec<String> {
        match found {
            Trigger::Token { token } => vec![token.to_lowercase()],
            Trigger::Phrase { words } => words.iter().map(|w| w.to_lowercase()).collect(),
            _ => Vec::new(),
        }
    };
    match (planted, found) {
        (Trigger::Token { token }, _) => words_of(found).contains(&token.to_lowercase()),
        (Trigger::Phrase { words }, _) => words_of(found).iter().any(|word| {
            words
                .iter()
                .any(|planted| planted.eq_ignore_ascii_case(word))
        }),
        (
            Trigger::InstructionString { text } | Trigger::OutputString { text },
            Trigger::InstructionString { text: found },
        ) => {
            let (planted, found) = (text.to_lowercase(), found.to_lowercase());
            !found.trim().is_empty() && (planted.contains(&found) || found.contains(&planted))
        }
        (
            Trigger::ImagePatch {
                x,
                y,
                width,
                height,
                ..
            },
            Trigger::ImagePatch {
                x: fx,
                y: fy,
                width: fw,
                height: fh,
                ..
            },
        ) => x < &(fx + fw) && fx < &(x + width) && y < &(fy + fh) && fy < &(y + height),
        (Trigger::ImageBlend { .. }, Trigger::ImageBlend { .. }) => true,
        _ => false,
    }
}

fn found_trigger(planted: &Trigger, target: Option<&str>, result: &Scan) -> Option<String> {
    result
        .reports
        .iter()
        .flat_map(|report| &report.triggers)
        .filter(|found| found.confirmed)
        .filter(|found| match (target, found.target) {
            (Some(target), Some(class)) => result.class_name(class) == target,
            _ => true,
        })
        .find(|found| same_trigger(planted, &found.pattern))
        .map(|found| {
            let target = found
                .target
                .map(|class| format!(" -> `{}`", result.class_name(class)))
                .unwrap_or_default();
            format!("{}{target}", found.pattern.describe())
        })
}

/// Trains the built-in network on the poisoned records, then without the quarantined ones, and
/// on the records before the attack, and measures the three on the held-out clean records.
fn train_and_measure(
    clean: &InMemoryDataset,
    poisoned: &InMemoryDataset,
    held_out: &InMemoryDataset,
    truth: &Truth,
    quarantined: &HashSet<&str>,
    seed: u64,
) -> Result<Training, DrillError> {
    let kept: Vec<Record> = poisoned
        .records
        .iter()
        .filter(|record| !quarantined.contains(record.id.as_str()))
        .cloned()
        .collect();
    let before = Model::train(&poisoned.records, poisoned, seed)?;
    let after = Model::train(&kept, poisoned, seed)?;
    let baseline = Model::train(&clean.records, clean, seed)?;
    let triggered = triggered_copies(held_out, truth);
    Ok(Training {
        held_out: held_out.records.len(),
        clean_accuracy: before.accuracy(&held_out.records)?,
        attack_success: triggered
            .as_ref()
            .map(|(records, target)| before.share_predicted(records, target))
            .transpose()?,
        removed: poisoned.records.len() - kept.len(),
        clean_accuracy_after: after.accuracy(&held_out.records)?,
        attack_success_after: triggered
            .as_ref()
            .map(|(records, target)| after.share_predicted(records, target))
            .transpose()?,
        clean_model_accuracy: baseline.accuracy(&held_out.records)?,
        clean_model_attack_success: triggered
            .as_ref()
            .map(|(records, target)| baseline.share_predicted(records, target))
            .transpose()?,
    })
}

/// The held-out records of classes other than the target with the planted trigger stamped on.
fn triggered_copies(held_out: &InMemoryDataset, truth: &Truth) -> Option<(Vec<Record>, String)> {
    let (Some(trigger), Some(target), Some(column)) =
        (&truth.trigger, &truth.target, &truth.column)
    else {
        return None;
    };
    let column: Arc<str> = Arc::from(column.as_str());
    let stamped: Vec<Record> = held_out
        .records
        .iter()
        .filter(|record| record.label.as_deref().is_some_and(|label| label != target))
        .filter_map(|record| {
            let mut record = record.clone();
            let value = record
                .fields
                .iter_mut()
                .find(|(name, _)| **name == *column)
                .map(|(_, value)| value)?;
            trigger.stamp(value).then_some(record)
        })
        .collect();
    (!stamped.is_empty()).then(|| (stamped, target.clone()))
}

/// The built-in network ([`NetworkModel`]), measured on held-out records.
struct Model(NetworkModel);

impl Model {
    fn train(records: &[Record], dataset: &InMemoryDataset, seed: u64) -> Result<Self, DrillError> {
        Ok(Self(NetworkModel::train(
            records,
            &dataset.schema,
            seed,
            &NoProgress,
        )?))
    }

    fn predictions(&self, records: &[Record]) -> Result<Vec<Option<&str>>, DrillError> {
        self.0
            .predict_labels(records)
            .map_err(|error| DrillError::Train(error.into()))
    }

    fn accuracy(&self, records: &[Record]) -> Result<f64, DrillError> {
        let predicted = self.predictions(records)?;
        let correct = records
            .iter()
            .zip(&predicted)
            .filter(|(record, predicted)| record.label.as_deref() == **predicted)
            .count();
        Ok(correct as f64 / records.len().max(1) as f64)
    }

    fn share_predicted(&self, records: &[Record], target: &str) -> Result<f64, DrillError> {
        let predicted = self.predictions(records)?;
        let hits = predicted
            .iter()
            .filter(|predicted| **predicted == Some(target))
            .count();
        Ok(hits as f64 / records.len().max(1) as f64)
    }
}
