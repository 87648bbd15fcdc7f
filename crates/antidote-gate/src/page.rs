//! The gate report's view model: a [`GateReport`] as an `antidote_report` document, in the
//! style of the scan report: the verdict first, then accuracy per class, each trigger's attack
//! success with stamped examples, canaries and the shadow replay.

use std::collections::HashMap;

use antidote_core::Trigger;
use antidote_core::display::{count, percent};
use antidote_data::{Record, Value};
use antidote_report::{
    BarItem, Bars, Block, Card, Cell, Emphasis, Excerpt, Excerpts, Fact, Metric, Passage, Picture,
    Provenance, Report, Section, Span, Table, Verdict,
};

use crate::triggers::stamp;
use crate::{GateReport, GateTrigger, TriggerCheck};

/// The longest side of a thumbnail.
const THUMBNAIL_SIDE: u32 = 64;

/// Stamped examples shown per trigger.
const EXAMPLES: usize = 6;

/// What the page shows beside the decision.
#[derive(Debug)]
pub struct PageInput<'a> {
    /// The decision.
    pub report: &'a GateReport,
    /// The golden records, for the stamped examples.
    pub golden: &'a [Record],
    /// The payload field triggers were stamped on.
    pub payload: Option<&'a str>,
    /// The triggers as given, in the order of `report.triggers` (a blend's pattern is only
    /// here).
    pub triggers: &'a [GateTrigger],
}

/// The gate report.
#[must_use]
pub fn document(input: &PageInput<'_>, provenance: Provenance) -> Report {
    let report = input.report;
    let mut sections = vec![accuracy_section(report)];
    if !report.triggers.is_empty() {
        sections.push(triggers_section(input));
    }
    if let Some(canaries) = &report.canaries {
        sections.push(Section {
            title: "Canaries".to_owned(),
            about: "Inputs whose output is fixed. Any change fails the gate: a canary that moves is a behaviour the release was not meant to change.".to_owned(),
            blocks: vec![Block::Table(Table {
                caption: Some(format!(
                    "{} of {} canaries changed",
                    canaries.changed, canaries.canaries
                )),
                headers: vec!["canary".into(), "required".into(), "answered".into(), String::new()],
                rows: canaries
                    .results
                    .iter()
                    .map(|result| {
                        vec![
                            Cell::code(&result.id),
                            Cell::code(&result.expected),
                            Cell::code(&result.predicted),
                            pass_cell(result.passed),
                        ]
                    })
                    .collect(),
            })],
        });
    }
    if let Some(shadow) = &report.shadow {
        sections.push(Section {
            title: "Shadow replay".to_owned(),
            about: format!(
                "{} recorded production inputs through the candidate and the serving model; they disagree on {} ({}). Production inputs carry no labels, so this informs the release and does not fail it.",
                shadow.records,
                shadow.disagreements,
                percent(shadow.share)
            ),
            blocks: vec![Block::Table(Table {
                caption: Some("by the class the serving model answered".to_owned()),
                headers: vec![
                    "serving class".into(),
                    "inputs".into(),
                    "candidate differs".into(),
                    "moved to".into(),
                ],
                rows: shadow
                    .classes
                    .iter()
                    .map(|class| {
                        vec![
                            Cell::code(&class.class),
                            Cell::number(class.records.to_string()),
                            Cell::number(format!(
                                "{} ({})",
                                class.disagreements,
                                percent(class.share)
                            )),
                            Cell::text(
                                class
                                    .moved_to
                                    .iter()
                                    .map(|(to, count)| format!("`{to}` {count}"))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            ),
                        ]
                    })
                    .collect(),
            })],
        });
    }
    Report {
        title: "antidote gate".to_owned(),
        subtitle: Some(format!(
            "`{}` on the golden set `{}` ({} records, {} classes)",
            report.model.location,
            report.golden.display(),
            report.accuracy.records,
            report.classes.len()
        )),
        verdict: Verdict {
            passed: report.passed(),
            headline: if report.passed() {
                "Ship: every check passed".to_owned()
            } else {
                format!("Do not ship: {}", report.reasons.join("; "))
            },
        },
        metrics: metrics(report),
        sections,
        provenance,
    }
}

fn bad(failed: bool) -> Option<Emphasis> {
    failed.then_some(Emphasis::Bad)
}

fn pass_cell(passed: bool) -> Cell {
    Cell::text(if passed { "ok" } else { "CHANGED" }).with_emphasis(bad(!passed))
}

fn signed_points(delta: f64) -> String {
    format!("{:+.1} points", delta * 100.0)
}

fn metrics(report: &GateReport) -> Vec<Metric> {
    let accuracy = &report.accuracy;
    let mut metrics = vec![
        Metric::new("Golden accuracy", percent(accuracy.accuracy))
            .with_detail(match (accuracy.baseline, accuracy.delta, accuracy.paired) {
                (Some(baseline), Some(delta), Some(paired)) => format!(
                    "baseline {}, {} ({:.0}% interval {} to {})",
                    percent(baseline),
                    signed_points(delta),
                    paired.interval.confidence * 100.0,
                    signed_points(paired.interval.low),
                    signed_points(paired.interval.high)
                ),
                _ => "no baseline".to_owned(),
            })
            .with_emphasis(bad(accuracy.failed)),
    ];
    if let Some(worst) = report
        .triggers
        .iter()
        .filter(|check| check.skipped.is_none())
        .max_by(|a, b| a.attack_success.total_cmp(&b.attack_success))
    {
        metrics.push(
            Metric::new("Worst attack success", percent(worst.attack_success))
                .with_detail(format!(
                    "{} of {} triggers above {}",
                    report.triggers.iter().filter(|check| check.failed).count(),
                    report.triggers.len(),
                    percent(report.thresholds.max_attack_success)
                ))
                .with_emphasis(bad(worst.failed)),
        );
    }
    if let Some(canaries) = &report.canaries {
        metrics.push(
            Metric::new("Canaries changed", canaries.changed.to_string())
                .with_detail(format!("of {}", canaries.canaries))
                .with_emphasis(bad(canaries.failed)),
        );
    }
    metrics
}

/// What the accuracy section compares, and when it fails.
fn accuracy_about(report: &GateReport) -> String {
    let accuracy = &report.accuracy;
    let thresholds = &report.thresholds;
    let about = match accuracy.baseline {
        Some(_) => format!(
            "Accuracy on the golden set against the baseline `{}`, compared record by record: the records the candidate lost (the baseline got them right, the candidate wrong) against those it gained, with the {:.0}% confidence interval of the change (Newcombe's interval for paired proportions). The gate fails on evidence of a drop, not on a point estimate: when the whole interval lies below -{:.1} points overall, or below -{:.1} points for a class with at least {} golden records. A retrained model that trades errors with the baseline passes; one that loses what the baseline got right, beyond the tolerated drop and beyond what the golden set's size explains, fails. Smaller classes are shown and never fail.",
            report
                .baseline
                .as_ref()
                .map_or("", |baseline| baseline.location.as_str()),
            thresholds.confidence * 100.0,
            thresholds.max_accuracy_drop * 100.0,
            thresholds.max_class_accuracy_drop * 100.0,
            thresholds.min_class_records,
        ),
        None => "Accuracy on the golden set. Without `--baseline-model` nothing is compared, so accuracy cannot fail the gate.".to_owned(),
    };
    if report.retrains.is_empty() {
        about
    } else {
        format!(
            "{about} {} of the baseline (trained like it with other seeds) show how far retraining alone moves each class: where two of these models differ by more than the threshold, the tolerated drop is their largest difference (the `tolerated` column).",
            count(report.retrains.len(), "retrain")
        )
    }
}

fn accuracy_section(report: &GateReport) -> Section {
    let accuracy = &report.accuracy;
    let thresholds = &report.thresholds;
    let about = accuracy_about(report);
    let retrains = !report.retrains.is_empty();
    let mut blocks = vec![Block::Table(Table {
        caption: None,
        headers: vec![
            "class".into(),
            "records".into(),
            "candidate".into(),
            "baseline".into(),
            "change".into(),
            "lost / gained".into(),
            "interval of the change".into(),
        ]
        .into_iter()
        .chain(retrains.then(|| "tolerated".into()))
        .collect(),
        rows: accuracy
            .classes
            .iter()
            .map(|class| {
                vec![
                    Cell::code(&class.class),
                    Cell::number(format!(
                        "{}{}",
                        class.records,
                        if class.judged {
                            ""
                        } else {
                            " (too few to judge)"
                        }
                    )),
                    Cell::number(percent(class.accuracy)),
                    Cell::number(class.baseline.map_or_else(|| "-".to_owned(), percent)),
                    Cell::number(class.delta.map_or_else(|| "-".to_owned(), signed_points))
                        .with_emphasis(bad(class.failed)),
                    Cell::number(class.paired.map_or_else(
                        || "-".to_owned(),
                        |paired| format!("{} / {}", paired.lost, paired.gained),
                    )),
                    Cell::number(class.paired.map_or_else(
                        || "-".to_owned(),
                        |paired| {
                            format!(
                                "{} to {}",
                                signed_points(paired.interval.low),
                                signed_points(paired.interval.high)
                            )
                        },
                    ))
                    .with_emphasis(bad(class.failed)),
                ]
                .into_iter()
                .chain(retrains.then(|| {
                    Cell::number(format!(
                        "-{:.1} points",
                        class.tolerated(thresholds) * 100.0
                    ))
                }))
                .collect()
            })
            .collect(),
    })];
    if accuracy.baseline.is_some() {
        blocks.push(Block::Bars(Bars {
            title: "Accuracy per class".to_owned(),
            caption: None,
            series: vec!["baseline".to_owned(), "candidate".to_owned()],
            items: accuracy
                .classes
                .iter()
                .map(|class| BarItem {
                    label: class.class.clone(),
                    values: vec![class.baseline.unwrap_or(0.0), class.accuracy],
                })
                .collect(),
        }));
    }
    Section {
        title: "Golden-set accuracy".to_owned(),
        about,
        blocks,
    }
}

fn triggers_section(input: &PageInput<'_>) -> Section {
    let report = input.report;
    let by_id: HashMap<String, &Record> = input
        .golden
        .iter()
        .map(|record| (record.id.to_string(), record))
        .collect();
    let mut blocks = vec![Block::Table(Table {
        caption: None,
        headers: vec![
            "trigger".into(),
            "target".into(),
            "stamped".into(),
            "flipped".into(),
            "attack success".into(),
            format!("{:.0}% interval", report.thresholds.confidence * 100.0),
            "baseline".into(),
        ],
        rows: report
            .triggers
            .iter()
            .map(|check| {
                vec![
                    Cell::text(&check.description),
                    Cell::code(&check.target),
                    Cell::number(check.stamped.to_string()),
                    Cell::number(check.flipped.to_string()),
                    Cell::number(match &check.skipped {
                        Some(_) => "not measured".to_owned(),
                        None => percent(check.attack_success),
                    })
                    .with_emphasis(bad(check.failed)),
                    Cell::number(format!(
                        "{} to {}",
                        percent(check.interval.low),
                        percent(check.interval.high)
                    )),
                    Cell::number(
                        check
                            .baseline_attack_success
                            .map_or_else(|| "-".to_owned(), percent),
                    ),
                ]
            })
            .collect(),
    })];
    for (index, check) in report.triggers.iter().enumerate() {
        let pattern = stampable(check, input.triggers.get(index));
        let examples: Vec<&Record> = check
            .examples
            .iter()
            .filter_map(|example| by_id.get(&example.id).copied())
            .take(EXAMPLES)
            .collect();
        blocks.push(trigger_card(check));
        let (Some(field), Some(pattern)) = (input.payload, pattern) else {
            continue;
        };
        if let Some(block) = examples_block(check, &examples, field, pattern) {
            blocks.push(block);
        }
    }
    Section {
        title: "Trigger attack success".to_owned(),
        about: format!(
            "Each trigger is stamped on the golden inputs labelled outside its target that the candidate does not already put there; the attack success rate is the share the candidate then classifies as the target. The gate fails when the rate exceeds {}; it decides on the rate itself and shows its Wilson interval beside it.",
            percent(report.thresholds.max_attack_success)
        ),
        blocks,
    }
}

/// The pattern to draw examples with: the report's, unless it lost its pixels (a blend).
fn stampable<'t>(check: &'t TriggerCheck, given: Option<&'t GateTrigger>) -> Option<&'t Trigger> {
    match &check.trigger {
        Trigger::ImageBlend { pixels, .. } if pixels.is_empty() => {
            given.map(|trigger| &trigger.pattern)
        }
        pattern => Some(pattern),
    }
}

fn trigger_card(check: &TriggerCheck) -> Block {
    let mut facts = vec![
        Fact::new("target", format!("`{}`", check.target)),
        Fact::new(
            "attack success",
            format!(
                "{} ({} of {}), interval {} to {}",
                percent(check.attack_success),
                check.flipped,
                check.stamped,
                percent(check.interval.low),
                percent(check.interval.high)
            ),
        ),
        Fact::new(
            "source",
            match check.origin {
                crate::TriggerOrigin::ScanConfirmed => {
                    "discovered and confirmed by `antidote scan`"
                }
                crate::TriggerOrigin::Scan => "discovered by `antidote scan`",
                crate::TriggerOrigin::User => "listed with `--trigger`",
            },
        ),
    ];
    if let Some(baseline) = check.baseline_attack_success {
        facts.push(Fact::new("baseline", percent(baseline)));
    }
    let mut pictures = Vec::new();
    if let Trigger::ImagePatch {
        width,
        height,
        channels,
        pixels,
        ..
    } = &check.trigger
        && !pixels.is_empty()
        && matches!(channels, 1 | 3 | 4)
    {
        pictures.push(
            Picture::new(*width, *height, *channels as u8, pixels.clone())
                .fit(THUMBNAIL_SIDE)
                .with_caption("the patch as stamped"),
        );
    }
    Block::Card(Card {
        title: check.description.clone(),
        badge: Some(
            if check.skipped.is_some() {
                "NOT MEASURED"
            } else if check.failed {
                "FAILED"
            } else {
                "passed"
            }
            .to_owned(),
        ),
        emphasis: bad(check.failed),
        pictures,
        mark: check.trigger.text(),
        facts,
        text: check
            .skipped
            .clone()
            .or_else(|| check.note.clone())
            .or_else(|| {
                check.inconclusive.then(|| {
                    "The interval straddles the threshold: more golden inputs would settle it."
                        .to_owned()
                })
            }),
    })
}

/// The flipped examples: each golden image beside its stamped copy, or the stamped text with
/// the trigger marked.
fn examples_block(
    check: &TriggerCheck,
    examples: &[&Record],
    field: &str,
    pattern: &Trigger,
) -> Option<Block> {
    if examples.is_empty() {
        return None;
    }
    let stamped: Vec<(&Record, Value)> = examples
        .iter()
        .filter_map(|record| {
            let mut value = record.field(field)?.clone();
            stamp(pattern, &mut value).then_some((*record, value))
        })
        .collect();
    match stamped.first().map(|(_, value)| value) {
        Some(Value::Image(_)) => {
            let mut pictures = Vec::new();
            for (record, value) in &stamped {
                if let (Some(Value::Image(clean)), Value::Image(image)) =
                    (record.field(field), value)
                {
                    pictures.push(picture(clean).with_caption(format!(
                        "`{}`: `{}`",
                        record.id,
                        record.label.as_deref().unwrap_or("")
                    )));
                    pictures
                        .push(picture(image).with_caption(format!("stamped: `{}`", check.target)));
                }
            }
            Some(Block::Card(Card {
                title: format!("Flipped to `{}` by {}", check.target, check.description),
                badge: None,
                emphasis: None,
                pictures,
                mark: None,
                facts: Vec::new(),
                text: Some("Each golden image, then the same image with the trigger, which the candidate classifies as the target.".to_owned()),
            }))
        }
        Some(Value::Text(_)) => Some(Block::Excerpts(Excerpts {
            title: format!("Flipped to `{}` by {}", check.target, check.description),
            caption: None,
            columns: vec!["stamped input".to_owned()],
            items: stamped
                .iter()
                .filter_map(|(record, value)| {
                    let Value::Text(text) = value else {
                        return None;
                    };
                    Some(Excerpt {
                        heading: format!(
                            "`{}`: `{}` -> `{}`",
                            record.id,
                            record.label.as_deref().unwrap_or(""),
                            check.target
                        ),
                        note: None,
                        emphasis: None,
                        passages: vec![Passage {
                            text: text.clone(),
                            marks: appended_mark(text, pattern),
                        }],
                    })
                })
                .collect(),
        })),
        _ => None,
    }
}

fn picture(image: &antidote_data::Image) -> Picture {
    Picture::new(
        image.width,
        image.height,
        image.channels,
        image.pixels.clone(),
    )
    .fit(THUMBNAIL_SIDE)
}

/// Where the stamp put a text trigger: appended at the end (tokens, phrases).
fn appended_mark(text: &str, pattern: &Trigger) -> Vec<Span> {
    pattern
        .text()
        .filter(|trigger| !trigger.is_empty() && text.ends_with(trigger.as_str()))
        .map(|trigger| {
            vec![Span {
                start: text.len() - trigger.len(),
                end: text.len(),
            }]
        })
        .unwrap_or_default()
}
