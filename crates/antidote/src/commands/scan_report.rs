//! The HTML report of `antidote scan --report`.

use std::io::Write as _;
use std::path::Path;

use antidote_data::Record;
use antidote_detect::scan::Scan;
use antidote_detect::{DetectorId, DetectorReport};
use antidote_provenance::lock::AtomicFile;
use antidote_report::{
    Bin, Block, Cell, Distribution, Emphasis, Marker, Metric, Report, Section, Series, Table,
    Verdict,
};
use serde_json::Value as Json;

use super::explain::explanation;
use crate::cli::ScanArgs;

/// How many flagged records each detector's table lists.
const LISTED: usize = 50;

/// Writes the report atomically.
pub fn write(document: &Report, path: &Path) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.writer
        .write_all(antidote_report::render_html(document).as_bytes())?;
    file.commit()?;
    Ok(())
}

/// The report of a scan.
pub fn document(
    result: &Scan,
    records: &[Record],
    summary: &Json,
    args: &ScanArgs,
) -> anyhow::Result<Report> {
    let verdict = &result.verdict;
    let headline = if verdict.train {
        format!(
            "Train: no detector found poisoning ({} records flagged for review, none quarantined beyond the policy)",
            result.fused.len()
        )
    } else {
        format!(
            "Do not train: {}",
            verdict.reasons.first().cloned().unwrap_or_default()
        )
    };
    let triggers = summary["triggers"].as_array().map_or(0, Vec::len);
    let metrics = vec![
        Metric::new("Records", records.len().to_string()),
        Metric::new("Flagged", result.fused.len().to_string()),
        Metric::new("Quarantined", verdict.quarantined.to_string())
            .with_emphasis((verdict.quarantined > 0).then_some(Emphasis::Warn)),
        Metric::new("Triggers", triggers.to_string())
            .with_emphasis((triggers > 0).then_some(Emphasis::Bad)),
    ];
    let mut sections = vec![findings_section(result, records)];
    sections.extend(
        result
            .reports
            .iter()
            .map(|report| detector_section(result, records, report)),
    );
    Ok(Report {
        title: "antidote scan".to_owned(),
        subtitle: Some(format!("`{}`", args.data.display())),
        verdict: Verdict {
            passed: verdict.train,
            headline,
        },
        metrics,
        sections,
        provenance: super::check::provenance_of(&[("data", &args.data)])?,
    })
}

fn findings_section(result: &Scan, records: &[Record]) -> Section {
    let rows = result
        .fused
        .iter()
        .take(LISTED)
        .map(|fused| {
            let record = &records[fused.index];
            vec![
                Cell::code(record.id.as_str()),
                Cell::code(record.label.clone().unwrap_or_default()),
                Cell::number(format!("{:.3}", fused.score)),
                Cell::text(
                    fused
                        .detectors
                        .iter()
                        .map(|detector| detector.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Cell::text(fused.evidence.first().cloned().unwrap_or_default()),
            ]
        })
        .collect();
    Section {
        title: "Most suspicious records".to_owned(),
        about: "Every detector's flags, fused into one score per record: the record is clean only if every detector that flagged it is wrong. Records at or above the policy's quarantine score go to the quarantine.".to_owned(),
        blocks: vec![Block::Table(Table {
            caption: Some(format!(
                "{} of {} flagged records, highest score first",
                result.fused.len().min(LISTED),
                result.fused.len()
            )),
            headers: ["id", "label", "score", "detectors", "why"].map(str::to_owned).to_vec(),
            rows,
        })],
    }
}

fn detector_section(result: &Scan, records: &[Record], report: &DetectorReport) -> Section {
    let mut blocks: Vec<Block> = report
        .notes
        .iter()
        .map(|note| Block::paragraph(note.clone()))
        .collect();
    if let Some(distribution) = score_distribution(report) {
        blocks.push(Block::Distribution(distribution));
    }
    if !report.triggers.is_empty() {
        blocks.push(Block::Table(Table {
            caption: Some("Discovered triggers".to_owned()),
            headers: [
                "trigger",
                "target",
                "support",
                "purity",
                "flip rate",
                "confirmed",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: report
                .triggers
                .iter()
                .map(|trigger| {
                    vec![
                        Cell::text(trigger.explanation.clone()),
                        Cell::code(
                            trigger
                                .target
                                .map(|class| result.class_name(class))
                                .unwrap_or_default(),
                        ),
                        Cell::number(trigger.support.to_string()),
                        Cell::number(format!("{:.0}%", 100.0 * trigger.purity)),
                        Cell::number(trigger.flip_rate.map_or_else(
                            || "-".to_owned(),
                            |rate| format!("{:.0}%", 100.0 * rate),
                        )),
                        Cell::text(if trigger.confirmed {
                            "confirmed"
                        } else {
                            "rejected"
                        })
                        .with_emphasis(trigger.confirmed.then_some(Emphasis::Bad)),
                    ]
                })
                .collect(),
        }));
    }
    if !report.classes.is_empty() {
        blocks.push(Block::Table(Table {
            caption: Some("Verdict per class".to_owned()),
            headers: ["class", "verdict", "statistic", "flagged", "why"]
                .map(str::to_owned)
                .to_vec(),
            rows: report
                .classes
                .iter()
                .map(|verdict| {
                    vec![
                        Cell::code(result.class_name(verdict.class)),
                        Cell::text(if verdict.suspicious {
                            "suspicious"
                        } else {
                            "clean"
                        })
                        .with_emphasis(Some(if verdict.suspicious {
                            Emphasis::Bad
                        } else {
                            Emphasis::Good
                        })),
                        Cell::number(format!("{:.2}", verdict.statistic)),
                        Cell::number(verdict.flagged.to_string()),
                        Cell::text(verdict.explanation.clone()),
                    ]
                })
                .collect(),
        }));
    }
    if !report.sources.is_empty() {
        blocks.push(Block::Table(Table {
            caption: Some("Sources".to_owned()),
            headers: ["source", "records", "flagged", "p-value", "verdict"]
                .map(str::to_owned)
                .to_vec(),
            rows: report
                .sources
                .iter()
                .map(|source| {
                    vec![
                        Cell::code(source.source.clone()),
                        Cell::number(source.records.to_string()),
                        Cell::number(source.flagged.to_string()),
                        Cell::number(format!("{:.2e}", source.p_value)),
                        Cell::text(if source.suspicious {
                            "distrusted"
                        } else {
                            "trusted"
                        })
                        .with_emphasis(source.suspicious.then_some(Emphasis::Bad)),
                    ]
                })
                .collect(),
        }));
    }
    if !report.flags.is_empty() {
        let mut flags: Vec<_> = report.flags.iter().collect();
        flags.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.index.cmp(&b.index))
        });
        blocks.push(Block::Table(Table {
            caption: Some(format!(
                "{} of {} flagged records",
                flags.len().min(LISTED),
                flags.len()
            )),
            headers: ["id", "label", "confidence", "why"]
                .map(str::to_owned)
                .to_vec(),
            rows: flags
                .iter()
                .take(LISTED)
                .map(|flag| {
                    let record = &records[flag.index];
                    vec![
                        Cell::code(record.id.as_str()),
                        Cell::code(record.label.clone().unwrap_or_default()),
                        Cell::number(format!("{:.2}", flag.confidence)),
                        Cell::text(flag.evidence.clone()),
                    ]
                })
                .collect(),
        }));
    }
    Section {
        title: report.detector.name().to_owned(),
        about: about(report.detector),
        blocks,
    }
}

/// The first paragraph of the detector's explanation.
fn about(detector: DetectorId) -> String {
    let text = explanation(detector);
    text.split("\n\n").nth(1).unwrap_or(text).replace('\n', " ")
}

/// Scores of flagged and unflagged records, overlaid, with the threshold marked.
fn score_distribution(report: &DetectorReport) -> Option<Distribution> {
    let scores: Vec<f64> = report
        .scores
        .iter()
        .copied()
        .filter(|score| score.is_finite())
        .collect();
    if scores.is_empty() {
        return None;
    }
    let low = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let high = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if high <= low {
        return None;
    }
    let mut flagged = vec![false; report.scores.len()];
    for flag in &report.flags {
        if flag.index < flagged.len() {
            flagged[flag.index] = true;
        }
    }
    let bins = 30;
    let histogram = |keep: bool| -> Option<Series> {
        let values: Vec<f64> = report
            .scores
            .iter()
            .zip(&flagged)
            .filter(|&(score, &is_flagged)| is_flagged == keep && score.is_finite())
            .map(|(score, _)| *score)
            .collect();
        if values.is_empty() {
            return None;
        }
        let width = (high - low) / f64::from(bins);
        let mut counts = vec![0usize; bins as usize];
        for value in &values {
            let bin = (((value - low) / width) as usize).min(bins as usize - 1);
            counts[bin] += 1;
        }
        Some(Series {
            name: if keep { "flagged" } else { "not flagged" }.to_owned(),
            bins: counts
                .iter()
                .enumerate()
                .map(|(bin, &count)| Bin {
                    low: low + width * bin as f64,
                    high: low + width * (bin + 1) as f64,
                    share: count as f64 / values.len() as f64,
                })
                .collect(),
        })
    };
    Some(Distribution {
        title: format!("{} scores", report.detector.name()),
        caption: Some(
            "Share of records per score bin; flagged and unflagged records are drawn separately."
                .to_owned(),
        ),
        x_label: "score".to_owned(),
        series: [histogram(false), histogram(true)]
            .into_iter()
            .flatten()
            .collect(),
        marker: report.threshold.map(|value| Marker {
            value,
            label: format!("threshold {value:.2}"),
        }),
    })
}
