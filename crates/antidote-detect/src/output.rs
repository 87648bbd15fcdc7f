//! The files a scan writes: `summary.json` ([`Summary`]) and one line of `findings.jsonl` per
//! flagged record ([`FindingLine`]), typed and versioned.
//!
//! Both carry [`SCHEMA_VERSION`]. Within a version fields are only added, never renamed,
//! removed or given a new meaning; `doc/report-schema.md` documents every field. Values that
//! are measured (scores, purities, seconds) are rounded to four decimals, so that the files are
//! stable and readable, and object keys are written in alphabetical order.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use antidote_core::display::round4;
use antidote_core::{RecordId, Trigger};
use antidote_data::Record;
use serde::{Deserialize, Serialize};

use crate::concentration::Concentration;
use crate::findings::FlaggedRecord;
use crate::policy::{Policy, Tier};
use crate::scan::{Models, Scan, Timing};
use crate::{DetectorId, DetectorReport, DiscoveredTrigger, SourceVerdict};

/// The version of `summary.json` and `findings.jsonl`; bumped when a field is renamed, removed
/// or changes meaning.
pub const SCHEMA_VERSION: u32 = 2;

/// What `summary.json` calls the class of an unlabelled record.
pub const UNLABELLED: &str = "(unlabelled)";

/// One line of `findings.jsonl`: a flagged record, its fused score and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingLine {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The record's id.
    pub id: RecordId,
    /// The fused suspicion in `(0, 1]`, rounded to four decimals.
    pub score: f64,
    /// Whether the policy quarantines the record (its tier is `quarantine`).
    pub quarantine: bool,
    /// Its tier: `quarantine` (evidence of poisoning) or `review` (natural-looking noise).
    pub tier: Tier,
    /// Why the policy quarantines it, `None` in review.
    pub reason: Option<String>,
    /// The record's label, if any.
    pub label: Option<String>,
    /// The record's source, if any.
    pub source: Option<String>,
    /// The detectors that flagged it, most confident first.
    pub detectors: Vec<DetectorId>,
    /// Their confidences, in the same order, rounded to four decimals.
    pub confidences: Vec<f64>,
    /// Their sentences, in the same order.
    pub evidence: Vec<String>,
}

impl From<FlaggedRecord<'_>> for FindingLine {
    fn from(flagged: FlaggedRecord<'_>) -> Self {
        let FlaggedRecord { record, fused } = flagged;
        Self {
            schema_version: SCHEMA_VERSION,
            id: record.id.clone(),
            score: round4(fused.score),
            quarantine: fused.quarantined(),
            tier: fused.tier,
            reason: fused.reason.clone(),
            label: record.label.clone(),
            source: record.source.clone(),
            detectors: fused.detectors.clone(),
            confidences: fused.confidences.iter().copied().map(round4).collect(),
            evidence: fused.evidence.clone(),
        }
    }
}

/// The lines of `findings.jsonl` of a scan, highest score first.
#[must_use]
pub fn finding_lines(scan: &Scan, records: &[Record]) -> Vec<FindingLine> {
    scan.findings(records).map(FindingLine::from).collect()
}

/// Writes `lines` as JSON Lines, keys in alphabetical order.
///
/// # Errors
///
/// When `writer` fails.
pub fn write_findings(lines: &[FindingLine], mut writer: impl Write) -> std::io::Result<()> {
    for line in lines {
        serde_json::to_writer(&mut writer, &sorted(line)?)?;
        writer.write_all(b"\n")?;
    }
    Ok(())
}

/// `summary.json`: the verdict, the counts and what every detector found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The version of antidote that wrote it.
    pub antidote: String,
    /// The scanned dataset, as given on the command line.
    pub input: PathBuf,
    /// Records scanned.
    pub records: usize,
    /// Class names, in the scan's class order (empty for unlabelled data).
    pub classes: Vec<String>,
    /// The policy's decision.
    pub verdict: VerdictSummary,
    /// Flagged records per label ([`UNLABELLED`] for records without one).
    pub flagged_per_class: BTreeMap<String, usize>,
    /// Quarantined records per label.
    pub quarantined_per_class: BTreeMap<String, usize>,
    /// Records in review per label.
    pub review_per_class: BTreeMap<String, usize>,
    /// Label issues concentrated beyond natural noise (class pairs, sources, windows).
    pub concentrations: Vec<Concentration>,
    /// What each detector found, by detector name.
    pub detectors: BTreeMap<DetectorId, DetectorSummary>,
    /// Every discovered trigger, confirmed or not, in detector order.
    pub triggers: Vec<TriggerSummary>,
    /// The verdicts on sources.
    pub sources: SourcesSummary,
    /// The policy the scan ran with.
    pub policy: Policy,
    /// The configuration file it came from, if any.
    pub config: Option<PathBuf>,
    /// The seed.
    pub seed: u64,
    /// The models behind the detectors.
    pub models: Models,
    /// Where `--split` wrote the records, when it did.
    pub split: Option<SplitSummary>,
    /// Seconds per stage, rounded to four decimals.
    pub timings: Vec<Timing>,
    /// Seconds the whole command took, rounded to four decimals.
    pub seconds: f64,
}

/// The verdict in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictSummary {
    /// Whether the data may be trained on.
    pub train: bool,
    /// Why not, one sentence each (empty when `train`).
    pub reasons: Vec<String>,
    /// Records flagged by at least one detector.
    pub flagged: usize,
    /// Records quarantined (the quarantine tier).
    pub quarantined: usize,
    /// Flagged records in review (the review tier).
    pub review: usize,
}

/// One detector in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorSummary {
    /// Records it flagged.
    pub flagged: usize,
    /// The score from which it flags, when flags follow from one threshold.
    pub threshold: Option<f64>,
    /// Its flags per class name (empty for unlabelled data).
    pub flagged_per_class: BTreeMap<String, usize>,
    /// Its per-class verdicts, for detectors that give them.
    pub classes: Vec<ClassSummary>,
    /// Sentences about the whole dataset (what was skipped and why, what was measured).
    pub notes: Vec<String>,
}

/// A detector's verdict on one class, in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassSummary {
    /// The class name.
    pub class: String,
    /// Whether the class looks poisoned.
    pub suspicious: bool,
    /// The statistic the verdict rests on, rounded to four decimals.
    pub statistic: f64,
    /// How many of the class's records the detector flags.
    pub flagged: usize,
    /// One sentence on why.
    pub explanation: String,
}

/// A discovered trigger in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerSummary {
    /// What it looks like, without pixels ([`Trigger::without_pixels`]); a blend's weight
    /// rounded to four decimals.
    pub pattern: Trigger,
    /// The class name it pulls records into, when the data is labelled.
    pub target: Option<String>,
    /// Records carrying it.
    pub support: usize,
    /// The share of those records with the target label, rounded to four decimals.
    pub purity: f64,
    /// The share of stamped clean records whose prediction flips, when measured.
    pub flip_rate: Option<f64>,
    /// Whether the causal test confirmed it.
    pub confirmed: bool,
    /// One sentence on what was found.
    pub explanation: String,
}

/// The sources in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcesSummary {
    /// The names of the distrusted sources.
    pub distrusted: Vec<String>,
    /// Every source's verdict.
    pub all: Vec<SourceVerdict>,
}

/// Where `--split` wrote the records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// Records no detector flagged.
    pub clean: usize,
    /// Records quarantined.
    pub quarantined: usize,
    /// Records for review.
    pub review: usize,
    /// The clean records.
    pub clean_path: PathBuf,
    /// The quarantine.
    pub quarantine_path: PathBuf,
    /// The records for review.
    pub review_path: PathBuf,
}

/// What a summary needs beyond the scan and its records.
#[derive(Debug, Clone)]
pub struct SummaryContext<'a> {
    /// The scanned dataset, as given.
    pub input: &'a Path,
    /// The configuration file the policy came from, if any.
    pub config: Option<&'a Path>,
    /// The policy the scan ran with.
    pub policy: &'a Policy,
    /// The scan's seed.
    pub seed: u64,
    /// Where the split went, if it was written.
    pub split: Option<SplitSummary>,
    /// Seconds the whole command took.
    pub seconds: f64,
}

impl Summary {
    /// The summary of `scan` over `records` (the records it scanned, in order).
    #[must_use]
    pub fn new(scan: &Scan, records: &[Record], context: SummaryContext<'_>) -> Self {
        let mut flagged_per_class: BTreeMap<String, usize> = BTreeMap::new();
        let mut quarantined_per_class: BTreeMap<String, usize> = BTreeMap::new();
        let mut review_per_class: BTreeMap<String, usize> = BTreeMap::new();
        for flagged in scan.findings(records) {
            let class = flagged
                .record
                .label
                .clone()
                .unwrap_or_else(|| UNLABELLED.to_owned());
            let per_class = match flagged.tier() {
                Tier::Quarantine => &mut quarantined_per_class,
                Tier::Review => &mut review_per_class,
            };
            *per_class.entry(class.clone()).or_default() += 1;
            *flagged_per_class.entry(class).or_default() += 1;
        }
        let sources: Vec<SourceVerdict> = scan
            .reports
            .iter()
            .flat_map(|report| report.sources.iter().cloned())
            .collect();
        Self {
            schema_version: SCHEMA_VERSION,
            antidote: env!("CARGO_PKG_VERSION").to_owned(),
            input: context.input.to_path_buf(),
            records: records.len(),
            classes: scan.class_names.clone(),
            verdict: VerdictSummary {
                train: scan.verdict.train,
                reasons: scan.verdict.reasons.clone(),
                flagged: scan.fused.len(),
                quarantined: scan.verdict.quarantined,
                review: scan.verdict.review,
            },
            flagged_per_class,
            quarantined_per_class,
            review_per_class,
            concentrations: scan
                .verdict
                .concentrations
                .iter()
                .map(|concentration| Concentration {
                    expected: round4(concentration.expected),
                    ..concentration.clone()
                })
                .collect(),
            detectors: scan
                .reports
                .iter()
                .map(|report| (report.detector, DetectorSummary::new(scan, report)))
                .collect(),
            triggers: scan
                .reports
                .iter()
                .flat_map(|report| &report.triggers)
                .map(|trigger| TriggerSummary::new(scan, trigger))
                .collect(),
            sources: SourcesSummary {
                distrusted: sources
                    .iter()
                    .filter(|source| source.suspicious)
                    .map(|source| source.source.clone())
                    .collect(),
                all: sources,
            },
            policy: context.policy.clone(),
            config: context.config.map(Path::to_path_buf),
            seed: context.seed,
            models: scan.models.clone(),
            split: context.split,
            timings: scan
                .timings
                .iter()
                .map(|timing| Timing {
                    stage: timing.stage.clone(),
                    seconds: round4(timing.seconds),
                })
                .collect(),
            seconds: round4(context.seconds),
        }
    }

    /// The summary as a JSON value, keys in alphabetical order (as `summary.json` writes them).
    ///
    /// # Errors
    ///
    /// Never in practice: every field is plain data with string keys.
    pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        sorted(self)
    }

    /// Writes `summary.json`: pretty-printed, keys in alphabetical order, with a final newline.
    ///
    /// # Errors
    ///
    /// When `writer` fails.
    pub fn write(&self, mut writer: impl Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut writer, &self.to_json()?)?;
        writer.write_all(b"\n")
    }
}

impl DetectorSummary {
    fn new(scan: &Scan, report: &DetectorReport) -> Self {
        let mut flagged_per_class: BTreeMap<String, usize> = BTreeMap::new();
        if let Some(labels) = &scan.labels {
            for flag in &report.flags {
                if let Some(&class) = labels.get(flag.index) {
                    *flagged_per_class.entry(scan.class_name(class)).or_default() += 1;
                }
            }
        }
        Self {
            flagged: report.flags.len(),
            threshold: report.threshold.map(round4),
            flagged_per_class,
            classes: report
                .classes
                .iter()
                .map(|verdict| ClassSummary {
                    class: scan.class_name(verdict.class),
                    suspicious: verdict.suspicious,
                    statistic: round4(verdict.statistic),
                    flagged: verdict.flagged,
                    explanation: verdict.explanation.clone(),
                })
                .collect(),
            notes: report.notes.clone(),
        }
    }
}

impl TriggerSummary {
    fn new(scan: &Scan, trigger: &DiscoveredTrigger) -> Self {
        Self {
            pattern: summary_pattern(&trigger.pattern),
            target: trigger.target.map(|class| scan.class_name(class)),
            support: trigger.support,
            purity: round4(trigger.purity),
            flip_rate: trigger.flip_rate.map(round4),
            confirmed: trigger.confirmed,
            explanation: trigger.explanation.clone(),
        }
    }
}

/// A trigger as `summary.json` writes it: without pixels, the blending weight rounded.
fn summary_pattern(trigger: &Trigger) -> Trigger {
    let mut pattern = trigger.without_pixels();
    if let Trigger::ImageBlend { alpha, .. } = &mut pattern {
        *alpha = round4(*alpha);
    }
    pattern
}

/// `value` as JSON with its object keys in alphabetical order: `serde_json`'s map is ordered by
/// key, which is the order both files have always been written in.
fn sorted(value: &impl Serialize) -> serde_json::Result<serde_json::Value> {
    serde_json::to_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_patterns_drop_pixels_and_keep_the_kind_tag() {
        let patch = Trigger::ImagePatch {
            x: 24,
            y: 20,
            width: 4,
            height: 3,
            channels: 1,
            pixels: vec![255; 12],
        };
        assert_eq!(
            serde_json::to_value(summary_pattern(&patch)).unwrap(),
            serde_json::json!({"kind": "image-patch", "x": 24, "y": 20, "width": 4, "height": 3, "channels": 1})
        );
        let blend = Trigger::ImageBlend {
            width: 1,
            height: 1,
            channels: 1,
            pixels: vec![9],
            alpha: 0.123_456,
        };
        assert_eq!(
            serde_json::to_value(summary_pattern(&blend)).unwrap(),
            serde_json::json!({"kind": "image-blend", "width": 1, "height": 1, "channels": 1, "alpha": 0.1235})
        );
        // Text triggers are written exactly as the trigger itself serialises.
        let phrase = Trigger::Phrase {
            words: vec!["blue".into(), "moon".into()],
        };
        assert_eq!(
            serde_json::to_value(summary_pattern(&phrase)).unwrap(),
            serde_json::to_value(&phrase).unwrap()
        );
    }
}
