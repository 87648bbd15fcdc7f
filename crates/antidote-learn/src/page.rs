//! The training report's view model: a training run as an `antidote_report` document, in the
//! style of the scan and gate reports: the verdict (the training watch's findings) first, then
//! the privacy spent, then the curves the watch read (the loss of each class, the overall loss,
//! the gradient norms before and after clipping) and the privacy parameters.

use antidote_core::display::{count, percent};
use antidote_report::{
    Block, Cell, Emphasis, Line, LineChart, Metric, Provenance, Report, Section, Table, Verdict,
};

use crate::TrainingRecord;
use crate::watch::{TrainingFinding, TrainingFindingKind};

/// What the page shows.
#[derive(Debug)]
pub struct PageInput<'a> {
    /// The model's kind, such as `logistic` or `mlp`.
    pub model: &'a str,
    /// The training data as the user named it.
    pub data: &'a str,
    /// What training did and spent.
    pub record: &'a TrainingRecord,
    /// The class names, by index.
    pub labels: &'a [String],
    /// What the training watch reported.
    pub findings: &'a [TrainingFinding],
    /// The accuracy on the held-out records, if any were held out.
    pub held_out_accuracy: Option<f64>,
}

/// The training report.
#[must_use]
pub fn document(input: &PageInput<'_>, provenance: Provenance) -> Report {
    let record = input.record;
    let mut metrics = Vec::new();
    match (record.epsilon, record.delta) {
        (Some(epsilon), Some(delta)) => {
            metrics.push(
                Metric::new("Epsilon", format!("{epsilon:.3}")).with_detail(format!(
                    "at delta {delta:e}, {} accountant",
                    record.accountant.to_uppercase()
                )),
            );
        }
        _ => metrics.push(
            Metric::new("Privacy", "none")
                .with_detail("trained without `--dp`")
                .with_emphasis(Some(Emphasis::Warn)),
        ),
    }
    metrics.push(
        Metric::new("Steps", record.steps.to_string()).with_detail(format!(
            "{} epochs, batches of {} expected",
            record.epochs, record.batch_size
        )),
    );
    if let Some(norm) = record.max_grad_norm {
        let clipped = record
            .epochs_watched
            .last()
            .map_or(0.0, |last| last.clipped_share);
        metrics.push(
            Metric::new("Clipping norm", format!("{norm}")).with_detail(format!(
                "{} of records clipped in the last epoch",
                percent(clipped)
            )),
        );
    }
    if let Some(accuracy) = input.held_out_accuracy {
        metrics.push(Metric::new("Held-out accuracy", percent(accuracy)));
    }
    metrics.push(
        Metric::new("Watch", count(input.findings.len(), "finding"))
            .with_emphasis((!input.findings.is_empty()).then_some(Emphasis::Bad)),
    );

    let sections = vec![
        watch_section(input),
        curves_section(input),
        privacy_section(record),
    ];
    let headline = if input.findings.is_empty() {
        "No finding: the loss and gradient curves look ordinary".to_owned()
    } else {
        let kinds: Vec<&str> = input
            .findings
            .iter()
            .map(|finding| kind_name(finding.kind))
            .collect();
        format!(
            "Review before release: {} ({})",
            count(input.findings.len(), "training finding"),
            kinds.join(", ")
        )
    };
    Report {
        title: "antidote train".to_owned(),
        subtitle: Some(format!(
            "`{}` on `{}` ({} in training, {})",
            input.model,
            input.data,
            count(record.records, "record"),
            count(input.labels.len(), "class")
        )),
        verdict: Verdict {
            passed: input.findings.is_empty(),
            headline,
        },
        metrics,
        sections,
        provenance,
    }
}

fn kind_name(kind: TrainingFindingKind) -> &'static str {
    match kind {
        TrainingFindingKind::LossSpike => "loss spike",
        TrainingFindingKind::FastClass => "fast class",
    }
}

fn watch_section(input: &PageInput<'_>) -> Section {
    let blocks = if input.findings.is_empty() {
        vec![Block::paragraph(
            "No loss spike and no class whose loss collapsed far ahead of the others.",
        )]
    } else {
        vec![Block::Table(Table {
            caption: None,
            headers: vec![
                "finding".to_owned(),
                "score".to_owned(),
                "what was seen".to_owned(),
                "why it matters".to_owned(),
            ],
            rows: input
                .findings
                .iter()
                .map(|finding| {
                    vec![
                        Cell::text(kind_name(finding.kind)).with_emphasis(Some(Emphasis::Bad)),
                        Cell::number(format!("{:.1}", finding.score)),
                        Cell::text(&finding.message),
                        Cell::text(&finding.explanation),
                    ]
                })
                .collect(),
        })]
    };
    Section {
        title: "Training watch".to_owned(),
        about: "The watch reads the curves below: an epoch whose loss rises far more than the run's epoch-to-epoch changes (a loss spike), and a class whose loss falls far faster than the others' (a backdoor's target class can, as its trigger is simpler than any natural feature). Some natural classes are simply easier; a finding asks for a look, not a verdict.".to_owned(),
        blocks,
    }
}

/// A curve of `values` over the epochs, numbered from 1.
fn curve(name: &str, values: impl Iterator<Item = Option<f64>>, emphasised: bool) -> Line {
    Line {
        name: name.to_owned(),
        points: values
            .enumerate()
            .filter_map(|(epoch, value)| value.map(|value| ((epoch + 1) as f64, value)))
            .collect(),
        emphasised,
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one chart per watched curve, each with its caption, in the order the page shows them"
)]
fn curves_section(input: &PageInput<'_>) -> Section {
    let epochs = &input.record.epochs_watched;
    let fast: Vec<usize> = input
        .findings
        .iter()
        .filter(|finding| finding.kind == TrainingFindingKind::FastClass)
        .filter_map(|finding| finding.class)
        .collect();
    let class_curves = |per_class: &dyn Fn(usize, usize) -> Option<f64>| -> Vec<Line> {
        input
            .labels
            .iter()
            .enumerate()
            .map(|(class, name)| {
                curve(
                    name,
                    (0..epochs.len()).map(|epoch| per_class(epoch, class)),
                    fast.contains(&class),
                )
            })
            .collect()
    };
    let spikes: Vec<String> = input
        .findings
        .iter()
        .filter(|finding| finding.kind == TrainingFindingKind::LossSpike)
        .filter_map(|finding| finding.epoch.map(|epoch| (epoch + 1).to_string()))
        .collect();
    let mut blocks = vec![
        Block::Lines(LineChart {
            title: "Loss per class".to_owned(),
            caption: Some(if fast.is_empty() {
                "mean cross-entropy of each class's sampled records, epoch by epoch".to_owned()
            } else {
                "mean cross-entropy of each class's sampled records; the heavy red curve is the class the watch reported".to_owned()
            }),
            x_label: "epoch".to_owned(),
            y_label: "loss".to_owned(),
            lines: class_curves(&|epoch, class| {
                epochs[epoch].class_losses.get(class).copied().flatten()
            }),
        }),
        Block::Lines(LineChart {
            title: "Training loss".to_owned(),
            caption: Some(if spikes.is_empty() {
                "mean cross-entropy over the epoch's batches".to_owned()
            } else {
                format!("spike reported in epoch {}", spikes.join(", "))
            }),
            x_label: "epoch".to_owned(),
            y_label: "loss".to_owned(),
            lines: vec![curve(
                "all classes",
                epochs.iter().map(|stats| Some(stats.loss)),
                !spikes.is_empty(),
            )],
        }),
    ];
    let mut norms = vec![curve(
        "before clipping",
        epochs.iter().map(|stats| Some(stats.mean_gradient_norm)),
        false,
    )];
    if let Some(norm) = input.record.max_grad_norm {
        norms.push(curve(
            "after clipping",
            epochs.iter().map(|stats| Some(stats.mean_clipped_norm)),
            false,
        ));
        norms.push(curve(
            "clipping norm",
            epochs.iter().map(|_| Some(norm)),
            false,
        ));
    }
    blocks.push(Block::Lines(LineChart {
        title: "Gradient norm".to_owned(),
        caption: Some("mean L2 norm of the records' gradients".to_owned()),
        x_label: "epoch".to_owned(),
        y_label: "gradient norm".to_owned(),
        lines: norms,
    }));
    if epochs
        .iter()
        .any(|stats| !stats.class_gradient_norms.is_empty())
    {
        blocks.push(Block::Lines(LineChart {
            title: "Gradient norm per class".to_owned(),
            caption: Some("mean gradient norm before clipping of each class's records".to_owned()),
            x_label: "epoch".to_owned(),
            y_label: "gradient norm".to_owned(),
            lines: class_curves(&|epoch, class| {
                epochs[epoch]
                    .class_gradient_norms
                    .get(class)
                    .copied()
                    .flatten()
            }),
        }));
    }
    Section {
        title: "Curves".to_owned(),
        about: "What the watch read, one point per epoch: each class's loss, the loss over all classes, and the gradient norms (before and after clipping, against the clipping norm, under `--dp`).".to_owned(),
        blocks,
    }
}

fn privacy_section(record: &TrainingRecord) -> Section {
    let optional = |value: Option<f64>, format: &dyn Fn(f64) -> String| {
        value.map_or_else(|| "none".to_owned(), format)
    };
    let rows = vec![
        ("epsilon", optional(record.epsilon, &|v| format!("{v:.4}"))),
        ("delta", optional(record.delta, &|v| format!("{v:e}"))),
        ("accountant", record.accountant.to_uppercase()),
        (
            "noise multiplier",
            optional(record.noise_multiplier, &|v| format!("{v:.4}")),
        ),
        (
            "clipping norm",
            optional(record.max_grad_norm, &|v| format!("{v}")),
        ),
        ("sampling rate", format!("{:.6}", record.sampling_rate)),
        ("steps", record.steps.to_string()),
        ("epochs", record.epochs.to_string()),
        ("expected batch size", record.batch_size.to_string()),
        ("learning rate", format!("{}", record.learning_rate)),
        ("training records", record.records.to_string()),
        ("seed", record.seed.to_string()),
    ];
    Section {
        title: "Privacy and training parameters".to_owned(),
        about: "DP-SGD clips every record's gradient to the clipping norm and adds Gaussian noise of the noise multiplier times that norm; each record joins a step's batch with the sampling rate. The accountant turns these into the (epsilon, delta) guarantee: how much any one record, poisoned or not, can move the model.".to_owned(),
        blocks: vec![Block::Table(Table {
            caption: None,
            headers: vec!["parameter".to_owned(), "value".to_owned()],
            rows: rows
                .into_iter()
                .map(|(name, value)| vec![Cell::text(name), Cell::number(value)])
                .collect(),
        })],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EpochStats, Privacy};

    fn record(epochs: usize) -> TrainingRecord {
        TrainingRecord {
            privacy: Privacy::NoiseMultiplier(1.0),
            epsilon: Some(2.5),
            delta: Some(1e-5),
            noise_multiplier: Some(1.0),
            max_grad_norm: Some(1.0),
            accountant: "prv".to_owned(),
            sampling_rate: 0.01,
            steps: 100 * epochs as u64,
            epochs,
            batch_size: 64,
            learning_rate: 0.5,
            momentum: 0.9,
            seed: 0,
            records: 6_400,
            epochs_watched: (0..epochs)
                .map(|epoch| EpochStats {
                    epoch,
                    records: 6_400,
                    loss: 2.0 / (epoch + 1) as f64,
                    mean_gradient_norm: 3.0,
                    mean_clipped_norm: 1.0,
                    clipped_share: 0.9,
                    class_losses: vec![Some(2.0), Some(1.0 / (epoch + 1) as f64), None],
                    class_gradient_norms: vec![Some(3.0); 3],
                })
                .collect(),
            seconds: 1.0,
        }
    }

    #[test]
    fn one_curve_per_class_and_the_finding_shown() {
        let labels = vec!["shirt".to_owned(), "sneaker".to_owned(), "bag".to_owned()];
        let record = record(6);
        let findings = vec![TrainingFinding {
            kind: TrainingFindingKind::FastClass,
            epoch: None,
            class: Some(1),
            score: -6.2,
            message: "class `sneaker` learned far faster".to_owned(),
            explanation: "a backdoor's target".to_owned(),
        }];
        let report = document(
            &PageInput {
                model: "mlp",
                data: "data.csv",
                record: &record,
                labels: &labels,
                findings: &findings,
                held_out_accuracy: Some(0.8),
            },
            Provenance {
                command: "antidote train".to_owned(),
                version: "antidote 0".to_owned(),
                inputs: Vec::new(),
                generated: "2026-01-01T00:00:00Z".to_owned(),
            },
        );
        assert!(!report.verdict.passed);
        let Block::Lines(chart) = &report.sections[1].blocks[0] else {
            panic!("the loss chart comes first");
        };
        assert_eq!(chart.lines.len(), 3);
        assert!(chart.lines[1].emphasised && !chart.lines[0].emphasised);
        assert_eq!(chart.lines[2].points.len(), 0, "never sampled");
        assert_eq!(chart.lines[0].points.len(), 6);
        let html = antidote_report::render_html(&report);
        assert!(
            html.contains("class `sneaker` learned far faster")
                || html.contains("sneaker</code> learned far faster")
        );
        assert!(html.contains("FAILED"));
    }
}
