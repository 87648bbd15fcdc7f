//! `antidote drill`: poison a copy, run every defense layer on it, score what each caught.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use antidote_core::display::{percent, percent_tenths, plural};
use antidote_detect::scan::ScanOptions;
use antidote_drill::{
    Control, Data, DrillDataset, DrillOptions, DrillReport, LayerKind, Outcome, Plan, Score,
    SkippedExercise, control, embedded_plans, plan_for, split_held_out,
};
use antidote_provenance::lock::AtomicFile;
use antidote_redteam::{AttackKind, AttackOptions};
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::DrillArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Runs the drill.
pub fn drill(
    args: &DrillArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let config = &settings.config;
    let attacks = parse_attacks(&args.attack)?;
    for &rate in &args.rate {
        if !(rate > 0.0 && rate < 1.0) {
            return Err(UserError::new(
                format!("the rate {rate} is not a share of the dataset"),
                "give rates between 0 and 1, e.g. `--rate 0.005,0.01,0.05`",
            )
            .into());
        }
    }
    let plans = plans(args, &attacks)?;
    let options = DrillOptions {
        seed: args.seed,
        scan: ScanOptions {
            seed: args.seed,
            policy: config.scan.clone(),
            ..ScanOptions::default()
        },
        thresholds: config.check.clone(),
        train: args.train,
        ..DrillOptions::default()
    };

    let Results {
        controls,
        outcomes,
        skipped,
    } = exercise_all(&plans, args, &options, printer)?;
    if outcomes.is_empty() {
        return Err(UserError::new(
            "no exercise could run on this data",
            "choose attacks that fit it with `--attack` (images: badnets, blend; text: rare-token, phrase; instruction pairs: instruction-leak; any labelled data: label-flip-uniform, silent-update)",
        )
        .into());
    }

    let report = DrillReport {
        antidote: env!("CARGO_PKG_VERSION").to_owned(),
        seed: args.seed,
        train: args.train,
        datasets: plans.iter().map(DrillDataset::from).collect(),
        controls,
        exercises: outcomes,
        skipped,
        seconds: started.elapsed().as_secs_f64(),
    };
    let document = report.to_json()?;
    let path = write_document(&args.out, "drill.json", &document)?;

    record(
        settings,
        printer,
        "drill",
        &plans
            .iter()
            .map(|plan| plan.data.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        "ok",
        json!({
            "exercises": report.exercises.len(),
            "seed": args.seed,
            "seconds": report.seconds,
        }),
    );
    if printer.json {
        printer.out_json(&document)?;
    } else {
        print_totals(&report, printer);
        printer.note(&format!("wrote `{}`", path.display()));
    }
    Ok(ExitStatus::Success)
}

/// What the exercises measured, and those that could not run.
struct Results {
    controls: Vec<Control>,
    outcomes: Vec<Outcome>,
    skipped: Vec<SkippedExercise>,
}

/// Runs every plan's control and exercises, printing each as it finishes.
fn exercise_all(
    plans: &[Plan],
    args: &DrillArgs,
    options: &DrillOptions,
    printer: Printer,
) -> anyhow::Result<Results> {
    let total: usize = plans.iter().map(|plan| plan.exercises.len()).sum();
    printer.note(&format!(
        "drill: {} on {} (seed {})",
        plural(total as u64, "exercise"),
        plural(plans.len() as u64, "dataset"),
        args.seed
    ));
    let progress = printer.progress();
    let mut controls = Vec::new();
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    for plan in plans {
        let (data, held_out) = if args.train {
            let (data, held_out) = split_held_out(&plan.data, options.held_out, args.seed);
            (data, Some(held_out))
        } else {
            (plan.data.clone(), None)
        };
        printer.note(&format!(
            "{}: scanning the clean data ({} records)",
            data.name,
            data.dataset.records.len()
        ));
        let clean = control(&data, options, progress.as_ref())
            .with_context(|| format!("the scan of the clean `{}` failed", data.name))?;
        if !printer.json {
            print_control(&clean, printer);
        }
        controls.push(clean);
        for &exercise in &plan.exercises {
            printer.note(&format!(
                "{}: {} at {}",
                data.name,
                exercise.attack,
                percent(exercise.rate)
            ));
            let attack = exercise
                .attack
                .build(&AttackOptions {
                    rate: Some(exercise.rate),
                    ..AttackOptions::default()
                })
                .map_err(|error| {
                    UserError::new(error.to_string(), "see `antidote poison --help`")
                })?;
            match antidote_drill::run(
                &data,
                held_out.as_ref(),
                exercise,
                attack.as_ref(),
                options,
                progress.as_ref(),
            ) {
                Ok(outcome) => {
                    if !printer.json {
                        print_outcome(&outcome, printer);
                    }
                    outcomes.push(outcome);
                }
                Err(antidote_drill::DrillError::Attack { source, .. }) => {
                    let reason = source.to_string();
                    printer.warn(&format!(
                        "{} at {} cannot run on `{}`: {reason}",
                        exercise.attack,
                        percent(exercise.rate),
                        data.name
                    ));
                    skipped.push(SkippedExercise {
                        dataset: data.name.clone(),
                        exercise,
                        reason,
                    });
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(Results {
        controls,
        outcomes,
        skipped,
    })
}

fn parse_attacks(names: &[String]) -> anyhow::Result<Vec<AttackKind>> {
    names
        .iter()
        .map(|name| {
            name.trim().parse::<AttackKind>().map_err(|error| {
                UserError::new(
                    error.to_string(),
                    "see `antidote poison --help` for the attacks",
                )
                .into()
            })
        })
        .collect()
}

fn plans(args: &DrillArgs, attacks: &[AttackKind]) -> anyhow::Result<Vec<Plan>> {
    if let Some(path) = &args.data {
        let data = Data::open(path, &args.dataset.read_options())
            .with_context(|| format!("failed to read the dataset `{}`", path.display()))?;
        return Ok(vec![plan_for(data, attacks, &args.rate)]);
    }
    let plans =
        embedded_plans(attacks, &args.rate).context("failed to read an embedded dataset")?;
    if plans.is_empty() {
        return Err(UserError::new(
            "none of the embedded datasets fits these attacks",
            "give your own data with `--dataset DATA`",
        )
        .into());
    }
    Ok(plans)
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.3}"))
}

fn print_control(control: &Control, printer: Printer) {
    let verdict = if control.train {
        printer.style("train", Style::Good)
    } else {
        printer.style("do not train", Style::Bad)
    };
    printer.out(&format!(
        "{} ({} records), clean: scan flags {}, quarantines {}, leaves {} for review, verdict {verdict}{}",
        printer.style(&control.dataset, Style::Bold),
        control.records,
        control.flagged,
        control.quarantined,
        control.review,
        control
            .reasons
            .first()
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default()
    ));
}

fn score_cells(score: Option<&Score>) -> String {
    match score {
        Some(score) => format!(
            "{:>9}  {:>6}  {:>5}  {:>7}",
            ratio(score.precision),
            ratio(score.recall),
            ratio(score.f1),
            score.flagged()
        ),
        None => format!("{:>9}  {:>6}  {:>5}  {:>7}", "-", "-", "-", "-"),
    }
}

fn print_outcome(outcome: &Outcome, printer: Printer) {
    printer.out(&format!(
        "\n  {} at {}: {}",
        printer.style(outcome.exercise.attack.name(), Style::Bold),
        percent(outcome.exercise.rate),
        outcome.attack_summary
    ));
    printer.out(&format!(
        "    {:<23} {:<5}  {:>9}  {:>6}  {:>5}  {:>7}  {:>7}",
        "layer", "alarm", "precision", "recall", "F1", "flagged", "seconds"
    ));
    for layer in &outcome.layers {
        let alarm = if layer.alarm {
            printer.style("yes  ", Style::Good)
        } else {
            printer.style("no   ", Style::Warn)
        };
        printer.out(&format!(
            "    {:<23} {alarm}  {}  {:>7.2}",
            layer.layer.name(),
            score_cells(layer.score.as_ref()),
            layer.seconds
        ));
        if layer.layer == LayerKind::Scan {
            for detector in &outcome.detectors {
                printer.out(&format!(
                    "      {:<21} {:<5}  {}",
                    detector.detector.name(),
                    "",
                    score_cells(Some(&detector.score))
                ));
            }
        }
    }
    if let Some(layer) = outcome.layer(LayerKind::Check) {
        printer.out(&format!("    check {}", layer.summary));
    }
    if let Some(layer) = outcome.layer(LayerKind::Scan) {
        printer.out(&format!("    scan verdict: {}", layer.summary));
    }
    if let Some(trigger) = &outcome.trigger {
        let found = match &trigger.found {
            Some(found) => printer.style(&format!("named: {found}"), Style::Good),
            None => printer.style("not named", Style::Warn),
        };
        printer.out(&format!(
            "    trigger planted: {}; {found}",
            trigger.planted
        ));
    }
    if let Some(training) = &outcome.training {
        let asr = |value: Option<f64>| {
            value.map_or_else(String::new, |value| {
                format!(", attack success {}", percent_tenths(value))
            })
        };
        printer.out(&format!(
            "    model on {} held-out clean records, trained on the poisoned data: accuracy {}{}",
            training.held_out,
            percent_tenths(training.clean_accuracy),
            asr(training.attack_success),
        ));
        printer.out(&format!(
            "      without the {} quarantined: accuracy {}{}",
            training.removed,
            percent_tenths(training.clean_accuracy_after),
            asr(training.attack_success_after),
        ));
        printer.out(&format!(
            "      on the data before the attack: accuracy {}{}",
            percent_tenths(training.clean_model_accuracy),
            asr(training.clean_model_attack_success),
        ));
    }
}

fn print_totals(report: &DrillReport, printer: Printer) {
    let totals = report.totals();
    printer.out(&format!(
        "\n{} in {:.0}s: diff raised the alarm on {}, check on {}, scan on {}; scan named {} of {} planted triggers, quarantined {} and flagged {} of {} poisoned records",
        plural(totals.exercises as u64, "exercise"),
        report.seconds,
        totals.diff_alarms,
        totals.check_alarms,
        totals.scan_alarms,
        totals.triggers_named,
        totals.triggers_planted,
        totals.poisoned_quarantined,
        totals.poisoned_flagged,
        totals.poisoned,
    ));
}

/// Writes a drill's JSON document as `name` in `folder` (created if missing), atomically, and
/// returns its path.
pub(crate) fn write_document(
    folder: &Path,
    name: &str,
    document: &serde_json::Value,
) -> anyhow::Result<PathBuf> {
    fs_err::create_dir_all(folder)?;
    let path = folder.join(name);
    let mut file = AtomicFile::create(&path)?;
    serde_json::to_writer_pretty(&mut file.writer, document)?;
    file.writer.write_all(b"\n")?;
    file.commit()
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(path)
}
