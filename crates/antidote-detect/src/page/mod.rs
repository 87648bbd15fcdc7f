//! The HTML report of `antidote scan --report`: the evidence first.
//!
//! The page opens with the verdict in one sentence and the numbers, then the discovered
//! triggers (a picture of an image trigger, the marked string of a text one), then the most
//! suspicious records themselves (thumbnails beside typical records of their class, text with
//! the trigger marked, instruction pairs side by side), then one section per detector: what it
//! looks for, what it found, its charts, its evidence and its tables. Detectors that did not run
//! share one closing section. The footer names the command, the version, the input's digest
//! and the Merkle root `antidote lock` would record for its records.

mod images;
mod text;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use antidote_core::display::{count, percent};
use antidote_core::{Digest, Trigger};
use antidote_data::{Record, Schema};
use antidote_report::{
    BarItem, Bars, Bin, Block, Card, Cell, Details, Distribution, Emphasis, Excerpt, Excerpts,
    Fact, Gallery, GalleryRow, Input, Marker, Metric, Picture, PictureSet, Provenance, Report,
    Section, Series, Table, Verdict,
};

use crate::concentration::Place;
use crate::detectors::explanation_of;
use crate::fusion::FusedRecord;
use crate::policy::{Policy, Tier};
use crate::scan::Scan;
use crate::{DetectorId, DetectorReport, DiscoveredTrigger, Flag, InstructionPair, SourceVerdict};
use images::{Patch, difference, image_of, mean_image, stretched, thumbnail};
use text::{marks, text_of, window};

/// How many records a table lists.
const LISTED: usize = 50;
/// How many flagged records a section shows as pictures or excerpts.
const SHOWN: usize = 24;
/// How many typical records of a class a gallery shows at most, in all.
const TYPICAL: usize = 8;
/// The longest excerpt of a text, in bytes; longer texts are cut around their first mark.
const EXCERPT: usize = 480;
/// How many classes or sources a bar chart shows.
const BARS: usize = 20;
/// Tables of classes or sources longer than this are folded.
const FOLDED: usize = 12;

/// What the scan report shows: the scan, the data it ran on and the policy it ran with.
#[derive(Debug, Clone, Copy)]
pub struct PageInput<'a> {
    /// The scan.
    pub scan: &'a Scan,
    /// The records it scanned, in order.
    pub records: &'a [Record],
    /// Their schema.
    pub schema: &'a Schema,
    /// The policy the scan ran with.
    pub policy: &'a Policy,
    /// The scanned dataset, as given.
    pub data: &'a Path,
    /// The Merkle root `antidote lock` records for the records
    /// (`antidote_provenance::merkle`), so that the report names exactly the data it describes.
    pub lock_root: Digest,
}

/// The report of a scan. `provenance` is the footer (command, version, inputs and their
/// digests); the lock root is added to its inputs.
#[must_use]
pub fn document(input: &PageInput<'_>, mut provenance: Provenance) -> Report {
    let PageInput {
        scan: result,
        records,
        schema,
        policy,
        data,
        lock_root,
    } = *input;
    let view = View::new(result, records, schema);
    let mut sections = Vec::new();
    sections.extend(view.triggers_section());
    sections.extend(view.findings_sections());
    let (ran, skipped): (Vec<&DetectorReport>, Vec<&DetectorReport>) = result
        .reports
        .iter()
        .partition(|report| !report.is_skipped());
    sections.extend(ran.iter().map(|report| view.detector_section(report)));
    sections.extend(skipped_section(&skipped));
    provenance.inputs.push(Input {
        role: "lock root".to_owned(),
        path: data.display().to_string(),
        digest: Some(lock_root),
    });
    Report {
        title: "antidote scan".to_owned(),
        subtitle: Some(format!(
            "`{}`: {} records{}",
            data.display(),
            records.len(),
            if result.class_names.is_empty() {
                String::new()
            } else {
                format!(", {} classes", result.class_names.len())
            }
        )),
        verdict: Verdict {
            passed: result.verdict.train,
            headline: headline(result, policy),
        },
        metrics: metrics(result, policy),
        sections,
        provenance,
    }
}

/// Why a flagged record is where it is: the policy's reason for a quarantine, else the most
/// confident detector's sentence, after the fused score and the detectors.
fn why(fused: &FusedRecord) -> String {
    let detectors: Vec<&str> = fused.detectors.iter().map(|id| id.name()).collect();
    format!(
        "{:.3} from {}: {}",
        fused.score,
        detectors.join(", "),
        fused
            .reason
            .as_deref()
            .or_else(|| fused.evidence.first().map(String::as_str))
            .unwrap_or("")
    )
}

/// `a`, `a and b`, `a, b and c`.
fn listing(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The verdict in one sentence: what was found that decides it, most telling first.
fn headline(result: &Scan, policy: &Policy) -> String {
    let verdict = &result.verdict;
    let records = verdict.records.max(1);
    let share = verdict.quarantined as f64 / records as f64;
    if verdict.train {
        return train_headline(result, policy, share);
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
                trigger.pattern.describe(),
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
    if policy.fail_on_concentrations {
        parts.extend(concentrated_places(verdict));
    }
    if share > policy.max_quarantine_share {
        parts.push(format!(
            "{} of {} records quarantined, above the {} ({}) the policy accepts",
            verdict.quarantined,
            verdict.records,
            policy.quarantine_limit(verdict.records),
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

/// The headline of data that may be trained on.
fn train_headline(result: &Scan, policy: &Policy, share: f64) -> String {
    let verdict = &result.verdict;
    if result.fused.is_empty() {
        format!(
            "Train: no detector flagged any of the {} records.",
            verdict.records
        )
    } else {
        format!(
            "Train: no detector found poisoning; {} quarantined ({}), within the {} the policy accepts, and {} for review.",
            verdict.quarantined,
            percent(share),
            percent(policy.max_quarantine_share),
            count(verdict.review, "record"),
        )
    }
}

/// Where label issues are concentrated beyond natural noise, as one headline part.
fn concentrated_places(verdict: &crate::policy::Verdict) -> Option<String> {
    if verdict.concentrations.is_empty() {
        return None;
    }
    let places: Vec<String> = verdict
        .concentrations
        .iter()
        .map(|concentration| match &concentration.place {
            Place::ClassPair {
                given, suggested, ..
            } => format!("`{given}` labels on `{suggested}` records"),
            Place::Source { source } => format!("source `{source}`"),
            Place::Window { first, last } => format!("records {} to {}", first + 1, last + 1),
        })
        .collect();
    Some(format!(
        "label issues concentrated beyond natural noise in {}",
        listing(&places)
    ))
}

/// The headline numbers.
fn metrics(result: &Scan, policy: &Policy) -> Vec<Metric> {
    let verdict = &result.verdict;
    let records = verdict.records.max(1) as f64;
    let share = verdict.quarantined as f64 / records;
    let triggers: Vec<&DiscoveredTrigger> = result
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
                "{}; the policy accepts up to {} ({})",
                percent(share),
                policy.quarantine_limit(verdict.records),
                percent(policy.max_quarantine_share)
            ))
            .with_emphasis(if share > policy.max_quarantine_share {
                Some(Emphasis::Bad)
            } else if verdict.quarantined > 0 {
                Some(Emphasis::Warn)
            } else {
                Some(Emphasis::Good)
            }),
        Metric::new("Review", verdict.review.to_string()).with_detail(format!(
            "{} of the records; natural-looking noise, never failing the scan alone",
            percent(verdict.review as f64 / records)
        )),
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
        .filter(|report| !report.is_skipped())
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

/// A record the page shows as evidence: the sentence that explains it and the strings of the
/// record to mark ([`Flag::marks`](crate::Flag::marks), fused or of one flag).
struct Shown<'a> {
    index: usize,
    why: String,
    marks: &'a [String],
}

/// The column the records are shown by, chosen as the scan chose the column trigger search reads.
fn payload<'a>(schema: &'a Schema, records: &[Record]) -> Payload<'a> {
    if let Some(column) = schema.image_column() {
        return Payload::Image(&column.name);
    }
    if records
        .first()
        .and_then(InstructionPair::from_record)
        .is_some()
    {
        return Payload::Instruction;
    }
    schema
        .text_column()
        .map_or(Payload::Other, |column| Payload::Text(&column.name))
}

/// The scan and the data, with what every section needs.
struct View<'a> {
    result: &'a Scan,
    records: &'a [Record],
    payload: Payload<'a>,
    /// Whether any detector flagged the record.
    flagged: Vec<bool>,
    /// The confirmed triggers, whose patterns are marked in every text shown.
    triggers: Vec<&'a Trigger>,
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
        let mut triggers: Vec<(&DetectorReport, &DiscoveredTrigger)> = self
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

    fn trigger_card(&self, report: &DetectorReport, trigger: &DiscoveredTrigger) -> Card {
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
        let mark = trigger.pattern.text();
        let name = trigger.pattern.describe();
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
    fn trigger_pictures(
        &self,
        report: &DetectorReport,
        trigger: &DiscoveredTrigger,
    ) -> Vec<Picture> {
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
            Trigger::ImagePatch {
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
            Trigger::ImageBlend {
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
    /// The flagged records of both tiers, quarantine first.
    fn findings_sections(&self) -> Vec<Section> {
        [Tier::Quarantine, Tier::Review]
            .into_iter()
            .filter_map(|tier| self.tier_section(tier))
            .collect()
    }

    fn tier_section(&self, tier: Tier) -> Option<Section> {
        let members: Vec<&FusedRecord> = self
            .result
            .fused
            .iter()
            .filter(|fused| fused.tier == tier)
            .collect();
        if members.is_empty() {
            return None;
        }
        let shown: Vec<Shown<'_>> = members
            .iter()
            .take(SHOWN)
            .map(|fused| Shown {
                index: fused.index,
                why: why(fused),
                marks: &fused.marks,
            })
            .collect();
        let mut blocks = Vec::new();
        let (title, about, heading) = match tier {
            Tier::Quarantine => (
                format!("Quarantine: {}", count(members.len(), "record")),
                "Records with evidence of poisoning: a confirmed trigger, a backdoor cluster, a distrusted source, instruction poisoning, an exact copy in a duplicate flood, or a label issue where label issues are concentrated beyond what natural noise explains (a class pair one way, a source, a stretch of the records). Each says why. Keep them out of training.",
                "Quarantined records",
            ),
            Tier::Review => (
                format!("Review: {}", count(members.len(), "record")),
                "Records a detector flagged that look like the noise every real dataset has: isolated label issues, outliers, near duplicates. Worth a look; they never fail the scan on their own.",
                "Records for review",
            ),
        };
        if tier == Tier::Quarantine {
            blocks.extend(
                self.result
                    .verdict
                    .concentrations
                    .iter()
                    .map(|concentration| Block::paragraph(sentence(&concentration.explanation))),
            );
        }
        blocks.extend(self.evidence(&shown, heading, None));
        if tier == Tier::Review {
            blocks.extend(self.flagged_per_class_bars());
        }
        blocks.push(Block::Details(Details {
            summary: table_summary(members.len()),
            blocks: vec![Block::Table(self.findings_table(&members, tier))],
        }));
        Some(Section {
            title,
            about: about.to_owned(),
            blocks,
        })
    }

    fn findings_table(&self, members: &[&FusedRecord], tier: Tier) -> Table {
        let rows = members
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
                    Cell::text(
                        fused
                            .reason
                            .clone()
                            .or_else(|| fused.evidence.first().cloned())
                            .unwrap_or_default(),
                    ),
                ]
            })
            .collect();
        Table {
            caption: Some(format!(
                "{} of {} records in {}, highest score first",
                members.len().min(LISTED),
                members.len(),
                tier.name()
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
        let shown: Vec<Shown<'_>> = flags
            .iter()
            .take(SHOWN)
            .map(|flag| Shown {
                index: flag.index,
                why: flag.evidence.clone(),
                marks: &flag.marks,
            })
            .collect();
        let repeated = !matches!(self.payload, Payload::Other)
            && !shown.is_empty()
            && shown
                .iter()
                .all(|shown| self.shown_first.contains(&shown.index));
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
        Section {
            title: explanation_of(report.detector).name().to_owned(),
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
    /// show it).
    fn evidence(
        &self,
        shown: &[Shown<'_>],
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
        shown: &[Shown<'_>],
        column: &str,
        title: &str,
        report: Option<&DetectorReport>,
    ) -> Option<Block> {
        let mut rows: Vec<(Option<usize>, Vec<Picture>)> = Vec::new();
        for Shown { index, why, .. } in shown {
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

    fn text_excerpts(&self, shown: &[Shown<'_>], column: &str, title: &str) -> Block {
        let items = shown
            .iter()
            .map(|Shown { index, why, .. }| {
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

    fn instruction_excerpts(&self, shown: &[Shown<'_>], title: &str) -> Block {
        let items = shown
            .iter()
            .map(
                |Shown {
                     index,
                     why,
                     marks: quoted,
                 }| {
                    let record = &self.records[*index];
                    let pair = InstructionPair::from_record(record)
                        .unwrap_or_else(|| InstructionPair::new("", ""));
                    let passage = |text: &str| {
                        let marks = marks(text, &self.triggers, quoted);
                        window(text, marks, EXCERPT)
                    };
                    Excerpt {
                        heading: self.record_heading(*index),
                        note: Some(why.clone()),
                        emphasis: Some(Emphasis::Bad),
                        passages: vec![passage(&pair.instruction), passage(&pair.output)],
                    }
                },
            )
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
                        .map(|pattern| pattern.describe())
                        .collect::<Vec<_>>()
                )
            )
        }
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

    fn flag_table(&self, report: &DetectorReport, flags: &[&Flag]) -> Option<Block> {
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
        let share = |source: &SourceVerdict| source.flagged as f64 / source.records.max(1) as f64;
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

/// What the detector looks for, from its explanation, as a sentence.
fn about(detector: DetectorId) -> String {
    let what = explanation_of(detector).what;
    let mut characters = what.chars();
    characters.next().map_or_else(String::new, |first| {
        format!("Looks for {}{}", first.to_lowercase(), characters.as_str())
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
            Trigger::Phrase {
                words: vec!["blue".to_owned(), "moon".to_owned()]
            }
            .describe(),
            "the phrase `blue moon`"
        );
    }
}
