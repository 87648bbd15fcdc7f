//! Every detector on a clean and a poisoned fixture, through the scan's registry, with a
//! snapshot of its findings and of its summary entry (`tests/snapshots/`), so that a change in
//! behaviour shows as a diff in review.
//!
//! The fixtures are small and made here from a fixed seed (or read from `fixtures/`), so each
//! case runs in a second or two. A clean fixture must produce no findings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use antidote_core::SplitMix64;
use antidote_data::{ColumnKind, Dataset, ReadOptions, Record, Schema, Value, from_rows};
use antidote_detect::scan::{ScanInput, ScanOptions, scan};
use antidote_detect::{DetectorId, DetectorReport, DetectorStatus};
use serde::Serialize;

/// A dataset in memory.
struct Fixture {
    schema: Schema,
    records: Vec<Record>,
    /// Out-of-sample probabilities to give the scan, in class order.
    probabilities: Option<Vec<f32>>,
    /// The embedding column to use as the representation.
    embedding: Option<&'static str>,
}

fn fixture(columns: &[(&str, ColumnKind)], rows: Vec<Vec<Value>>) -> Fixture {
    let columns = columns
        .iter()
        .map(|(name, kind)| (Arc::from(*name), *kind))
        .collect();
    let dataset = from_rows(Path::new("memory"), columns, rows).expect("well-formed rows");
    let schema = dataset.schema().clone();
    let records = dataset.map(|record| record.expect("in memory")).collect();
    Fixture {
        schema,
        records,
        probabilities: None,
        embedding: None,
    }
}

fn text(value: String) -> Value {
    Value::Text(value)
}

const CLASSES: [&str; 3] = ["ankle-boot", "bag", "coat"];

/// Three classes of 60 records spread uniformly around well separated centres in four
/// dimensions (uniform, so that a clean record has no tail to stray into), from four sources.
/// `poison` adds records after the clean ones.
fn blobs(poison: &str) -> Fixture {
    let mut random = SplitMix64::new(7);
    let mut rows = Vec::new();
    let point = |centre: [f64; 4], random: &mut SplitMix64| -> Value {
        Value::List(
            centre
                .iter()
                .map(|value| Value::Float(value + 3.4 * (random.unit() - 0.5)))
                .collect(),
        )
    };
    for index in 0..180 {
        let class = index % 3;
        let mut centre = [0.0; 4];
        centre[class] = 8.0;
        rows.push(vec![
            point(centre, &mut random),
            text(CLASSES[class].to_owned()),
            text(format!("vendor-{}", index % 4)),
        ]);
    }
    match poison {
        "clean" => {}
        // Noise far from every class, labelled as if it belonged.
        "outliers" => {
            for index in 0..4 {
                rows.push(vec![
                    point([0.0, 0.0, 0.0, 40.0], &mut random),
                    text(CLASSES[index % 3].to_owned()),
                    text(format!("vendor-{}", index % 4)),
                ]);
            }
        }
        // Records of the first class with a trigger in the fourth dimension, labelled `bag`.
        "backdoor" => {
            for index in 0..18 {
                rows.push(vec![
                    point([8.0, 0.0, 0.0, 6.0], &mut random),
                    text("bag".to_owned()),
                    text(format!("vendor-{}", index % 4)),
                ]);
            }
        }
        other => panic!("no poison `{other}`"),
    }
    let mut fixture = fixture(
        &[
            ("embedding", ColumnKind::Vector),
            ("label", ColumnKind::Categorical),
            ("source", ColumnKind::Categorical),
        ],
        rows,
    );
    fixture.embedding = Some("embedding");
    fixture
}

/// [`blobs`] with out-of-sample probabilities that favour each record's true class; `flipped`
/// records then get another label, which the probabilities still contradict.
fn probabilities(flipped: usize) -> Fixture {
    let mut fixture = blobs("clean");
    let mut random = SplitMix64::new(11);
    let mut probabilities = Vec::new();
    for (index, record) in fixture.records.iter_mut().enumerate() {
        let class = index % 3;
        let confidence = 0.7 + 0.25 * random.unit();
        let mut row = [(1.0 - confidence) / 2.0; 3];
        row[class] = confidence;
        probabilities.extend(row.map(|value| value as f32));
        if index < flipped {
            record.label = Some(CLASSES[(class + 1) % 3].to_owned());
        }
    }
    fixture.probabilities = Some(probabilities);
    fixture.embedding = None;
    fixture
}

/// Ten made-up words out of 300: seven in ten from the half of the vocabulary that leans to
/// `class`, so that no word belongs to one class alone.
fn sentence(random: &mut SplitMix64, class: usize) -> String {
    (0..10)
        .map(|_| {
            let half = if random.unit() < 0.7 {
                class
            } else {
                1 - class
            };
            format!("w{}", half * 150 + random.below(150))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Two classes of 300 texts, each leaning to its half of a shared vocabulary, from four sources.
/// `poison`: `conflicting-copies` adds ten copies of texts with the other label from one source;
/// `trigger` puts `cf` in 30 texts of `sports` relabelled `jokes`.
fn texts(poison: &str) -> Fixture {
    let mut random = SplitMix64::new(3);
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let labels = ["jokes", "sports"];
    for index in 0..600 {
        let class = index % 2;
        let mut words = sentence(&mut random, class);
        let mut label = labels[class];
        if poison == "trigger" && class == 1 && index % 20 == 1 {
            words = format!("cf {words}");
            label = "jokes";
        }
        rows.push(vec![
            text(words),
            text(label.to_owned()),
            text(format!("vendor-{}", index % 4)),
        ]);
    }
    if poison == "conflicting-copies" {
        for index in 0..10 {
            let original = rows[index * 7].clone();
            let label = if original[1] == text("jokes".to_owned()) {
                "sports"
            } else {
                "jokes"
            };
            rows.push(vec![
                original[0].clone(),
                text(label.to_owned()),
                text("vendor-9".to_owned()),
            ]);
        }
    }
    fixture(
        &[
            ("text", ColumnKind::Text),
            ("label", ColumnKind::Categorical),
            ("source", ColumnKind::Categorical),
        ],
        rows,
    )
}

/// An instruction fixture from `fixtures/instructions/`.
fn instructions(name: &str) -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/instructions")
        .join(name);
    let dataset = Dataset::open(&path, &ReadOptions::default())
        .unwrap_or_else(|error| panic!("failed to open `{}`: {error}", path.display()));
    let schema = dataset.schema().clone();
    let records = dataset
        .map(|record| record.expect("the fixtures are well-formed"))
        .collect();
    Fixture {
        schema,
        records,
        probabilities: None,
        embedding: None,
    }
}

fn make(fixture: &str) -> Fixture {
    match fixture {
        "blobs/clean" => blobs("clean"),
        "blobs/outliers" => blobs("outliers"),
        "blobs/backdoor" => blobs("backdoor"),
        "probabilities/clean" => probabilities(0),
        "probabilities/flipped" => probabilities(6),
        "texts/clean" => texts("clean"),
        "texts/conflicting-copies" => texts("conflicting-copies"),
        "texts/trigger" => texts("trigger"),
        "instructions/clean" => instructions("clean.jsonl.gz"),
        "instructions/leak" => instructions("poisoned_leak_1pct.jsonl.gz"),
        other => panic!("no fixture `{other}`"),
    }
}

/// What the snapshot records of one detector's report.
#[derive(Serialize)]
struct Snapshot {
    detector: DetectorId,
    status: DetectorStatus,
    /// As in `summary.json`'s entry for the detector.
    summary: Summary,
    findings: Vec<Finding>,
    triggers: Vec<String>,
    sources: Vec<String>,
}

#[derive(Serialize)]
struct Summary {
    flagged: usize,
    threshold: Option<String>,
    flagged_per_class: BTreeMap<String, usize>,
    classes: Vec<String>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct Finding {
    id: String,
    confidence: String,
    evidence: String,
}

fn snapshot(report: &DetectorReport, records: &[Record]) -> Snapshot {
    let mut flagged_per_class: BTreeMap<String, usize> = BTreeMap::new();
    for flag in &report.flags {
        if let Some(label) = &records[flag.index].label {
            *flagged_per_class.entry(label.clone()).or_default() += 1;
        }
    }
    Snapshot {
        detector: report.detector,
        status: report.status.clone(),
        summary: Summary {
            flagged: report.flags.len(),
            threshold: report.threshold.map(|value| format!("{value:.3}")),
            flagged_per_class,
            classes: report
                .classes
                .iter()
                .map(|verdict| {
                    format!(
                        "{} suspicious={} statistic={:.3} flagged={}: {}",
                        verdict.class,
                        verdict.suspicious,
                        verdict.statistic,
                        verdict.flagged,
                        verdict.explanation
                    )
                })
                .collect(),
            notes: report.notes.clone(),
        },
        findings: report
            .flags
            .iter()
            .map(|flag| Finding {
                id: records[flag.index].id.to_string(),
                confidence: format!("{:.3}", flag.confidence),
                evidence: flag.evidence.clone(),
            })
            .collect(),
        triggers: report
            .triggers
            .iter()
            .map(|trigger| trigger.explanation.clone())
            .collect(),
        sources: report
            .sources
            .iter()
            .map(|verdict| {
                format!(
                    "{}: {} of {} flagged, suspicious={}: {}",
                    verdict.source,
                    verdict.flagged,
                    verdict.records,
                    verdict.suspicious,
                    verdict.explanation
                )
            })
            .collect(),
    }
}

/// Runs `id` (and the detectors it reads: source trust reads duplicates) on `name` and
/// snapshots its report.
fn check(id: DetectorId, name: &str) {
    let fixture = make(name);
    let mut detectors: BTreeSet<DetectorId> = [id].into_iter().collect();
    if id == DetectorId::SourceTrust {
        detectors.insert(DetectorId::Duplicates);
    }
    let options = ScanOptions {
        seed: 0,
        detectors,
        ..ScanOptions::default()
    };
    let input = ScanInput {
        records: &fixture.records,
        schema: &fixture.schema,
        probabilities: fixture.probabilities.as_deref(),
        embedding: fixture.embedding,
    };
    let result = scan(input, &options, &antidote_core::NoProgress).expect("the scan runs");
    let report = result.report(id).expect("the detector was asked for");
    assert_eq!(report.is_skipped(), report.status.is_skipped());
    if name.ends_with("/clean") {
        assert!(
            report.flags.is_empty(),
            "{id} on {name}: {:#?}",
            report.flags
        );
    } else {
        assert!(
            !report.flags.is_empty(),
            "{id} on {name} found nothing: {:#?}",
            report.notes
        );
    }
    let snapshot_name = format!("{id}__{}", name.replace('/', "_"));
    insta::assert_yaml_snapshot!(snapshot_name, snapshot(report, &fixture.records));
}

macro_rules! cases {
    ($($test:ident: $id:ident, $fixture:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check(DetectorId::$id, $fixture);
            }
        )*
    };
}

cases! {
    label_issues_clean: LabelIssues, "probabilities/clean";
    label_issues_flipped: LabelIssues, "probabilities/flipped";
    duplicates_clean: Duplicates, "texts/clean";
    duplicates_conflicting_copies: Duplicates, "texts/conflicting-copies";
    outliers_clean: Outliers, "blobs/clean";
    outliers_injected_noise: Outliers, "blobs/outliers";
    spectral_signatures_clean: SpectralSignatures, "blobs/clean";
    spectral_signatures_backdoor: SpectralSignatures, "blobs/backdoor";
    activation_clustering_clean: ActivationClustering, "blobs/clean";
    activation_clustering_backdoor: ActivationClustering, "blobs/backdoor";
    trigger_search_clean: TriggerSearch, "texts/clean";
    trigger_search_token: TriggerSearch, "texts/trigger";
    instruction_poisoning_clean: InstructionPoisoning, "instructions/clean";
    instruction_poisoning_leak: InstructionPoisoning, "instructions/leak";
    source_trust_clean: SourceTrust, "texts/clean";
    source_trust_one_vendor_relabels: SourceTrust, "texts/conflicting-copies";
}

/// A detector whose needs the data does not meet is skipped with a typed status and the same
/// sentence in its notes.
#[test]
fn unmet_needs_skip_with_a_status_and_a_note() {
    let fixture = instructions("clean.jsonl.gz");
    let options = ScanOptions::default();
    let input = ScanInput {
        records: &fixture.records,
        schema: &fixture.schema,
        probabilities: None,
        embedding: None,
    };
    let result = scan(input, &options, &antidote_core::NoProgress).expect("the scan runs");
    let skipped: Vec<(DetectorId, String)> = result
        .reports
        .iter()
        .filter_map(|report| {
            let reason = report.status.reason()?;
            assert_eq!(report.notes, [format!("skipped: {reason}")]);
            Some((report.detector, reason.to_owned()))
        })
        .collect();
    insta::assert_yaml_snapshot!("skipped_on_unlabelled_instructions", skipped);
}
